package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// WriteReference writes the Markdown CLI reference (docs/cli.md) from the
// command tree, so the documentation cannot drift from the flags: a test
// fails when docs/cli.md differs from what this writes.
func WriteReference(w io.Writer) error {
	root := newRootCmd(&globalOptions{})
	var b bytes.Buffer
	b.WriteString("# hallmark command reference\n\n")
	b.WriteString("Generated from the commands themselves (`go test ./internal/cli -run TestReference -update` rewrites it).\n\n")
	b.WriteString("## Exit codes\n\n")
	b.WriteString("| code | meaning |\n|---|---|\n")
	fmt.Fprintf(&b, "| %d | success; for `verify`, every reference verified |\n", ExitOK)
	fmt.Fprintf(&b, "| %d | failure, or a verification that did not pass |\n", ExitFailure)
	fmt.Fprintf(&b, "| %d | usage error: unknown command or subcommand, unknown flag, missing or invalid flag value, missing or extra argument; one line on standard error says which |\n\n", ExitUsage)
	b.WriteString("## Environment\n\n")
	b.WriteString("| variable | meaning |\n|---|---|\n")
	b.WriteString("| `HALLMARK_HOME` | key store folder (overridden by `--store`) |\n")
	b.WriteString("| `HALLMARK_PASSPHRASE` | key store passphrase (overridden by `--passphrase-file`) |\n")
	b.WriteString("| `HALLMARK_USERNAME`, `HALLMARK_PASSWORD` | registry credentials: what `hallmark login` stores, or credentials for one run of `sign`, `verify`, `ls` and `inspect` without login |\n")
	b.WriteString("| `DOCKER_CONFIG` | folder of the docker `config.json` holding registry credentials |\n")
	b.WriteString("| `HALLMARK_PKCS11_MODULE`, `HALLMARK_PKCS11_TOKEN` | PKCS#11 module path and token label where a `pkcs11:` URI leaves them out |\n")
	b.WriteString("| `HALLMARK_PKCS11_PIN`, `HALLMARK_PKCS11_PIN_FILE` | PKCS#11 user PIN, or a file holding it, where the URI has no `pin-value` or `pin-source` |\n")
	b.WriteString("| `NOTATION_LIBEXEC`, `NOTATION_CONFIG` | where `sign --plugin` looks for notation plugins (`$NOTATION_LIBEXEC/plugins`, else `$NOTATION_CONFIG/plugins`, else `<user config dir>/notation/plugins`); `NOTATION_CONFIG` is also where `verify` finds notation's trust policy and trust store when hallmark has none |\n\n")
	b.WriteString("## Global flags\n\nEvery command takes these.\n\n| flag | meaning |\n|---|---|\n")
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		fmt.Fprintf(&b, "| `--%s` | %s |\n", f.Name, f.Usage)
	})
	b.WriteString("| `--version` | print hallmark's version (also `hallmark version`) |\n")
	b.WriteString("| `-h`, `--help` | print a command's help |\n\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c.HasParent() {
			writeCommand(&b, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	_, err := w.Write(b.Bytes())
	return err
}

func writeCommand(b *bytes.Buffer, c *cobra.Command) {
	fmt.Fprintf(b, "## %s\n\n%s\n\n", c.CommandPath(), c.Short)
	if c.Runnable() && !c.HasSubCommands() {
		fmt.Fprintf(b, "```\n%s\n```\n\n", c.UseLine())
	}
	if c.Long != "" {
		fmt.Fprintf(b, "%s\n\n", c.Long)
	}
	if c.Example != "" {
		fmt.Fprintf(b, "Examples:\n\n```sh\n%s\n```\n\n", strings.TrimRight(c.Example, "\n"))
	}
	var flags []*pflag.Flag
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !f.Hidden {
			flags = append(flags, f)
		}
	})
	if len(flags) > 0 {
		b.WriteString("| flag | default | meaning |\n|---|---|---|\n")
		for _, f := range flags {
			name := "`--" + f.Name + "`"
			if f.Shorthand != "" {
				name = "`-" + f.Shorthand + "`, " + name
			}
			def := f.DefValue
			if def == "" || def == "[]" {
				def = ""
			} else {
				def = "`" + def + "`"
			}
			fmt.Fprintf(b, "| %s | %s | %s |\n", name, def, strings.ReplaceAll(f.Usage, "|", "\\|"))
		}
		b.WriteString("\n")
	}
	if c.HasSubCommands() {
		b.WriteString("Subcommands: ")
		var names []string
		for _, s := range c.Commands() {
			if !s.Hidden && s.Name() != "help" {
				names = append(names, "`"+s.CommandPath()+"`")
			}
		}
		b.WriteString(strings.Join(names, ", ") + "\n\n")
	}
}
