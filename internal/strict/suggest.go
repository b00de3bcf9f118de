package strict

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Suggest returns the name in known that name is most likely a misspelling
// of: equal but for case, or within three edits (ignoring case), the
// nearest first. It returns "" when none is that close.
func Suggest(name string, known []string) string {
	best, bestDist := "", 4
	for _, c := range known {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20 // not a typo of a field name; skip the quadratic work
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Field returns the path of member key of the object at path:
// "trustPolicies[0].name", or `namespaceModes["a.b"]` for a key that would
// not read as one path element.
func Field(path, key string) string {
	if !isIdentifier(key) {
		key = strconv.Quote(key)
		if path == "" {
			return "[" + key + "]"
		}
		return path + "[" + key + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index returns the path of element i of the array at path: "ekus[1]".
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// UnknownField is the one message for a member name a document does not
// define: the nearest known name when one is close, saying so when only
// the case differs, or else the known names.
func UnknownField(name string, known []string) string {
	return UnknownName("field", name, known)
}

// UnknownName is UnknownField for other kinds of names (what: "check").
func UnknownName(what, name string, known []string) string {
	best := Suggest(name, known)
	switch {
	case best != "" && strings.EqualFold(best, name):
		return fmt.Sprintf("unknown %s %q; did you mean %q? (%s names are case-sensitive)", what, Clip(name), best, what)
	case best != "":
		return fmt.Sprintf("unknown %s %q; did you mean %q?", what, Clip(name), best)
	}
	sorted := slices.Sorted(slices.Values(known))
	return fmt.Sprintf("unknown %s %q; known %ss here: %s", what, Clip(name), what, strings.Join(sorted, ", "))
}
