package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

type loginOptions struct {
	registry      registryOptions
	username      string
	password      string
	passwordStdin bool
}

func newLoginCmd(g *globalOptions) *cobra.Command {
	o := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login REGISTRY",
		Short: "Log in to a registry and keep the credentials in the docker config",
		Long: `Log in to a registry: the credentials are checked against the registry, then
kept where docker keeps them (a credential helper if the docker config names
one, else the config file itself, base64-encoded as docker does).

The password comes from --password-stdin or $HALLMARK_PASSWORD; on a terminal
without either, login asks for what is missing (the password is not echoed).
--password is accepted but leaks into shell history and process lists.`,
		Example: `  echo "$TOKEN" | hallmark login registry.example.com -u ci --password-stdin`,
		Args:    exactArgs(1, "one registry host"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw := o.password
			switch {
			case o.passwordStdin:
				line, err := bufio.NewReader(g.in).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("reading the password from standard input: %w", err)
				}
				pw = strings.TrimRight(line, "\r\n")
			case pw == "":
				pw = os.Getenv("HALLMARK_PASSWORD")
			default:
				fmt.Fprintln(g.err, "WARNING: --password leaks into shell history and process lists; prefer --password-stdin.")
			}
			if o.username == "" {
				o.username = os.Getenv("HALLMARK_USERNAME")
			}
			if (o.username == "" || pw == "") && !o.passwordStdin {
				if tty, ok := terminal(g.in); ok {
					var err error
					if o.username, pw, err = promptCredentials(tty, g.err, args[0], o.username); err != nil {
						return err
					}
				}
			}
			if o.username == "" || pw == "" {
				return usageError{fmt.Errorf("login needs a username (-u or $HALLMARK_USERNAME) and a password (--password-stdin or $HALLMARK_PASSWORD)")}
			}
			opts := o.registry.ociOptions(g.streams)
			opts.AllowPlaintextCredentials = true
			if err := oci.Login(cmd.Context(), opts, args[0], o.username, pw); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "Login to %s succeeded.\n", args[0])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.username, "username", "u", "", "user name (default $HALLMARK_USERNAME)")
	f.StringVarP(&o.password, "password", "p", "", "password (prefer --password-stdin)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from standard input")
	o.registry.addFlags(f)
	return cmd
}

func newLogoutCmd(g *globalOptions) *cobra.Command {
	o := &registryOptions{}
	cmd := &cobra.Command{
		Use:   "logout REGISTRY",
		Short: "Forget a registry's credentials",
		Args:  exactArgs(1, "one registry host"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkConfigFile(); err != nil {
				return err
			}
			opts := o.ociOptions(g.streams)
			had, err := oci.HasCredentials(cmd.Context(), opts, args[0])
			if err != nil {
				return err
			}
			if !had {
				fmt.Fprintf(g.out, "Not logged in to %s: no credentials were stored for it.\n", args[0])
				return nil
			}
			if err := oci.Logout(cmd.Context(), opts, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "Removed the credentials of %s.\n", args[0])
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// terminal returns in as a file when it is a terminal a person types at.
func terminal(in io.Reader) (*os.File, bool) {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return f, true
}

// promptCredentials asks for what is missing on the terminal; the password
// is not echoed.
func promptCredentials(tty *os.File, w io.Writer, host, user string) (string, string, error) {
	if user == "" {
		fmt.Fprintf(w, "Username for %s: ", host)
		line, err := bufio.NewReader(tty).ReadString('\n')
		if err != nil && line == "" {
			return "", "", fmt.Errorf("reading the user name: %w", err)
		}
		user = strings.TrimSpace(line)
	}
	fmt.Fprintf(w, "Password for %s@%s: ", user, host)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(w)
	if err != nil {
		return "", "", fmt.Errorf("reading the password: %w", err)
	}
	return user, string(pw), nil
}
