package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/oci"
)

// registryOptions are the flags of every command that talks to a registry.
type registryOptions struct {
	plainHTTP             bool
	insecureSkipTLSVerify bool
	configPath            string
	// username and passwordStdin give credentials for this run only, for
	// the registries of the references given (addCredentialFlags).
	username      string
	passwordStdin bool
}

// addCredentialFlags adds -u/--username and --password-stdin: credentials
// for one run, without 'hallmark login', as notation's -u/-p and CI jobs
// want them.
func (r *registryOptions) addCredentialFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&r.username, "username", "u", "", "registry user name for this run, with --password-stdin or $HALLMARK_PASSWORD (default $HALLMARK_USERNAME); without either, the docker config's credentials")
	fs.BoolVar(&r.passwordStdin, "password-stdin", false, "read the registry password for this run from standard input")
}

func (r *registryOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&r.plainHTTP, "plain-http", false, "reach registries over plain HTTP (for local development registries only)")
	fs.BoolVar(&r.insecureSkipTLSVerify, "insecure-skip-tls-verify", false, "DANGEROUS: do not verify registry TLS certificates; anyone on the network path can impersonate the registry")
	fs.StringVar(&r.configPath, "registry-config", "", "docker config file with registry credentials (default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)")
}

// client builds the registry client, warning loudly about skipped TLS checks.
// refs are the references the run reaches: credentials given for the run
// go to their registries only.
func (r *registryOptions) client(s streams, forceReferrersTag bool, refs ...string) (*oci.Client, error) {
	if err := r.checkConfigFile(); err != nil {
		return nil, err
	}
	opts := r.ociOptions(s)
	opts.ForceReferrersTag = forceReferrersTag
	store, err := r.runCredentials(s, refs)
	if err != nil {
		return nil, err
	}
	if store != nil {
		opts.CredentialsStore = store
	}
	return oci.New(opts)
}

// runCredentials returns a credential store holding the credentials given
// for this run (flags or $HALLMARK_USERNAME and $HALLMARK_PASSWORD) for the
// registries of refs, or nil when none were given.
func (r *registryOptions) runCredentials(s streams, refs []string) (credentials.Store, error) {
	user := r.username
	if user == "" {
		user = os.Getenv("HALLMARK_USERNAME")
	}
	var pass string
	switch {
	case r.passwordStdin:
		line, err := bufio.NewReader(io.LimitReader(s.in, maxPasswordSize)).ReadString('\n')
		if err != nil && line == "" {
			return nil, usageError{fmt.Errorf("--password-stdin: no password on standard input")}
		}
		pass = strings.TrimRight(line, "\r\n")
	default:
		pass = os.Getenv("HALLMARK_PASSWORD")
	}
	switch {
	case user == "" && pass == "":
		return nil, nil
	case user == "":
		return nil, usageError{fmt.Errorf("a registry password was given (--password-stdin or $HALLMARK_PASSWORD) but no user name: pass -u NAME or set $HALLMARK_USERNAME")}
	case pass == "":
		return nil, usageError{fmt.Errorf("-u %s needs a password: pipe it to --password-stdin or set $HALLMARK_PASSWORD", user)}
	}
	store := credentials.NewMemoryStore()
	for _, ref := range refs {
		parsed, err := oci.ParseReference(ref)
		if err != nil {
			continue // the command reports it
		}
		if err := store.Put(context.Background(), parsed.Registry, auth.Credential{Username: user, Password: pass}); err != nil {
			return nil, err
		}
	}
	return store, nil
}

// maxPasswordSize caps what --password-stdin reads: registry tokens are a
// few KiB.
const maxPasswordSize = 64 << 10

// ociOptions turns the flags into client options.
func (r *registryOptions) ociOptions(s streams) oci.Options {
	if r.insecureSkipTLSVerify {
		fmt.Fprintln(s.err, "WARNING: --insecure-skip-tls-verify is set: registry certificates are NOT verified, so anyone on the network path can impersonate the registry.")
	}
	return oci.Options{
		PlainHTTP:             r.plainHTTP,
		InsecureSkipTLSVerify: r.insecureSkipTLSVerify,
		ConfigPath:            r.configPath,
		UserAgent:             "hallmark/" + Version,
	}
}

// maxRegistryConfigSize caps --registry-config: a docker config holds a few
// credentials, and anything near this size is not one.
const maxRegistryConfigSize = 4 << 20

// checkConfigFile fails when --registry-config names a file that does not
// exist or is not a docker config: a file the user named is never silently
// replaced by no credentials.
func (r *registryOptions) checkConfigFile() error {
	if r.configPath == "" {
		return nil
	}
	data, err := capped.ReadFile(r.configPath, maxRegistryConfigSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--registry-config %s does not exist", r.configPath)
		}
		return fmt.Errorf("--registry-config %s: %w", r.configPath, err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("--registry-config %s is not a docker config file (JSON): %v", r.configPath, err)
	}
	return nil
}

// commandFlags are the registry flags a hallmark command printed as a fix
// needs to reach registries as this one does, so that it runs as printed.
func (r *registryOptions) commandFlags(string) string {
	flags := ""
	if r.plainHTTP {
		flags += " --plain-http"
	}
	if r.insecureSkipTLSVerify {
		flags += " --insecure-skip-tls-verify"
	}
	if r.configPath != "" {
		flags += " --registry-config " + shellWord(r.configPath)
	}
	return flags
}

// shellWord quotes s for a POSIX shell when it needs quoting.
func shellWord(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:@,", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
