package strict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Unmarshaler is implemented by types that read themselves from a Node,
// such as a duration written "2s". The error's text becomes the problem
// reported at the value's path; WrongType words the usual one.
type Unmarshaler interface {
	UnmarshalNode(n *Node) error
}

// DecodeOptions adjusts Decode for one kind of document. The zero value
// decodes by the Go types alone.
type DecodeOptions struct {
	// Unknown words the problem of a field the struct does not have, given
	// the struct's field names sorted; nil is UnknownField. A document
	// uses it to recognise names from another tool's spelling of the same
	// document.
	Unknown func(name string, known []string) string
	// IntBits caps every whole number at this many bits (signed), tighter
	// than the Go type where a document's numbers are later multiplied
	// (days into durations) and must not overflow. 0 is the Go type's size.
	IntBits int
}

// Decode fills dst, a pointer, from n by dst's type and the fields' json
// tags, with the rules every hallmark document is read by: field names are
// matched exactly (encoding/json ignores case), unknown fields and fields
// given twice are refused, every value of the wrong type is reported rather
// than only the first, and each problem has its field path. null leaves a
// value as it is. What decodes is stored even when there are problems, so
// a caller can go on to validate it and report everything at once.
//
// Types Decode fills: strings, booleans, integers and floats, pointers,
// slices, maps with string keys, structs, json.RawMessage (written back as
// compact JSON) and Unmarshalers. Any other type is reported as an internal
// error: a new field type must be taught here, not accepted unchecked.
func Decode(n *Node, dst any, opts DecodeOptions) Problems {
	d := decoder{opts: opts}
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		d.probs.Add("", "internal error: cannot decode into %T, not a pointer", dst)
		return d.probs
	}
	d.value("", n, v.Elem())
	return d.probs
}

// WrongType is the one wording of a value of the wrong type: "must be a
// string, not the number 3".
func WrongType(n *Node, want string) error {
	return fmt.Errorf("must be %s, not %s", want, n.Describe())
}

// Describe names the value for a problem, quoting short strings and
// numbers so the mistake is visible ("the string \"yes\"", "the number
// 1.5"), and naming lists and mappings in the words of the format the
// document was written in.
func (n *Node) Describe() string {
	switch n.Kind {
	case String:
		return fmt.Sprintf("the string %q", Clip(n.Str))
	case Number:
		return "the number " + Clip(n.Str)
	case Bool:
		return "the boolean " + n.Str
	case Array, Object:
		return n.kindName()
	}
	return "null"
}

// kindName is "a list" or "an array", "a mapping" or "an object".
func (n *Node) kindName() string {
	switch {
	case n.Kind == Array && n.YAML:
		return "a list"
	case n.Kind == Array:
		return "an array"
	case n.YAML:
		return "a mapping"
	}
	return "an object"
}

type decoder struct {
	opts  DecodeOptions
	probs Problems
}

var rawJSONType = reflect.TypeFor[json.RawMessage]()

func (d *decoder) wrong(path string, n *Node, want string) {
	d.probs.Add(path, "%s", WrongType(n, want))
}

// container is the wanted kind's name in the words of n's format.
func container(n *Node, kind Kind) string {
	return (&Node{Kind: kind, YAML: n.YAML}).kindName()
}

func (d *decoder) value(path string, n *Node, dst reflect.Value) {
	if n.Kind == Null {
		return
	}
	t := dst.Type()
	if t == rawJSONType {
		var buf bytes.Buffer
		if d.json(path, n, &buf) {
			dst.SetBytes(buf.Bytes())
		}
		return
	}
	if dst.CanAddr() {
		if u, ok := dst.Addr().Interface().(Unmarshaler); ok {
			if err := u.UnmarshalNode(n); err != nil {
				d.probs.Add(path, "%s", err)
			}
			return
		}
	}
	switch t.Kind() {
	case reflect.String:
		if n.Kind != String {
			d.wrong(path, n, "a string")
			return
		}
		dst.SetString(n.Str)
	case reflect.Bool:
		if n.Kind != Bool {
			d.wrong(path, n, "true or false")
			return
		}
		dst.SetBool(n.Str == "true")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		if d.opts.IntBits > 0 && d.opts.IntBits < bits {
			bits = d.opts.IntBits
		}
		i, ok := d.whole(path, n, bits, true)
		if ok {
			dst.SetInt(i)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := t.Bits()
		if d.opts.IntBits > 0 && d.opts.IntBits < bits {
			bits = d.opts.IntBits - 1
		}
		if _, ok := d.whole(path, n, bits, false); ok {
			u, _ := strconv.ParseUint(n.Str, 10, bits)
			dst.SetUint(u)
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != Number {
			d.wrong(path, n, "a number")
			return
		}
		f, err := strconv.ParseFloat(n.Str, t.Bits())
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.probs.Add(path, "the number %s is out of range", Clip(n.Str))
			return
		}
		dst.SetFloat(f)
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		before := len(d.probs)
		d.value(path, n, p.Elem())
		if len(d.probs) == before {
			dst.Set(p)
		}
	case reflect.Slice:
		if n.Kind != Array {
			d.wrong(path, n, container(n, Array))
			return
		}
		s := reflect.MakeSlice(t, len(n.Elems), len(n.Elems))
		for i, e := range n.Elems {
			d.value(Index(path, i), e, s.Index(i))
		}
		dst.Set(s)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			d.probs.Add(path, "internal error: cannot decode into %s", t)
			return
		}
		if n.Kind != Object {
			d.wrong(path, n, container(n, Object))
			return
		}
		d.repeats(path, n)
		m := reflect.MakeMapWithSize(t, len(n.Keys))
		for _, k := range n.Keys {
			ev := reflect.New(t.Elem()).Elem()
			d.value(Field(path, k), n.Vals[k], ev)
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		dst.Set(m)
	case reflect.Struct:
		if n.Kind != Object {
			d.wrong(path, n, container(n, Object))
			return
		}
		d.repeats(path, n)
		fields := structFields(t)
		for _, k := range n.Keys {
			i, ok := fields[k]
			if !ok {
				d.probs.Add(Field(path, k), "%s", d.unknown(k, fields))
				continue
			}
			d.value(Field(path, k), n.Vals[k], dst.Field(i))
		}
	default:
		// Only reachable if a field of a type not handled above is added.
		d.probs.Add(path, "internal error: cannot decode into %s", t)
	}
}

// whole checks that n is a whole number that fits bits, signed or not.
func (d *decoder) whole(path string, n *Node, bits int, signed bool) (int64, bool) {
	if n.Kind != Number {
		d.wrong(path, n, "a whole number")
		return 0, false
	}
	var err error
	var i int64
	if signed {
		i, err = strconv.ParseInt(n.Str, 10, bits)
	} else {
		_, err = strconv.ParseUint(n.Str, 10, bits)
	}
	if errors.Is(err, strconv.ErrRange) {
		if signed {
			d.probs.Add(path, "the number %s is out of range; it must be from %d to %d", Clip(n.Str), int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
		} else {
			d.probs.Add(path, "the number %s is out of range; it must be from 0 to %d", Clip(n.Str), uint64(1)<<bits-1)
		}
		return 0, false
	}
	if err != nil {
		d.wrong(path, n, "a whole number")
		return 0, false
	}
	return i, true
}

// repeats reports keys given twice: readers disagree on which of two equal
// keys wins (encoding/json keeps the last, some YAML readers the first).
func (d *decoder) repeats(path string, n *Node) {
	for _, k := range n.Dups {
		d.probs.Add(Field(path, k), "appears more than once; keep one")
	}
}

func (d *decoder) unknown(name string, fields map[string]int) string {
	known := slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	})
	if d.opts.Unknown != nil {
		return d.opts.Unknown(name, known)
	}
	return UnknownField(name, known)
}

// structFields maps the json names of t's fields to their indexes. Fields
// without a json name are not part of any document.
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

// json writes n as compact JSON to buf, keeping the order of mapping keys,
// and reports what JSON cannot hold (a YAML .inf) and keys given twice.
func (d *decoder) json(path string, n *Node, buf *bytes.Buffer) bool {
	switch n.Kind {
	case Null:
		buf.WriteString("null")
	case Bool:
		buf.WriteString(n.Str)
	case String:
		b, _ := json.Marshal(n.Str)
		buf.Write(b)
	case Number:
		if _, err := strconv.ParseInt(n.Str, 10, 64); err == nil {
			buf.WriteString(n.Str)
			break
		}
		if _, err := strconv.ParseUint(n.Str, 10, 64); err == nil {
			buf.WriteString(n.Str)
			break
		}
		f, err := strconv.ParseFloat(n.Str, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.probs.Add(path, "%s cannot be written in JSON", Clip(n.Str))
			return false
		}
		b, _ := json.Marshal(f)
		buf.Write(b)
	case Array:
		buf.WriteByte('[')
		ok := true
		for i, e := range n.Elems {
			if i > 0 {
				buf.WriteByte(',')
			}
			ok = d.json(Index(path, i), e, buf) && ok
		}
		buf.WriteByte(']')
		return ok
	case Object:
		before := len(d.probs)
		d.repeats(path, n)
		buf.WriteByte('{')
		for i, k := range n.Keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(k)
			buf.Write(b)
			buf.WriteByte(':')
			d.json(Field(path, k), n.Vals[k], buf)
		}
		buf.WriteByte('}')
		return len(d.probs) == before
	}
	return true
}
