package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/pflag"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/oci"
)

// registryOptions are the flags of every command that talks to a registry.
type registryOptions struct {
	plainHTTP             bool
	insecureSkipTLSVerify bool
	configPath            string
}

func (r *registryOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&r.plainHTTP, "plain-http", false, "reach registries over plain HTTP (for local development registries only)")
	fs.BoolVar(&r.insecureSkipTLSVerify, "insecure-skip-tls-verify", false, "DANGEROUS: do not verify registry TLS certificates; anyone on the network path can impersonate the registry")
	fs.StringVar(&r.configPath, "registry-config", "", "docker config file with registry credentials (default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)")
}

// client builds the registry client, warning loudly about skipped TLS checks.
func (r *registryOptions) client(s streams, forceReferrersTag bool) (*oci.Client, error) {
	if err := r.checkConfigFile(); err != nil {
		return nil, err
	}
	opts := r.ociOptions(s)
	opts.ForceReferrersTag = forceReferrersTag
	return oci.New(opts)
}

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
