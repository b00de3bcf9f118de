package strict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxDepth bounds nesting while reading a document. hallmark's documents
// nest at most six levels deep (a certificate policy's lifetime actions);
// the cap only stops hostile input from costing stack and time.
const MaxDepth = 16

// ErrEmpty is returned by ParseJSON for input that is empty or only
// white space; callers say what the document should have held.
var ErrEmpty = errors.New("empty document")

// Kind is the JSON type of a Node.
type Kind int

// The JSON types.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Node is a JSON or YAML value that keeps what encoding/json forgets and
// a person needs to hear about: the order of object members and keys given
// twice (encoding/json silently keeps the last one).
type Node struct {
	Kind  Kind
	Str   string // the string value, the literal of a number, or "true"/"false"
	Elems []*Node
	Keys  []string // object member names in input order, without repeats
	Vals  map[string]*Node
	Dups  []string // member names that appeared more than once
	// YAML is set on values read from YAML, so that messages call them
	// lists and mappings, as YAML does, rather than arrays and objects.
	YAML bool
}

// ParseJSON reads exactly one JSON value from data. Syntax errors carry the
// line and column so a person can find them; empty input is ErrEmpty.
func ParseJSON(data []byte) (*Node, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmpty
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readNode(dec, 0)
	if err != nil {
		return nil, jsonError(data, dec, err)
	}
	// Where the document ends, anything but white space is left over: a
	// second document, or the rest of a first one closed too early.
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(data[end:], " \t\r\n"); len(rest) > 0 {
		line, col := LineCol(data, int64(len(data)-len(rest)))
		return nil, fmt.Errorf("unexpected content after the JSON document at line %d, column %d", line, col)
	}
	return n, nil
}

func readNode(dec *json.Decoder, depth int) (*Node, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("nested more than %d levels deep", MaxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &Node{Kind: Null}, nil
	case bool:
		return &Node{Kind: Bool, Str: strconv.FormatBool(t)}, nil
	case json.Number:
		return &Node{Kind: Number, Str: t.String()}, nil
	case string:
		return &Node{Kind: String, Str: t}, nil
	case json.Delim:
		switch t {
		case '[':
			n := &Node{Kind: Array, Elems: []*Node{}}
			for dec.More() {
				e, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.Elems = append(n.Elems, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		case '{':
			n := &Node{Kind: Object, Vals: map[string]*Node{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string")
				}
				v, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, seen := n.Vals[key]; seen {
					n.Dups = append(n.Dups, key)
				} else {
					n.Keys = append(n.Keys, key)
				}
				n.Vals[key] = v // the last one wins, as in encoding/json
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func jsonError(data []byte, dec *json.Decoder, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := LineCol(data, syn.Offset)
		return fmt.Errorf("not valid JSON at line %d, column %d: %s", line, col, syn.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		line, col := LineCol(data, int64(len(data))+1)
		return fmt.Errorf("not valid JSON: the document ends early, at line %d, column %d (unclosed bracket or string?)", line, col)
	}
	line, col := LineCol(data, dec.InputOffset())
	return fmt.Errorf("not valid JSON near line %d, column %d: %v", line, col, err)
}

// LineCol converts a byte offset into data (as encoding/json reports it)
// into a 1-based line and column, the way an editor counts them.
func LineCol(data []byte, offset int64) (line, col int) {
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
