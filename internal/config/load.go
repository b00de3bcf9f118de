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
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v2"

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
	// The YAML library is used directly rather than through a YAML-to-JSON
	// conversion, which keeps the last of two equal keys and turns keys
	// such as "on" or "n" into "true" and "false" without a word: both
	// would silently change a security setting.
	if n := len(aliasToken.FindAllIndex(data, maxAliases+1)); n > maxAliases {
		return nil, &Error{Source: source, Problems: []Problem{{
			Message: fmt.Sprintf("uses more than %d YAML anchors and aliases; a configuration needs few or none (quote globs such as \"*.example.com\")", maxAliases),
		}}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.MapSlice
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Source: source, Problems: []Problem{{Message: yamlMessage(err)}}}
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{Source: source, Problems: []Problem{{
			Message: "holds more than one YAML document (a second \"---\"); put the whole configuration in one",
		}}}
	}
	if n := countValues(root, maxValues+1); n > maxValues {
		return nil, &Error{Source: source, Problems: []Problem{{
			Message: fmt.Sprintf("expands to more than %d values; YAML anchors and aliases repeat too much, or this is not a hallmark configuration", maxValues),
		}}}
	}
	c := &Config{}
	d := &decoder{}
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

func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.Contains(msg, "into yaml.MapSlice") || strings.Contains(msg, "into yaml.MapItem") {
		return "the configuration must be a YAML mapping of fields such as listen, tls and trustPolicy"
	}
	return "is not valid YAML: " + msg
}

// maxAliases caps the YAML anchors (&name) and aliases (*name) of a
// configuration. Aliases that repeat anchors expand exponentially, and the
// YAML library's own guard still lets a few lines expand to hundreds of
// thousands of values before it stops them.
const maxAliases = 64

// aliasToken matches an anchor or alias where a YAML node starts.
var aliasToken = regexp.MustCompile(`(?m)(?:^|[\s\[{,:-])[&*][^\s\[\]{},]`)

// maxValues caps how many values a configuration holds once YAML aliases
// are expanded. A real one has a few hundred; a document whose anchors
// repeat each other ("billion laughs") expands to millions from a few lines,
// and checking every one of them would stall the loader.
const maxValues = 20000

// countValues counts the values of v, stopping once it reaches limit.
func countValues(v any, limit int) int {
	n := 0
	var walk func(v any) bool
	walk = func(v any) bool {
		n++
		if n >= limit {
			return false
		}
		switch x := v.(type) {
		case yaml.MapSlice:
			for _, it := range x {
				if !walk(it.Key) || !walk(it.Value) {
					return false
				}
			}
		case []any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
		case map[any]any:
			for k, e := range x {
				if !walk(k) || !walk(e) {
					return false
				}
			}
		}
		return true
	}
	walk(v)
	return n
}

// maxDepth caps how deeply values nest. The configuration is at most five
// levels deep and an inline trust policy adds four; the cap stops a
// hostile document from making every nested value carry (and the decoder
// copy) a path thousands of elements long.
const maxDepth = 32

// decoder fills Go values from the YAML library's generic values,
// reporting every problem with its field path.
type decoder struct {
	problems problems
	depth    int
	tooDeep  bool
}

// enter counts one level of nesting; it reports false, once, past maxDepth.
func (d *decoder) enter(path string) bool {
	d.depth++
	if d.depth > maxDepth {
		if !d.tooDeep {
			d.problems.add(path, fmt.Sprintf("nests deeper than %d levels; no configuration needs that", maxDepth))
			d.tooDeep = true
		}
		return false
	}
	return true
}

func (d *decoder) leave() { d.depth-- }

var (
	durationType = reflect.TypeFor[Duration]()
	rawJSONType  = reflect.TypeFor[json.RawMessage]()
)

// value decodes v into dst. A YAML null leaves dst as it is (the zero
// value), so that ApplyDefaults treats it as unset.
func (d *decoder) value(path string, v any, dst reflect.Value) {
	if v == nil {
		return
	}
	defer d.leave()
	if !d.enter(path) {
		return
	}
	t := dst.Type()
	switch t {
	case durationType:
		s, ok := v.(string)
		if !ok {
			d.wrongType(path, v, `a duration such as "2s"`)
			return
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.problems.add(path, err.Error())
			return
		}
		dst.Set(reflect.ValueOf(Duration{dur}))
		return
	case rawJSONType:
		var buf bytes.Buffer
		if d.json(path, v, &buf) {
			dst.SetBytes(buf.Bytes())
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			d.wrongType(path, v, "a string")
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.wrongType(path, v, "true or false")
			return
		}
		dst.SetBool(b)
	case reflect.Int:
		n, ok := wholeNumber(v)
		if !ok {
			d.wrongType(path, v, "a whole number")
			return
		}
		dst.SetInt(int64(n))
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		before := len(d.problems)
		d.value(path, v, p.Elem())
		if len(d.problems) == before {
			dst.Set(p)
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			d.wrongType(path, v, "a list")
			return
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			d.value(path+"["+strconv.Itoa(i)+"]", item, s.Index(i))
		}
		dst.Set(s)
	case reflect.Map:
		items, ok := v.(yaml.MapSlice)
		if !ok {
			d.wrongType(path, v, "a mapping")
			return
		}
		m := reflect.MakeMapWithSize(t, len(items))
		for _, k := range d.keys(path, items) {
			ev := reflect.New(t.Elem()).Elem()
			d.value(strict.Field(path, k.name), k.value, ev)
			m.SetMapIndex(reflect.ValueOf(k.name).Convert(t.Key()), ev)
		}
		dst.Set(m)
	case reflect.Struct:
		items, ok := v.(yaml.MapSlice)
		if !ok {
			d.wrongType(path, v, "a mapping")
			return
		}
		fields := structFields(t)
		for _, k := range d.keys(path, items) {
			i, ok := fields[k.name]
			if !ok {
				d.problems.add(strict.Field(path, k.name), unknownField(k.name, t))
				continue
			}
			d.value(strict.Field(path, k.name), k.value, dst.Field(i))
		}
	default:
		// Only reachable if a field of a type not handled above is added.
		d.problems.add(path, fmt.Sprintf("internal error: cannot decode into %s", t))
	}
}

type keyValue struct {
	name  string
	value any
}

// keys returns a mapping's entries with string keys, reporting keys that
// are not strings and keys given twice (YAML readers disagree on which of
// two equal keys wins).
func (d *decoder) keys(path string, items yaml.MapSlice) []keyValue {
	out := make([]keyValue, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		name, ok := it.Key.(string)
		if !ok {
			d.problems.add(path, nonStringKey(it.Key))
			continue
		}
		if seen[name] {
			d.problems.add(strict.Field(path, name), "appears more than once; keep one")
			continue
		}
		seen[name] = true
		out = append(out, keyValue{name, it.Value})
	}
	return out
}

func nonStringKey(k any) string {
	switch k := k.(type) {
	case bool:
		return fmt.Sprintf("a key is read by YAML as the boolean %v (YAML 1.1 reads on, off, yes, no, y and n that way); quote it", k)
	case nil:
		return "a key is empty or null; give it a name"
	default:
		return fmt.Sprintf("key %v is %s, not a string; quote it", k, describe(k))
	}
}

// json writes v as JSON to buf, keeping the order of mapping keys. It
// reports what JSON cannot hold.
func (d *decoder) json(path string, v any, buf *bytes.Buffer) bool {
	defer d.leave()
	if !d.enter(path) {
		return false
	}
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case string, bool, int, int64, uint64:
		b, _ := json.Marshal(v)
		buf.Write(b)
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			d.problems.add(path, fmt.Sprintf("%v cannot be written in JSON", v))
			return false
		}
		b, _ := json.Marshal(v)
		buf.Write(b)
	case []any:
		buf.WriteByte('[')
		ok := true
		for i, item := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			ok = d.json(path+"["+strconv.Itoa(i)+"]", item, buf) && ok
		}
		buf.WriteByte(']')
		return ok
	case yaml.MapSlice:
		before := len(d.problems)
		buf.WriteByte('{')
		for i, k := range d.keys(path, v) {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(k.name)
			buf.Write(b)
			buf.WriteByte(':')
			d.json(strict.Field(path, k.name), k.value, buf)
		}
		buf.WriteByte('}')
		return len(d.problems) == before
	default:
		d.problems.add(path, fmt.Sprintf("%s cannot be written in JSON", describe(v)))
		return false
	}
	return true
}

func (d *decoder) wrongType(path string, v any, want string) {
	d.problems.add(path, fmt.Sprintf("must be %s, not %s", want, describe(v)))
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", strict.Clip(v))
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case int, int64, uint64, float64:
		return fmt.Sprintf("the number %v", v)
	case []any:
		return "a list"
	case yaml.MapSlice:
		return "a mapping"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

func wholeNumber(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		if n >= math.MinInt && n <= math.MaxInt {
			return int(n), true
		}
	case uint64:
		if n <= math.MaxInt {
			return int(n), true
		}
	}
	return 0, false
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
	sort.Strings(known)
	if best := strict.Suggest(name, known); strings.EqualFold(best, name) {
		return fmt.Sprintf("unknown field %q; did you mean %q? (field names are case-sensitive)", name, best)
	} else if best != "" {
		return fmt.Sprintf("unknown field %q; did you mean %q?", name, best)
	}
	return fmt.Sprintf("unknown field %q; known fields here: %s", strict.Clip(name), strings.Join(known, ", "))
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
