package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// settingsFile holds the user's hallmark settings in the home folder, such
// as the default signing key.
const settingsFile = "settings.json"

// maxSettingsSize caps settings.json: it holds a key reference.
const maxSettingsSize = 64 << 10

// settings is settings.json. The zero value means no default key.
type settings struct {
	// DefaultKey is what sign uses without --key: anything --key takes.
	DefaultKey string `json:"defaultKey,omitempty"`
}

func (g *globalOptions) settingsPath() (string, error) {
	home, err := g.resolveStoreDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, settingsFile), nil
}

// loadSettings reads settings.json; a missing file is the zero settings, a
// damaged one an error that names it.
func (g *globalOptions) loadSettings() (settings, error) {
	var s settings
	path, err := g.settingsPath()
	if err != nil {
		return s, err
	}
	data, err := capped.ReadFile(path, maxSettingsSize)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s is damaged (%v); fix or delete it", path, err)
	}
	return s, nil
}

func (g *globalOptions) saveSettings(s settings) error {
	path, err := g.settingsPath()
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o600)
}

func newKeyDefaultCmd(g *globalOptions) *cobra.Command {
	var unset bool
	cmd := &cobra.Command{
		Use:   "default [NAME[/VERSION] | PKCS11-URI | VAULT-URL]",
		Short: "Set or show the key that sign uses without --key",
		Long: `Set the key 'hallmark sign' uses when no --key (and no --plugin) is given,
or with no argument print it. The key must exist. --unset forgets it.`,
		Example: `  hallmark key default release
  hallmark key default`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (unset && len(args) == 1) {
				return usageError{fmt.Errorf("%s expects one key, or none (to print it, or with --unset) (see '%s --help')", cmd.CommandPath(), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.loadSettings()
			if err != nil {
				return err
			}
			switch {
			case unset:
				s.DefaultKey = ""
				if err := g.saveSettings(s); err != nil {
					return err
				}
				fmt.Fprintln(g.out, "No default key now: sign needs --key.")
				return nil
			case len(args) == 0:
				if s.DefaultKey == "" {
					return fmt.Errorf("no default key: set one with 'hallmark key default NAME'")
				}
				fmt.Fprintln(g.out, s.DefaultKey)
				return nil
			}
			info, err := getKey(cmd, g, args[0])
			if err != nil {
				return err
			}
			s.DefaultKey = args[0]
			if err := g.saveSettings(s); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "Default key: %s (now %s/%s). 'hallmark sign IMAGE' signs with it.\n", args[0], info.Name, info.Version)
			return nil
		},
	}
	cmd.Flags().BoolVar(&unset, "unset", false, "forget the default key")
	return cmd
}

func newKeyDeleteCmd(g *globalOptions) *cobra.Command {
	var yes, force bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a key and all its versions from the local key store",
		Long: `Delete a key, every version of it, from the local key store. This cannot be
undone: signatures it made still verify where its certificate is trusted, but
nothing can sign with it again. It asks for confirmation on standard input
unless --yes is given, and refuses the default key unless --force is given.`,
		Args: exactArgs(1, "a key NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if strings.Contains(name, "/") {
				return usageError{fmt.Errorf("key delete takes a key NAME and deletes every version; %q names one version", name)}
			}
			store, err := g.openStore()
			if err != nil {
				return err
			}
			infos, err := store.List(cmd.Context())
			if err != nil {
				return err
			}
			versions := 0
			var names []string
			for _, in := range infos {
				if in.Name == name {
					versions++
				}
				names = append(names, in.Name)
			}
			if versions == 0 {
				return fmt.Errorf("no key %q in %s%s", name, store.Dir(), suggest(name, names))
			}
			s, err := g.loadSettings()
			if err != nil {
				return err
			}
			isDefault := s.DefaultKey == name || strings.HasPrefix(s.DefaultKey, name+"/")
			if isDefault && !force {
				return fmt.Errorf("key %s is the default key; pass --force to delete it anyway, or set another with 'hallmark key default NAME'", name)
			}
			ok, err := g.confirm(yes, fmt.Sprintf("Delete key %s and its %d version(s)? Nothing can sign with it again.", name, versions))
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintln(g.err, "Nothing deleted.")
				return errSilent
			}
			if err := store.Delete(cmd.Context(), name); err != nil {
				return err
			}
			if isDefault {
				s.DefaultKey = ""
				if err := g.saveSettings(s); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.out, "Deleted key %s (%d version(s)).\n", name, versions)
			if isDefault {
				fmt.Fprintln(g.out, "It was the default key: sign needs --key, or a new 'hallmark key default NAME'.")
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&force, "force", false, "delete the key even if it is the default key")
	return cmd
}

// suggest returns "; did you mean X?" for the name in names closest to
// name (strict.Suggest), or "" when none is close.
func suggest(name string, names []string) string {
	best := strict.Suggest(name, names)
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// suggestKey adds the closest existing key name to a not-found error of the
// local store.
func suggestKey(ctx context.Context, store *local.Store, ref string, err error) error {
	if !errors.Is(err, keys.ErrNotFound) {
		return err
	}
	name, _, _ := strings.Cut(ref, "/")
	infos, lerr := store.List(ctx)
	if lerr != nil {
		return err
	}
	var names []string
	for _, in := range infos {
		if in.Name == name {
			return err // the key exists: the version does not
		}
		names = append(names, in.Name)
	}
	if s := suggest(name, names); s != "" {
		return fmt.Errorf("%w%s", err, s)
	}
	if len(names) == 0 {
		return fmt.Errorf("%w; the key store %s has no keys (create one with 'hallmark key create NAME')", err, store.Dir())
	}
	return err
}
