// Command buildfail is a build step that fails the way real ones do: it
// prints some output, then an error, and exits non-zero. e2e/build_test.go
// runs it from a Dockerfile's RUN to check what berth shows of a failed step.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("compiling assets")
	fmt.Fprintln(os.Stderr, "error: asset pipeline exploded (on purpose)")
	os.Exit(3)
}
