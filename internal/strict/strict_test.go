package strict

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: `{"a": [1, "x", true, null, {}]}`},
		{in: "  \n", wantErr: "empty document"},
		{in: `{"a": 1`, wantErr: "the document ends early, at line 1, column 8"},
		{in: "{\n  \"a\": 1,\n}", wantErr: "not valid JSON at line 3, column 1"},
		{in: `{"a": 1} {}`, wantErr: "unexpected content after the JSON document at line 1, column 10"},
		{in: `{"a": 1}` + "\n  x", wantErr: "at line 2, column 3"},
		{in: strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2), wantErr: "nested more than 16 levels deep"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseJSON([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := ParseJSON(nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("ParseJSON(nil) = %v, want ErrEmpty", err)
	}
}

func TestParseJSONKeepsOrderAndRepeats(t *testing.T) {
	n, err := ParseJSON([]byte(`{"b": 1, "a": 2, "b": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(n.Keys, []string{"b", "a"}) || !reflect.DeepEqual(n.Dups, []string{"b"}) || n.Vals["b"].Str != "3" {
		t.Fatalf("keys %v, dups %v, b = %s", n.Keys, n.Dups, n.Vals["b"].Str)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"registryScopes", "trustStores", "version"}
	for in, want := range map[string]string{
		"registryScope": "registryScopes",
		"Version":       "version",
		"truststores":   "trustStores",
		"colour":        "",
		"":              "",
	} {
		if got := Suggest(in, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnknownField(t *testing.T) {
	known := []string{"version", "registryScopes", "trustStores"}
	for in, want := range map[string]string{
		"registryScope": `unknown field "registryScope"; did you mean "registryScopes"?`,
		"Version":       `unknown field "Version"; did you mean "version"? (field names are case-sensitive)`,
		"colour":        `unknown field "colour"; known fields here: registryScopes, trustStores, version`,
	} {
		if got := UnknownField(in, known); got != want {
			t.Errorf("UnknownField(%q) = %q, want %q", in, got, want)
		}
	}
	if got := UnknownName("check", "expiri", []string{"expiry"}); got != `unknown check "expiri"; did you mean "expiry"?` {
		t.Errorf("UnknownName = %q", got)
	}
}

func TestField(t *testing.T) {
	for _, tt := range [][3]string{
		{"", "a", "a"},
		{"a", "b", "a.b"},
		{"modes", "a.b", `modes["a.b"]`},
		{"", "a b", `["a b"]`},
	} {
		if got := Field(tt[0], tt[1]); got != tt[2] {
			t.Errorf("Field(%q, %q) = %q, want %q", tt[0], tt[1], got, tt[2])
		}
	}
	if got := Index("ekus", 2); got != "ekus[2]" {
		t.Errorf("Index = %q", got)
	}
}

// toValue turns a Node into what encoding/json decodes the same text to.
func toValue(n *Node) any {
	switch n.Kind {
	case Null:
		return nil
	case Bool:
		return n.Str == "true"
	case Number:
		return json.Number(n.Str)
	case String:
		return n.Str
	case Array:
		out := []any{}
		for _, e := range n.Elems {
			out = append(out, toValue(e))
		}
		return out
	}
	out := map[string]any{}
	for k, v := range n.Vals {
		out[k] = toValue(v)
	}
	return out
}

func depth(v any) int {
	switch v := v.(type) {
	case []any:
		d := 0
		for _, e := range v {
			d = max(d, depth(e))
		}
		return d + 1
	case map[string]any:
		d := 0
		for _, e := range v {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

// FuzzParseJSON: ParseJSON and encoding/json agree. Every document one
// accepts (within MaxDepth) the other accepts, with the same values; the
// strict reader only adds what encoding/json forgets (order, repeats).
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, "x", true, null]}`, `{"a": 1, "a": 2}`, `[]`, `"s"`, `1e3`, `{"a":`, `{} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseJSON(data)
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		stdErr := dec.Decode(&want)
		if stdErr == nil && dec.InputOffset() < int64(len(data)) && len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
			stdErr = errors.New("trailing data")
		}
		if stdErr == nil && depth(want) > MaxDepth {
			return // refused by the depth cap alone
		}
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("ParseJSON error %v, encoding/json error %v", err, stdErr)
		}
		if err != nil {
			return
		}
		if got := toValue(n); !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseJSON read %#v, encoding/json %#v", got, want)
		}
	})
}
