package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// maxConfigSize caps a configuration file. A configuration with a trust
// policy and dozens of certificates inline is well under 256 KiB; the cap
// keeps a wrong file (a log, an image) or a hostile ConfigMap from being
// parsed, and bounds what YAML aliases can expand.
const maxConfigSize = 1 << 20 // 1 MiB

// tooLarge is the problem of a configuration over maxConfigSize, read from
// a file or given in memory.
var tooLarge = Problem{Message: fmt.Sprintf("is over %d bytes (%d KiB), far above any real configuration, so this is probably the wrong file", maxConfigSize, maxConfigSize>>10)}

// Load reads, parses and validates the configuration file at path. Relative
// paths in it are taken relative to the file's folder. Symlinks are
// followed: Kubernetes mounts ConfigMaps and Secrets as symlinks.
//
// Every problem (YAML syntax, unknown fields, wrong types, invalid values)
// is reported at once in an *Error matching ErrInvalidConfig, each with its
// field path.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data, filepath.Dir(path))
}

// readFile reads a configuration file of at most maxConfigSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Source: path, Problems: []Problem{{Message: "is not a regular file"}}}
	}
	data, err := capped.Read(f, maxConfigSize)
	if errors.Is(err, capped.ErrTooLarge) {
		return nil, &Error{Source: path, Problems: []Problem{tooLarge}}
	}
	if err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	return data, nil
}

// Parse parses and validates a configuration held in memory. Relative
// paths in it stay relative to the current directory. Errors are as Load's.
func Parse(data []byte) (*Config, error) {
	return parse("", data, "")
}

func parse(source string, data []byte, base string) (*Config, error) {
	c, err := decode(source, data)
	var decodeErr *Error
	if err != nil && c != nil && errors.As(err, &decodeErr) {
		// The YAML was read, but some fields were unknown or of the wrong
		// type: validate what was read too, so that one run reports every
		// problem rather than the decoding ones first.
		if base != "" {
			c.resolvePaths(base)
		}
		c.ApplyDefaults()
		var validateErr *Error
		if errors.As(c.Validate(), &validateErr) {
			for _, p := range validateErr.Problems {
				if !coveredBy(p.Path, decodeErr.Problems) {
					decodeErr.Problems = append(decodeErr.Problems, p)
				}
			}
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if base != "" {
		c.resolvePaths(base)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Source = source
		}
		return nil, err
	}
	return c, nil
}

// decode turns YAML into a Config, reporting syntax errors, unknown and
// repeated fields, and wrong types, without applying defaults.
func decode(source string, data []byte) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, &Error{Source: source, Problems: []Problem{tooLarge}}
	}
	docs := strict.NewYAMLReader(data, yamlLimits)
	root, probs, err := docs.Next()
	switch {
	case errors.Is(err, io.EOF):
		root = &strict.Node{Kind: strict.Null} // an empty file
	case errors.Is(err, strict.ErrTooManyAliases):
		return nil, &Error{Source: source, Problems: []Problem{{
			Message: fmt.Sprintf("uses more than %d YAML anchors and aliases; a configuration needs few or none (quote globs such as \"*.example.com\")", maxAliases),
		}}}
	case errors.Is(err, strict.ErrTooManyValues):
		return nil, &Error{Source: source, Problems: []Problem{{
			Message: fmt.Sprintf("expands to more than %d values; YAML anchors and aliases repeat too much, or this is not a hallmark configuration", maxValues),
		}}}
	case err != nil:
		return nil, &Error{Source: source, Problems: []Problem{{Message: "is " + err.Error()}}}
	}
	if root.Kind != strict.Null && root.Kind != strict.Object {
		return nil, &Error{Source: source, Problems: []Problem{{
			Message: "the configuration must be a YAML mapping of fields such as listen, tls and trustPolicy",
		}}}
	}
	if _, _, err := docs.Next(); !errors.Is(err, io.EOF) {
		return nil, &Error{Source: source, Problems: []Problem{{
			Message: "holds more than one YAML document (a second \"---\"); put the whole configuration in one",
		}}}
	}
	c := &Config{}
	probs = append(probs, strict.Decode(root, c, strict.DecodeOptions{})...)
	if err := problems(probs).err(source); err != nil {
		// c holds every field that decoded, for parse to validate.
		return c, err
	}
	return c, nil
}

// coveredBy reports whether a validation problem at path follows from a
// decoding problem: a field of the wrong type is left at its zero value,
// which validation would report again as missing.
func coveredBy(path string, decoded []Problem) bool {
	for _, d := range decoded {
		if d.Path == "" || path == d.Path || strings.HasPrefix(path, d.Path+".") || strings.HasPrefix(path, d.Path+"[") || strings.HasPrefix(d.Path, path+".") || strings.HasPrefix(d.Path, path+"[") {
			return true
		}
	}
	return false
}

// yamlLimits are the caps on reading a configuration.
var yamlLimits = strict.YAMLLimits{MaxAliases: maxAliases, MaxValues: maxValues, MaxDepth: maxDepth}

// maxAliases caps the YAML anchors (&name) and aliases (*name) of a
// configuration. Aliases that repeat anchors expand exponentially, and the
// YAML library's own guard still lets a few lines expand to hundreds of
// thousands of values before it stops them.
const maxAliases = 64

// maxValues caps how many values a configuration holds once YAML aliases
// are expanded. A real one has a few hundred; a document whose anchors
// repeat each other ("billion laughs") expands to millions from a few lines,
// and checking every one of them would stall the loader.
const maxValues = 20000

// maxDepth caps how deeply values nest. The configuration is at most five
// levels deep and an inline trust policy adds four; the cap stops a
// hostile document from making every nested value carry (and the decoder
// copy) a path thousands of elements long.
const maxDepth = 32

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write a number with a unit, such as \"2s\", \"500ms\" or \"5m\"", strict.Clip(s))
	}
	return d, nil
}

// resolvePaths makes every relative file path absolute against base, the
// folder of the configuration file.
func (c *Config) resolvePaths(base string) {
	for _, p := range c.filePaths() {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
}

// filePaths lists every field that names a file or folder.
func (c *Config) filePaths() []*string {
	ps := []*string{&c.TLS.CertFile, &c.TLS.KeyFile, &c.TLS.ClientCAFile, &c.TrustStoreDir, &c.KeyStore.Dir, &c.TrustPolicy.File}
	for i := range c.Registries {
		r := &c.Registries[i]
		ps = append(ps, &r.CAFile, &r.Credentials.DockerConfigFile, &r.Credentials.DockerConfigJSONFile, &r.Credentials.PasswordFile, &r.Credentials.TokenFile)
	}
	for i := range c.TrustStores {
		for j := range c.TrustStores[i].Certificates {
			src := &c.TrustStores[i].Certificates[j]
			ps = append(ps, &src.File, &src.Dir)
		}
	}
	ps = append(ps, &c.Cosign.TrustedRootFile)
	for i := range c.Cosign.Policies {
		for j := range c.Cosign.Policies[i].Keys {
			ps = append(ps, &c.Cosign.Policies[i].Keys[j].File)
		}
	}
	return ps
}

// Files lists the files and folders the configuration names (TLS files,
// certificates, CA and credential files, the trust policy, trust store and
// key store folders), without duplicates. Secrets and certificates are read
// when the configuration is built, so a server that watches the
// configuration for changes should watch these too: a rotated pull secret
// is picked up only by a reload.
func (c *Config) Files() []string {
	var out []string
	for _, p := range c.filePaths() {
		if *p != "" && !slices.Contains(out, *p) {
			out = append(out, *p)
		}
	}
	return out
}
