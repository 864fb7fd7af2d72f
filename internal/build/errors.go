package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthhq/berth/internal/config"
)

// Error is a service whose image could not be built or found: its compose
// position, the host, the failing step and its last output lines, and the
// fix. Nothing was deployed on any host.
type Error struct {
	Service string
	Source  config.Position
	Host    string
	Step    string
	Output  []string
	Err     error
	Fix     string
}

func (e *Error) Error() string {
	var b strings.Builder
	if pos := position(e.Source); pos != "" {
		b.WriteString(pos + ": ")
	}
	fmt.Fprintf(&b, "service %s: ", e.Service)
	switch {
	case e.Step != "":
		fmt.Fprintf(&b, "build failed on host %s at step %s: %v", e.Host, e.Step, e.Err)
	case e.Host != "":
		fmt.Fprintf(&b, "host %s: %v", e.Host, e.Err)
	default:
		fmt.Fprintf(&b, "%v", e.Err)
	}
	if len(e.Output) > 0 {
		fmt.Fprintf(&b, "\noutput of the failing step:\n  | %s", strings.Join(e.Output, "\n  | "))
	}
	if e.Fix != "" {
		fmt.Fprintf(&b, "\n(fix: %s)", e.Fix)
	}
	b.WriteString("\nnothing was deployed on any host")
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// position shows a compose position relative to the working directory
// when it lies below it, as the user would type it.
func position(p config.Position) string {
	if p.File == "" {
		return ""
	}
	file := p.File
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, "..") {
			file = rel
		}
	}
	if p.Line == 0 {
		return file
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Column)
}
