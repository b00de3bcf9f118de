package strict

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// decodeItem and decodeDoc hold every kind of value Decode fills.
type decodeItem struct {
	Name   string         `json:"name"`
	Count  int8           `json:"count"`
	Size   uint16         `json:"size"`
	Ratio  float32        `json:"ratio"`
	On     *bool          `json:"on"`
	Tags   []string       `json:"tags,omitempty"`
	Labels map[string]int `json:"labels,omitempty"`
	Next   *decodeItem    `json:"next,omitempty"`
}

type decodeDoc struct {
	ID      string       `json:"id"`
	Limit   int          `json:"limit"`
	Weight  float64      `json:"weight"`
	Items   []decodeItem `json:"items"`
	Inner   decodeItem   `json:"inner"`
	Ignored string       `json:"-"`
	//lint:ignore U1000 there to show that an unexported field is not a field
	hidden string
}

// decodeNames are the json names of decodeDoc and decodeItem.
var decodeNames = []string{"id", "limit", "weight", "items", "inner", "name", "count", "size", "ratio", "on", "tags", "labels", "next"}

// stamp is an Unmarshaler, as a duration is in a configuration.
type stamp struct{ v string }

func (s *stamp) UnmarshalNode(n *Node) error {
	if n.Kind != String || !strings.HasPrefix(n.Str, "t") {
		return WrongType(n, `a stamp such as "t1"`)
	}
	s.v = n.Str
	return nil
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		yaml bool
		want []string // every problem, in order
	}{
		{name: "valid", in: `{"id":"a","limit":-3,"weight":1.5,"items":[{"name":"x","count":127,"size":65535,"ratio":0.5,"on":true,"tags":["a"],"labels":{"a.b":1},"next":{"name":"y"}}],"inner":null}`},
		{name: "wrong types at depth", in: `{"id":1,"items":[{"name":"x"},{"next":{"next":{"tags":"a","labels":[],"on":"yes"}}}],"inner":[]}`, want: []string{
			"id: must be a string, not the number 1",
			"items[1].next.next.tags: must be an array, not the string \"a\"",
			"items[1].next.next.labels: must be an object, not an array",
			"items[1].next.next.on: must be true or false, not the string \"yes\"",
			"inner: must be an object, not an array",
		}},
		{name: "wrong types in YAML words", yaml: true, in: "id: [1]\nitems: {a: 1}\ninner:\n  tags: {}\n  \"on\": 1\n", want: []string{
			"id: must be a string, not a list",
			"items: must be a list, not a mapping",
			"inner.tags: must be a list, not a mapping",
			"inner.on: must be true or false, not the number 1",
		}},
		{name: "unknown field with suggestion", in: `{"limt":1,"inner":{"nmae":"x"}}`, want: []string{
			`limt: unknown field "limt"; did you mean "limit"?`,
			`inner.nmae: unknown field "nmae"; did you mean "name"?`,
		}},
		{name: "unknown field, nothing close", in: `{"colour":1}`, want: []string{
			`colour: unknown field "colour"; known fields here: id, inner, items, limit, weight`,
		}},
		{name: "case only", in: `{"ID":"a","items":[{"Tags":[]}]}`, want: []string{
			`ID: unknown field "ID"; did you mean "id"? (field names are case-sensitive)`,
			`items[0].Tags: unknown field "Tags"; did you mean "tags"? (field names are case-sensitive)`,
		}},
		{name: "untagged and hidden fields are not fields", in: `{"Ignored":"a","hidden":"b"}`, want: []string{
			`Ignored: unknown field "Ignored"; known fields here: id, inner, items, limit, weight`,
			`hidden: unknown field "hidden"; known fields here: id, inner, items, limit, weight`,
		}},
		{name: "repeats", in: `{"id":"a","id":"b","inner":{"labels":{"x":1,"x":2}}}`, want: []string{
			"id: appears more than once; keep one",
			"inner.labels.x: appears more than once; keep one",
		}},
		{name: "integers out of range", in: `{"limit":99999999999999999999,"inner":{"count":128,"size":-1},"items":[{"size":65536,"count":-129}]}`, want: []string{
			"limit: the number 99999999999999999999 is out of range; it must be from -9223372036854775808 to 9223372036854775807",
			"inner.count: the number 128 is out of range; it must be from -128 to 127",
			"inner.size: must be a whole number, not the number -1",
			"items[0].size: the number 65536 is out of range; it must be from 0 to 65535",
			"items[0].count: the number -129 is out of range; it must be from -128 to 127",
		}},
		{name: "floats for integers", in: `{"limit":1.5,"inner":{"count":1e2,"size":2.0}}`, want: []string{
			"limit: must be a whole number, not the number 1.5",
			"inner.count: must be a whole number, not the number 1e2",
			"inner.size: must be a whole number, not the number 2.0",
		}},
		{name: "floats out of range", in: `{"weight":1e400,"inner":{"ratio":1e39}}`, want: []string{
			"weight: the number 1e400 is out of range",
			"inner.ratio: the number 1e39 is out of range",
		}},
		{name: "not an object at all", in: `[1]`, want: []string{"must be an object, not an array"}},
		{name: "null is unset", in: `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n *Node
			if tt.yaml {
				var probs Problems
				var err error
				n, probs, err = NewYAMLReader([]byte(tt.in), YAMLLimits{}).Next()
				if err != nil || len(probs) > 0 {
					t.Fatal(err, probs)
				}
			} else {
				var err error
				if n, err = ParseJSON([]byte(tt.in)); err != nil {
					t.Fatal(err)
				}
			}
			var doc decodeDoc
			var got []string
			for _, p := range Decode(n, &doc, DecodeOptions{}) {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestDecodeOptions(t *testing.T) {
	n, err := ParseJSON([]byte(`{"limit":3000000000,"key_name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	var doc decodeDoc
	probs := Decode(n, &doc, DecodeOptions{
		IntBits: 32,
		Unknown: func(name string, known []string) string { return name + " is not one of " + strings.Join(known, " ") },
	})
	want := Problems{
		{Path: "limit", Message: "the number 3000000000 is out of range; it must be from -2147483648 to 2147483647"},
		{Path: "key_name", Message: "key_name is not one of id inner items limit weight"},
	}
	if !reflect.DeepEqual(probs, want) {
		t.Errorf("got %v, want %v", probs, want)
	}
}

func TestDecodeUnmarshalerAndRawJSON(t *testing.T) {
	var doc struct {
		At    stamp           `json:"at"`
		Times []*stamp        `json:"times"`
		Raw   json.RawMessage `json:"raw"`
		Inf   json.RawMessage `json:"inf"`
		Dup   json.RawMessage `json:"dup"`
	}
	n, _, err := NewYAMLReader([]byte("at: t1\ntimes: [t2, 3]\nraw: {b: [1, 2.5, x], a: null}\ninf: .inf\ndup: {a: 1, a: 2}\n"), YAMLLimits{}).Next()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range Decode(n, &doc, DecodeOptions{}) {
		got = append(got, p.String())
	}
	want := []string{
		`times[1]: must be a stamp such as "t1", not the number 3`,
		"inf: +Inf cannot be written in JSON",
		"dup.a: appears more than once; keep one",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if doc.At.v != "t1" || len(doc.Times) != 2 || doc.Times[0].v != "t2" || doc.Times[1] != nil {
		t.Errorf("decoded %+v", doc)
	}
	if string(doc.Raw) != `{"b":[1,2.5,"x"],"a":null}` {
		t.Errorf("raw JSON %s", doc.Raw)
	}
}

func TestDecodeNeedsPointer(t *testing.T) {
	var doc decodeDoc
	if probs := Decode(&Node{Kind: Object, Vals: map[string]*Node{}}, doc, DecodeOptions{}); len(probs) != 1 || !strings.Contains(probs[0].Message, "internal error") {
		t.Errorf("decoding into a non-pointer: %v", probs)
	}
}

// FuzzDecodeAgreesWithJSON: for a JSON document, Decode and encoding/json
// (with DisallowUnknownFields) agree on whether it fits decodeDoc and, when
// both accept, on the value. Decode may refuse more, but only for what it
// is meant to refuse and encoding/json lets by: a field given twice, or a
// field name that matches only when case is ignored.
func FuzzDecodeAgreesWithJSON(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","limit":-3,"weight":1.5,"items":[{"name":"x","count":127,"size":65535,"ratio":0.5,"on":true,"tags":["a"],"labels":{"a":1},"next":{"name":"y"}}]}`,
		`{"ID":"a"}`, `{"id":"a","id":"b"}`, `{"inner":{"count":128}}`, `{"limit":1.0}`, `null`, `[]`, `{"items":null,"inner":{"next":null}}`,
		`{"weight":1e400}`, `{"inner":{"ratio":1e39,"size":-0}}`, `{"Ignored":1}`, `{"hidden":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseJSON(data)
		if err != nil {
			return // FuzzParseJSON checks the reader against encoding/json
		}
		var got decodeDoc
		probs := Decode(n, &got, DecodeOptions{})
		var want decodeDoc
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		stdErr := dec.Decode(&want)
		switch {
		case len(probs) == 0 && stdErr != nil:
			t.Fatalf("Decode accepted what encoding/json refuses (%v)", stdErr)
		case len(probs) > 0 && stdErr == nil:
			for _, p := range probs {
				if !tighter(p) {
					t.Fatalf("Decode refused what encoding/json accepts: %v", p)
				}
			}
		case len(probs) == 0 && !reflect.DeepEqual(got, want):
			t.Fatalf("Decode read %+v, encoding/json %+v", got, want)
		}
	})
}

// tighter reports whether p is one of the problems Decode reports and
// encoding/json does not: a repeat, or a name equal to a field's but for
// case (as encoding/json folds it).
func tighter(p Problem) bool {
	if strings.HasPrefix(p.Message, "appears more than once") {
		return true
	}
	_, rest, ok := strings.Cut(p.Message, "unknown field ")
	if !ok {
		return false
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return false
	}
	name, _ := strconv.Unquote(q)
	for _, k := range decodeNames {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}
