// Command berth runs Docker in production: see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/berthhq/berth/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
