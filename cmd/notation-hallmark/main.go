// Command notation-hallmark is a notation plugin (name "hallmark",
// capability SIGNATURE_GENERATOR.RAW) that signs with keys held by hallmark:
// its local key store or a PKCS#11 token. Install it as
// {NOTATION_LIBEXEC}/plugins/hallmark/notation-hallmark, then
//
//	notation sign --plugin hallmark --id NAME IMAGE
//
// See docs/keyproviders.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hallmark-dev/hallmark/internal/cli"
	"github.com/hallmark-dev/hallmark/internal/notationplugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := notationplugin.Serve(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, &notationplugin.Hallmark{Version: cli.Version})
	stop()
	os.Exit(code)
}
