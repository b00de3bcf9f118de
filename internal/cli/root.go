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
	"runtime"
	"strings"

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
		fmt.Fprintf(stderr, "Error: %s\n", errorText(err))
	}
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitFailure
}

// errorText is err's message as the user reads it: without an "Error: "
// that a wrapped cause already carries, since Execute prints its own.
func errorText(err error) string {
	msg := strings.TrimSpace(err.Error())
	for strings.HasPrefix(msg, "Error: ") {
		msg = strings.TrimPrefix(msg, "Error: ")
	}
	return strings.ReplaceAll(msg, ": Error: ", ": ")
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
	root.SetFlagErrorFunc(flagError)
	pf := root.PersistentFlags()
	pf.StringVar(&g.storeDir, "store", "", "key store folder (default $HALLMARK_HOME, else <user config dir>/hallmark)")
	pf.StringVar(&g.passphraseFile, "passphrase-file", "", "file holding the key store passphrase (default $HALLMARK_PASSPHRASE; without either, a random store key kept in the store)")

	root.AddCommand(
		newKeyCmd(g),
		newSignCmd(g),
		newLsCmd(g),
		newInspectCmd(g),
		newVerifyCmd(g),
		newCertCmd(g),
		newPolicyCmd(g),
		newServeCmd(g),
		newAuditCmd(g),
		newDemoCmd(g),
		newConfigCmd(g),
		newLoginCmd(g),
		newLogoutCmd(g),
		newVersionCmd(g),
	)
	root.SetHelpCommand(newHelpCmd())
	// cobra would add completion at Execute, after the walk below.
	root.InitDefaultCompletionCmd()
	rejectUnknownSubcommands(root)
	return root
}

// notationFlags maps the flags of the notation CLI that hallmark spells
// differently to hallmark's, so that a notation user's habit gets a pointer
// instead of a bare "unknown flag".
var notationFlags = map[string]string{
	"--insecure-registry": "--plain-http",
	"--oci-layout":        "a registry reference (hallmark signs and verifies images in registries only)",
	"--scope":             "--trust-policy (the registryScopes of its statements)",
}

// flagError turns cobra's flag parsing errors (unknown flag, missing or
// invalid value) into one-line usage errors that name the command.
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: "); ok {
		if instead, ok := notationFlags[name]; ok {
			return usageError{fmt.Errorf("%s: unknown flag %s: hallmark's is %s", c.CommandPath(), name, instead)}
		}
	}
	return usageError{fmt.Errorf("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath())}
}

// rejectUnknownSubcommands makes every command that only groups others
// print its help when run bare, and fail with a usage error naming the
// closest subcommand when given one it does not have; cobra's default is to
// print the help and succeed, which hides a typo from scripts.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		return unknownCommand(c, args[0])
	}
}

// newHelpCmd is cobra's help command, except that a topic it does not know
// is a usage error (exit code 2) rather than the root's help and success.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || target == nil || len(rest) > 0 {
				parent := c.Root()
				if target != nil {
					parent = target
				}
				name := strings.Join(args, " ")
				if len(rest) > 0 {
					name = rest[0]
				}
				return unknownCommand(parent, name)
			}
			return target.Help()
		},
	}
}

// notationCommands maps notation CLI commands that hallmark names
// differently to hallmark's.
var notationCommands = map[string]string{
	"list":        "ls",
	"certificate": "cert",
	"plugin":      "sign --plugin",
}

func unknownCommand(c *cobra.Command, name string) error {
	hint := ""
	if instead, ok := notationCommands[name]; ok && c == c.Root() {
		hint = fmt.Sprintf(": hallmark's is '%s %s'", c.CommandPath(), instead)
	} else if s := c.SuggestionsFor(name); len(s) > 0 {
		hint = fmt.Sprintf(": did you mean '%s %s'?", c.CommandPath(), s[0])
	} else {
		hint = fmt.Sprintf(" (see '%s --help')", c.CommandPath())
	}
	return usageError{fmt.Errorf("%s: unknown command %q%s", c.CommandPath(), name, hint)}
}

// exactArgs is cobra.ExactArgs with a usage error that says what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s expects %s, got %d argument(s) (see '%s --help')", cmd.CommandPath(), what, len(args), cmd.CommandPath())}
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
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print hallmark's version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			v := versionInfo{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if output == "json" {
				return writeJSON(g.out, v)
			}
			_, err := fmt.Fprintf(g.out, "hallmark %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

// versionInfo is what `hallmark version -o json` prints.
type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}
