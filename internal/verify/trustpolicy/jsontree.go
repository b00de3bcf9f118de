package trustpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxJSONDepth bounds nesting while reading a trust policy. A valid policy
// nests four levels deep (document, statements, statement, override); the
// cap only stops hostile input from costing stack and time.
const maxJSONDepth = 16

// jsonKind is the JSON type of a jsonNode.
type jsonKind int

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonNode is a JSON value that keeps what encoding/json forgets and a
// person needs to hear about: the order of object members and keys given
// twice (encoding/json silently keeps the last one).
type jsonNode struct {
	kind  jsonKind
	str   string // the string value, or the literal of a number
	elems []*jsonNode
	keys  []string // object member names in input order, without repeats
	vals  map[string]*jsonNode
	dups  []string // member names that appeared more than once
}

func (n *jsonNode) describe() string {
	switch n.kind {
	case jsonNull:
		return "null"
	case jsonBool:
		return "a boolean"
	case jsonNumber:
		return "a number (" + n.str + ")"
	case jsonString:
		return "a string"
	case jsonArray:
		return "an array"
	default:
		return "an object"
	}
}

// parseJSONTree reads exactly one JSON value from data. Syntax errors carry
// the line and column so a person can find them.
func parseJSONTree(data []byte) (*jsonNode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readJSONNode(dec, 0)
	if err != nil {
		return nil, describeJSONError(data, dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		line, col := lineCol(data, dec.InputOffset())
		return nil, fmt.Errorf("unexpected content after the JSON document at line %d, column %d", line, col)
	}
	return n, nil
}

func readJSONNode(dec *json.Decoder, depth int) (*jsonNode, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("nested more than %d levels deep", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &jsonNode{kind: jsonNull}, nil
	case bool:
		return &jsonNode{kind: jsonBool}, nil
	case json.Number:
		return &jsonNode{kind: jsonNumber, str: t.String()}, nil
	case string:
		return &jsonNode{kind: jsonString, str: t}, nil
	case json.Delim:
		switch t {
		case '[':
			n := &jsonNode{kind: jsonArray, elems: []*jsonNode{}}
			for dec.More() {
				e, err := readJSONNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		case '{':
			n := &jsonNode{kind: jsonObject, vals: map[string]*jsonNode{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string")
				}
				v, err := readJSONNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, seen := n.vals[key]; seen {
					n.dups = append(n.dups, key)
				} else {
					n.keys = append(n.keys, key)
				}
				n.vals[key] = v // the last one wins, as in encoding/json
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func describeJSONError(data []byte, dec *json.Decoder, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := lineCol(data, syn.Offset)
		return fmt.Errorf("not valid JSON at line %d, column %d: %s", line, col, syn.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if len(bytes.TrimSpace(data)) == 0 {
			return errors.New("empty document; a trust policy is a JSON object with version and trustPolicies")
		}
		return errors.New("not valid JSON: the document ends early (unclosed bracket or string?)")
	}
	line, col := lineCol(data, dec.InputOffset())
	return fmt.Errorf("not valid JSON near line %d, column %d: %v", line, col, err)
}

func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
