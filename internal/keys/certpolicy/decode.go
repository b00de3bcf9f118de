package certpolicy

import (
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

	root, err := strict.ParseJSON(data)
	if errors.Is(err, strict.ErrEmpty) {
		return fail(Problem{Message: "policy is empty; expected a JSON object"})
	}
	if err != nil {
		return fail(Problem{Message: err.Error()})
	}
	if root.Kind != strict.Object {
		return fail(Problem{Message: "policy must be a JSON object, not " + root.Describe()})
	}

	// A bare policy has no "policy" field, so its presence means the
	// wrapped form.
	var (
		p      *Policy
		prefix string
	)
	if _, wrapped := root.Vals["policy"]; wrapped {
		if probs := checkFields(root, reflect.TypeFor[policyEnvelope]()); len(probs) > 0 {
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
		if probs := checkFields(root, reflect.TypeFor[Policy]()); len(probs) > 0 {
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

// checkFields walks the document against the Go type that will hold it and
// reports, with paths, every field the type does not have (compared
// exactly), every field given twice and every value of the wrong JSON type.
// encoding/json's DisallowUnknownFields reports only the first unknown field,
// without its path, and matches names case-insensitively.
func checkFields(root *strict.Node, t reflect.Type) []Problem {
	var probs strict.Problems
	checkValue(&probs, root, t, "")
	return probs
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkValue checks one JSON value that should fit t.
func checkValue(probs *strict.Problems, n *strict.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == strict.Null || t == rawMessageType || t.Kind() == reflect.Interface {
		return
	}
	wrongType := func(want string) { probs.Add(path, "must be %s, not %s", want, describe(n)) }
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != strict.Object {
			wrongType("an object")
			return
		}
		fields := jsonFields(t)
		for _, key := range n.Dups {
			probs.Add(strict.Field(path, key), "is given twice")
		}
		for _, key := range n.Keys {
			field, known := fields[key]
			if !known {
				probs.Add(strict.Field(path, key), "%s", unknownFieldMessage(key, fields))
				continue
			}
			checkValue(probs, n.Vals[key], field, strict.Field(path, key))
		}
	case reflect.Slice:
		if n.Kind != strict.Array {
			wrongType("an array")
			return
		}
		for i, e := range n.Elems {
			checkValue(probs, e, t.Elem(), strict.Index(path, i))
		}
	case reflect.String:
		if n.Kind != strict.String {
			wrongType("a string")
		}
	case reflect.Bool:
		if n.Kind != strict.Bool {
			wrongType("true or false")
		}
	case reflect.Int:
		if n.Kind != strict.Number {
			wrongType("a number")
			return
		}
		if _, err := strconv.ParseInt(n.Str, 10, 32); err != nil {
			probs.Add(path, "%s is not a whole number in range", strict.Clip(n.Str))
		}
	default:
		// Every field of Policy has one of the kinds above; a new kind
		// must be handled here rather than accepted unchecked.
		probs.Add(path, "internal error: no check for %s", t.Kind())
	}
}

// describe names a value for "must be X, not Y", quoting short strings and
// numbers so the mistake is visible.
func describe(n *strict.Node) string {
	switch n.Kind {
	case strict.String:
		return fmt.Sprintf("the string %q", strict.Clip(n.Str))
	case strict.Number:
		return "the number " + strict.Clip(n.Str)
	case strict.Bool:
		return n.Str
	}
	return n.Describe()
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
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	return strict.UnknownField(key, names)
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
