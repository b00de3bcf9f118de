// Command hallmark signs container images with Notary Project signatures and
// verifies them, on the command line and at Kubernetes admission.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hallmark-dev/hallmark/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
