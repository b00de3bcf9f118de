package certpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/strict"
)

// policyEnvelope is the {"policy": {...}} form the vault returns.
type policyEnvelope struct {
	Policy *Policy `json:"policy"`
}

// snakeCaseHints maps the vault REST API's field names to the CLI's, which
// are the ones hallmark reads.
var snakeCaseHints = map[string]string{
	"key_props":        "keyProperties",
	"secret_props":     "secretProperties",
	"x509_props":       "x509CertificateProperties",
	"lifetime_actions": "lifetimeActions",
	"issuer":           "issuerParameters",
}

// Parse reads a certificate policy (see Policy) in JSON, bare or
// wrapped in {"policy": {...}}, applies defaults and validates it. Every
// error wraps ErrInvalidPolicy and is a *PolicyError listing every problem
// with its JSON field path: syntax errors with line and column, unknown or
// duplicate fields, values of the wrong type, and everything Validate
// reports. Field names are matched exactly, unlike encoding/json, so a typo
// such as "keysize" is an error rather than silently the default.
func Parse(data []byte) (*Policy, error) {
	fail := func(probs ...Problem) (*Policy, error) { return nil, &PolicyError{Problems: probs} }
	if len(data) > MaxSize {
		return fail(Problem{Message: fmt.Sprintf("policy is larger than %d bytes; a certificate policy is a few hundred bytes of JSON", MaxSize)})
	}

	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return fail(Problem{Message: syntaxMessage(data, err)})
	}
	if top == nil {
		return fail(Problem{Message: "policy must be a JSON object, not null"})
	}

	// A bare policy has no "policy" field, so its presence means the
	// wrapped form.
	var (
		p      *Policy
		prefix string
	)
	if _, wrapped := top["policy"]; wrapped {
		if probs := checkFields(data, reflect.TypeFor[policyEnvelope]()); len(probs) > 0 {
			return fail(probs...)
		}
		var env policyEnvelope
		if err := json.Unmarshal(data, &env); err != nil {
			return fail(Problem{Message: err.Error()})
		}
		if env.Policy == nil {
			return fail(Problem{Path: "policy", Message: "must be an object, not null"})
		}
		p, prefix = env.Policy, "policy."
	} else {
		if probs := checkFields(data, reflect.TypeFor[Policy]()); len(probs) > 0 {
			return fail(probs...)
		}
		p = &Policy{}
		if err := json.Unmarshal(data, p); err != nil {
			return fail(Problem{Message: err.Error()})
		}
	}

	p.ApplyDefaults()
	if probs := p.problems(); len(probs) > 0 {
		for i := range probs {
			probs[i].Path = prefix + probs[i].Path
		}
		return fail(probs...)
	}
	return p, nil
}

// syntaxMessage turns a JSON error into a message with a line and column.
func syntaxMessage(data []byte, err error) string {
	if len(bytes.TrimSpace(data)) == 0 {
		return "policy is empty; expected a JSON object"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field == "" {
		return fmt.Sprintf("policy must be a JSON object, not %s", te.Value)
	}
	return "invalid JSON: " + err.Error()
}

// lineCol converts a byte offset (as json.SyntaxError reports it, the count
// of bytes read) into a 1-based line and column.
func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:max(offset-1, 0)]
	line = bytes.Count(before, []byte("\n")) + 1
	col = len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// checkFields walks the JSON tokens against the Go type that will hold them
// and reports, with paths, every field the type does not have (compared
// exactly), every field given twice and every value of the wrong JSON type.
// encoding/json's DisallowUnknownFields reports only the first unknown field,
// without its path, and matches names case-insensitively.
func checkFields(data []byte, t reflect.Type) []Problem {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &fieldWalker{dec: dec}
	if err := w.value(t, ""); err != nil {
		// The document was valid JSON a moment ago; this cannot happen,
		// but an error here must not pass as "no problems".
		return []Problem{{Message: "invalid JSON: " + err.Error()}}
	}
	return w.probs
}

type fieldWalker struct {
	dec   *json.Decoder
	probs []Problem
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func (w *fieldWalker) add(path, format string, args ...any) {
	w.probs = append(w.probs, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// value reads one JSON value that should fit t.
func (w *fieldWalker) value(t reflect.Type, path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if tok == nil || t == rawMessageType || t.Kind() == reflect.Interface {
		return w.skip(tok)
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			w.wrongType(path, "an object", tok)
			return w.skip(tok)
		}
		return w.object(t, path)
	case reflect.Slice:
		if tok != json.Delim('[') {
			w.wrongType(path, "an array", tok)
			return w.skip(tok)
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return err
	case reflect.String:
		if _, ok := tok.(string); !ok {
			w.wrongType(path, "a string", tok)
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			w.wrongType(path, "true or false", tok)
		}
	case reflect.Int:
		n, ok := tok.(json.Number)
		if !ok {
			w.wrongType(path, "a number", tok)
			break
		}
		if _, err := strconv.ParseInt(string(n), 10, 32); err != nil {
			w.add(path, "%s is not a whole number in range", strict.Clip(string(n)))
		}
	default:
		// Every field of Policy has one of the kinds above; a new kind
		// must be handled here rather than accepted unchecked.
		w.add(path, "internal error: no check for %s", t.Kind())
	}
	return w.skip(tok)
}

// object reads the members of an object after its '{'.
func (w *fieldWalker) object(t reflect.Type, path string) error {
	fields := jsonFields(t)
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		kpath := key
		if path != "" {
			kpath = path + "." + key
		}
		field, known := fields[key]
		switch {
		case seen[key]:
			w.add(kpath, "is given twice")
		case !known:
			w.add(kpath, "%s", unknownFieldMessage(key, fields))
		}
		seen[key] = true
		if !known {
			field = rawMessageType
		}
		if err := w.value(field, kpath); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

func unknownFieldMessage(key string, fields map[string]reflect.Type) string {
	if _, ok := fields["policy"]; ok && len(fields) == 1 {
		return "unknown field next to \"policy\"; give the policy object alone " +
			"(for example the output of az keyvault certificate show --query policy)"
	}
	if hint, ok := snakeCaseHints[key]; ok {
		if _, ok := fields[hint]; ok {
			return fmt.Sprintf("unknown field; hallmark reads the Azure CLI's camelCase form: use %q", hint)
		}
	}
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf("unknown field; did you mean %q?", name)
		}
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	return "unknown field; expected one of " + strings.Join(names, ", ")
}

// wrongType reports a value of the wrong JSON type.
func (w *fieldWalker) wrongType(path, want string, tok json.Token) {
	var got string
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			got = "an object"
		} else {
			got = "an array"
		}
	case string:
		got = fmt.Sprintf("the string %q", strict.Clip(v))
	case json.Number:
		got = "the number " + strict.Clip(string(v))
	case bool:
		got = strconv.FormatBool(v)
	}
	w.add(path, "must be %s, not %s", want, got)
}

// skip consumes the rest of a value whose first token was tok.
func (w *fieldWalker) skip(tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// jsonFields maps a struct's JSON names to field types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		fields[name] = f.Type
	}
	return fields
}
