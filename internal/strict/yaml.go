package strict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v2"
)

// YAML is read with the YAML library's generic values rather than through a
// YAML-to-JSON conversion, which keeps the last of two equal keys and turns
// keys such as "on" or "n" into "true" and "false" without a word: both
// would silently change a security setting. The values become the same
// Nodes a JSON document becomes, so one set of rules reads both.

// YAMLLimits bounds what one YAML input may cost to read. A zero field is
// no limit. Each reader sets its own, from the size of the documents it
// expects.
type YAMLLimits struct {
	// MaxAliases caps the anchors (&name) and aliases (*name) of the
	// input. Aliases that repeat anchors expand exponentially, and the YAML
	// library's own guard still lets a few lines expand to hundreds of
	// thousands of values before it stops them.
	MaxAliases int
	// MaxValues caps the values of one document once aliases are expanded.
	MaxValues int
	// MaxDepth caps nesting; the document itself is level 1. Deeper values
	// are cut off and reported once, as a Problem.
	MaxDepth int
}

// Errors of a YAMLReader that callers word for their own documents.
var (
	// ErrTooManyAliases: the input has more than MaxAliases anchors and
	// aliases. Nothing of it is read.
	ErrTooManyAliases = errors.New("too many YAML anchors and aliases")
	// ErrTooManyValues: a document expands to more than MaxValues values.
	// The reader moves on to the next document.
	ErrTooManyValues = errors.New("too many values")
)

// aliasToken matches an anchor or alias where a YAML node starts.
var aliasToken = regexp.MustCompile(`(?m)(?:^|[\s\[{,:-])[&*][^\s\[\]{},]`)

// YAMLReader reads a stream of YAML documents, separated by "---", into
// Nodes: mapping keys in input order, keys given twice in Dups.
type YAMLReader struct {
	dec *yaml.Decoder
	// ord reads the same documents again, for a mapping's key order.
	ord *yaml.Decoder
	lim YAMLLimits
	err error // a failure that ends the stream
}

// NewYAMLReader returns a reader of the documents in data.
func NewYAMLReader(data []byte, lim YAMLLimits) *YAMLReader {
	r := &YAMLReader{dec: yaml.NewDecoder(bytes.NewReader(data)), ord: yaml.NewDecoder(bytes.NewReader(data)), lim: lim}
	if lim.MaxAliases > 0 && len(aliasToken.FindAllIndex(data, lim.MaxAliases+1)) > lim.MaxAliases {
		r.err = ErrTooManyAliases
	}
	return r
}

// Next reads the next document; io.EOF ends the stream. An empty document
// (as between two "---") is a Null node. Problems are what is wrong inside
// the document without stopping it from being read: keys that are not
// strings (left out of the Node) and nesting past MaxDepth (cut there).
// An error other than ErrTooManyValues ends the stream: the YAML is not
// valid ("not valid YAML: line 3: ..."), or ErrTooManyAliases.
func (r *YAMLReader) Next() (*Node, Problems, error) {
	if r.err != nil {
		return nil, nil, r.err
	}
	doc, err := r.document()
	if err != nil {
		if errors.Is(err, io.EOF) {
			r.err = io.EOF
		} else {
			r.err = fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, nil, r.err
	}
	if r.lim.MaxValues > 0 && countValues(doc.v, r.lim.MaxValues+1) > r.lim.MaxValues {
		return nil, nil, ErrTooManyValues
	}
	c := converter{maxDepth: r.lim.MaxDepth, yaml: true}
	n := c.node("", doc.v, doc.ordered, 1)
	return n, c.problems, nil
}

// yamlDocument is one document as the YAML library's generic values (v),
// and, for a mapping, again as a yaml.MapSlice (ordered), which keeps the
// order of keys and their repeats. The generic values are what is read:
// the library loses merged keys ("<<: *base") in a MapSlice.
type yamlDocument struct {
	v       any
	ordered yaml.MapSlice
}

// document reads the next document with both decoders, each one document
// on. (Not one decoder into an Unmarshaler: the library skips an
// Unmarshaler for a scalar that reads like null, even quoted, as '~'.)
func (r *YAMLReader) document() (yamlDocument, error) {
	var d yamlDocument
	if err := r.dec.Decode(&d.v); err != nil {
		return d, err
	}
	if _, ok := d.v.(map[any]any); ok {
		return d, r.ord.Decode(&d.ordered)
	}
	var skip any
	return d, r.ord.Decode(&skip)
}

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
		case map[string]any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
		}
		return true
	}
	walk(v)
	return n
}

// FromValue turns values decoded by the YAML library or encoding/json (or
// built like them, as a Kubernetes client's unstructured objects) into a
// Node, with the problems a YAMLReader reports: keys that are not strings,
// nesting past maxDepth (0: no limit). Keys of a Go map, which has no
// order, come sorted.
func FromValue(v any, maxDepth int) (*Node, Problems) {
	c := converter{maxDepth: maxDepth}
	n := c.node("", v, nil, 1)
	return n, c.problems
}

type converter struct {
	maxDepth int
	yaml     bool // mark the Nodes as read from YAML
	problems Problems
	tooDeep  bool
}

// node converts v. ordered is the same value as the YAML library decodes
// it in a yaml.MapSlice, or nil: where it holds a mapping, it gives the
// keys' order and repeats.
func (c *converter) node(path string, v, ordered any, depth int) *Node {
	n := c.convert(path, v, ordered, depth)
	n.YAML = c.yaml
	return n
}

func (c *converter) convert(path string, v, ordered any, depth int) *Node {
	if c.maxDepth > 0 && depth > c.maxDepth {
		if !c.tooDeep {
			c.problems.Add(path, "nests deeper than %d levels, which no document hallmark reads needs", c.maxDepth)
			c.tooDeep = true
		}
		return &Node{Kind: Null}
	}
	switch x := v.(type) {
	case nil:
		return &Node{Kind: Null}
	case string:
		return &Node{Kind: String, Str: x}
	case bool:
		return &Node{Kind: Bool, Str: strconv.FormatBool(x)}
	case int:
		return &Node{Kind: Number, Str: strconv.Itoa(x)}
	case int64:
		return &Node{Kind: Number, Str: strconv.FormatInt(x, 10)}
	case uint64:
		return &Node{Kind: Number, Str: strconv.FormatUint(x, 10)}
	case float64:
		return &Node{Kind: Number, Str: formatFloat(x)}
	case []any:
		ord, _ := ordered.([]any)
		n := &Node{Kind: Array, Elems: make([]*Node, 0, len(x))}
		for i, e := range x {
			var oe any
			if i < len(ord) {
				oe = ord[i]
			}
			n.Elems = append(n.Elems, c.node(Index(path, i), e, oe, depth+1))
		}
		return n
	case map[any]any:
		n := &Node{Kind: Object, Vals: make(map[string]*Node, len(x))}
		ord, _ := ordered.(yaml.MapSlice)
		last := make(map[any]any, len(ord))
		reported := map[any]bool{}
		for _, it := range ord {
			key, ok := it.Key.(string)
			if !ok {
				if hashable(it.Key) && !reported[it.Key] {
					c.problems.Add(path, "%s", nonStringKey(it.Key))
					reported[it.Key] = true
				}
				continue
			}
			if _, seen := last[key]; seen {
				n.Dups = append(n.Dups, key)
			} else {
				n.Keys = append(n.Keys, key)
			}
			last[key] = it.Value
		}
		// Keys the ordered form lacks (merged ones, or all of them in a
		// mapping inside a list at the top) come sorted.
		var rest []string
		for k := range x {
			key, ok := k.(string)
			if !ok {
				if !reported[k] {
					c.problems.Add(path, "%s", nonStringKey(k))
					reported[k] = true
				}
				continue
			}
			if _, inOrder := last[key]; !inOrder {
				rest = append(rest, key)
			}
		}
		sort.Strings(rest)
		n.Keys = append(n.Keys, rest...)
		for _, k := range n.Keys {
			n.Vals[k] = c.node(Field(path, k), x[k], last[k], depth+1)
		}
		return n
	case map[string]any:
		n := &Node{Kind: Object, Vals: make(map[string]*Node, len(x))}
		for k := range x {
			n.Keys = append(n.Keys, k)
		}
		sort.Strings(n.Keys)
		for _, k := range n.Keys {
			n.Vals[k] = c.node(Field(path, k), x[k], nil, depth+1)
		}
		return n
	}
	// The YAML library decodes into none but the types above (timestamps
	// and binary stay strings); this is for a caller's own values.
	c.problems.Add(path, "is a %T, which no document holds", v)
	return &Node{Kind: Null}
}

// hashable reports whether k can be a Go map key: a YAML key that is a
// list or mapping cannot.
func hashable(k any) bool {
	switch k.(type) {
	case []any, yaml.MapSlice, map[any]any:
		return false
	}
	return true
}

// formatFloat writes a YAML float as a number literal that does not read as
// a whole number: 1.0 stays "1.0" (a field that takes a whole number refuses
// it, as it refuses 1.5); infinities and NaN are "+Inf", "-Inf" and "NaN".
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !math.IsInf(f, 0) && !math.IsNaN(f) && !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func nonStringKey(k any) string {
	switch k := k.(type) {
	case bool:
		return fmt.Sprintf("a key is read by YAML as the boolean %v (YAML 1.1 reads on, off, yes, no, y and n that way); quote it", k)
	case nil:
		return "a key is empty or null; give it a name"
	case int, int64, uint64, float64:
		return fmt.Sprintf("key %v is the number %v, not a string; quote it", k, k)
	case []any:
		return "a key is a list, not a string"
	case yaml.MapSlice, map[any]any:
		return "a key is a mapping, not a string"
	default:
		return fmt.Sprintf("key %v is a %T, not a string; quote it", k, k)
	}
}

// Value turns the Node into plain values, as encoding/json decodes into an
// interface{}: map[string]any, []any, string, bool, nil, and for a number
// an int, a uint64 past int's range, or a float64.
func (n *Node) Value() any {
	switch n.Kind {
	case Null:
		return nil
	case Bool:
		return n.Str == "true"
	case Number:
		if i, err := strconv.ParseInt(n.Str, 10, 0); err == nil {
			return int(i)
		}
		if u, err := strconv.ParseUint(n.Str, 10, 64); err == nil {
			return u
		}
		f, _ := strconv.ParseFloat(n.Str, 64)
		return f
	case String:
		return n.Str
	case Array:
		out := make([]any, len(n.Elems))
		for i, e := range n.Elems {
			out[i] = e.Value()
		}
		return out
	}
	out := make(map[string]any, len(n.Vals))
	for k, v := range n.Vals {
		out[k] = v.Value()
	}
	return out
}
