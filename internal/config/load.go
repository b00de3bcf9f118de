package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
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
	return parse(path, data, filepath.Dir(path))
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
	d := &decoder{problems: problems(probs)}
	d.value("", root, reflect.ValueOf(c).Elem())
	if err := d.problems.err(source); err != nil {
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

// decoder fills Go values from a configuration read into strict's Nodes,
// reporting every problem with its field path.
type decoder struct {
	problems problems
}

var (
	durationType = reflect.TypeFor[Duration]()
	rawJSONType  = reflect.TypeFor[json.RawMessage]()
)

// value decodes n into dst. A YAML null leaves dst as it is (the zero
// value), so that ApplyDefaults treats it as unset.
func (d *decoder) value(path string, n *strict.Node, dst reflect.Value) {
	if n.Kind == strict.Null {
		return
	}
	t := dst.Type()
	switch t {
	case durationType:
		if n.Kind != strict.String {
			d.wrongType(path, n, `a duration such as "2s"`)
			return
		}
		dur, err := parseDuration(n.Str)
		if err != nil {
			d.problems.add(path, err.Error())
			return
		}
		dst.Set(reflect.ValueOf(Duration{dur}))
		return
	case rawJSONType:
		var buf bytes.Buffer
		if d.json(path, n, &buf) {
			dst.SetBytes(buf.Bytes())
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		if n.Kind != strict.String {
			d.wrongType(path, n, "a string")
			return
		}
		dst.SetString(n.Str)
	case reflect.Bool:
		if n.Kind != strict.Bool {
			d.wrongType(path, n, "true or false")
			return
		}
		dst.SetBool(n.Str == "true")
	case reflect.Int:
		i, err := strconv.ParseInt(n.Str, 10, 0)
		if n.Kind != strict.Number || err != nil {
			d.wrongType(path, n, "a whole number")
			return
		}
		dst.SetInt(i)
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		before := len(d.problems)
		d.value(path, n, p.Elem())
		if len(d.problems) == before {
			dst.Set(p)
		}
	case reflect.Slice:
		if n.Kind != strict.Array {
			d.wrongType(path, n, "a list")
			return
		}
		s := reflect.MakeSlice(t, len(n.Elems), len(n.Elems))
		for i, e := range n.Elems {
			d.value(strict.Index(path, i), e, s.Index(i))
		}
		dst.Set(s)
	case reflect.Map:
		if n.Kind != strict.Object {
			d.wrongType(path, n, "a mapping")
			return
		}
		d.repeats(path, n)
		m := reflect.MakeMapWithSize(t, len(n.Keys))
		for _, k := range n.Keys {
			ev := reflect.New(t.Elem()).Elem()
			d.value(strict.Field(path, k), n.Vals[k], ev)
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		dst.Set(m)
	case reflect.Struct:
		if n.Kind != strict.Object {
			d.wrongType(path, n, "a mapping")
			return
		}
		d.repeats(path, n)
		fields := structFields(t)
		for _, k := range n.Keys {
			i, ok := fields[k]
			if !ok {
				d.problems.add(strict.Field(path, k), unknownField(k, t))
				continue
			}
			d.value(strict.Field(path, k), n.Vals[k], dst.Field(i))
		}
	default:
		// Only reachable if a field of a type not handled above is added.
		d.problems.add(path, fmt.Sprintf("internal error: cannot decode into %s", t))
	}
}

// repeats reports keys given twice (YAML readers disagree on which of two
// equal keys wins).
func (d *decoder) repeats(path string, n *strict.Node) {
	for _, k := range n.Dups {
		d.problems.add(strict.Field(path, k), "appears more than once; keep one")
	}
}

// json writes n as JSON to buf, keeping the order of mapping keys. It
// reports what JSON cannot hold.
func (d *decoder) json(path string, n *strict.Node, buf *bytes.Buffer) bool {
	switch n.Kind {
	case strict.Null:
		buf.WriteString("null")
	case strict.Bool:
		buf.WriteString(n.Str)
	case strict.String:
		b, _ := json.Marshal(n.Str)
		buf.Write(b)
	case strict.Number:
		if _, err := strconv.ParseInt(n.Str, 10, 64); err == nil {
			buf.WriteString(n.Str)
			break
		}
		if _, err := strconv.ParseUint(n.Str, 10, 64); err == nil {
			buf.WriteString(n.Str)
			break
		}
		f, _ := strconv.ParseFloat(n.Str, 64)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			d.problems.add(path, fmt.Sprintf("%s cannot be written in JSON", n.Str))
			return false
		}
		b, _ := json.Marshal(f)
		buf.Write(b)
	case strict.Array:
		buf.WriteByte('[')
		ok := true
		for i, e := range n.Elems {
			if i > 0 {
				buf.WriteByte(',')
			}
			ok = d.json(strict.Index(path, i), e, buf) && ok
		}
		buf.WriteByte(']')
		return ok
	case strict.Object:
		before := len(d.problems)
		d.repeats(path, n)
		buf.WriteByte('{')
		for i, k := range n.Keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(k)
			buf.Write(b)
			buf.WriteByte(':')
			d.json(strict.Field(path, k), n.Vals[k], buf)
		}
		buf.WriteByte('}')
		return len(d.problems) == before
	}
	return true
}

func (d *decoder) wrongType(path string, n *strict.Node, want string) {
	d.problems.add(path, fmt.Sprintf("must be %s, not %s", want, describe(n)))
}

func describe(n *strict.Node) string {
	switch n.Kind {
	case strict.String:
		return fmt.Sprintf("the string %q", strict.Clip(n.Str))
	case strict.Bool:
		return "the boolean " + n.Str
	case strict.Number:
		return "the number " + strict.Clip(n.Str)
	case strict.Array:
		return "a list"
	case strict.Object:
		return "a mapping"
	}
	return "null"
}

// structFields maps JSON field names to field indexes.
func structFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = i
	}
	return m
}

func unknownField(name string, t reflect.Type) string {
	fields := structFields(t)
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	return strict.UnknownField(name, known)
}

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
