// Package cli is hallmark's command line: one file per command, each built by
// a newXCmd function over an options struct, writing only to the writers it is
// given so that tests run commands in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// Exit codes, documented in docs/cli.md.
const (
	// ExitOK: the command did what it was asked; for verify, every reference verified.
	ExitOK = 0
	// ExitFailure: the command failed, or a verification did not pass.
	ExitFailure = 1
	// ExitUsage: the command line was wrong (unknown flag, missing argument).
	ExitUsage = 2
)

// Version is hallmark's version, set at build time with
// -ldflags "-X github.com/hallmark-dev/hallmark/internal/cli.Version=...".
var Version = "0.1.0-dev"

// errSilent marks an error whose explanation the command already printed.
var errSilent = errors.New("")

// usageError marks a command-line mistake (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// streams are the command's input and outputs; commands never touch os.Std*.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	streams
	storeDir       string
	passphraseFile string
}

// Execute runs hallmark with args and returns the process exit code.
func Execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globalOptions{streams: streams{in: stdin, out: stdout, err: stderr}}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if !errors.Is(err, errSilent) {
		fmt.Fprintf(stderr, "Error: %v\n", err)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitFailure
}

func newRootCmd(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "hallmark",
		Short: "Sign container images with Notary Project signatures and verify them, from the command line to Kubernetes admission",
		Long: `hallmark signs container images with Notary Project signatures (COSE or JWS),
stores them next to the image in any OCI registry, and verifies them against a
Notary Project trust policy: on the command line, and at Kubernetes admission.

Keys never leave their key store: a local encrypted store by default.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		Version:           Version,
		DisableAutoGenTag: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage", err, c.CommandPath())}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.storeDir, "store", "", "key store folder (default $HALLMARK_HOME, else <user config dir>/hallmark)")
	pf.StringVar(&g.passphraseFile, "passphrase-file", "", "file holding the key store passphrase (default $HALLMARK_PASSPHRASE; without either, a random store key kept in the store)")

	root.AddCommand(
		newKeyCmd(g),
		newSignCmd(g),
		newLsCmd(g),
		newInspectCmd(g),
		newVerifyCmd(g),
		newServeCmd(g),
		newAuditCmd(g),
		newDemoCmd(g),
		newConfigCmd(g),
		newLoginCmd(g),
		newLogoutCmd(g),
		newVersionCmd(g),
	)
	return root
}

// exactArgs is cobra.ExactArgs with a usage error that says what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s expects %s (got %d argument(s))\nRun '%s --help' for usage", cmd.CommandPath(), what, len(args), cmd.CommandPath())}
		}
		return nil
	}
}

// storeDir resolves the key store folder: --store, then $HALLMARK_HOME, then
// the user config folder.
func (g *globalOptions) resolveStoreDir() (string, error) {
	if g.storeDir != "" {
		return g.storeDir, nil
	}
	if d := os.Getenv("HALLMARK_HOME"); d != "" {
		return d, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no key store folder: pass --store or set HALLMARK_HOME (%v)", err)
	}
	return filepath.Join(cfg, "hallmark"), nil
}

func newVersionCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print hallmark's version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(g.out, "hallmark %s\n", Version)
			return err
		},
	}
}
