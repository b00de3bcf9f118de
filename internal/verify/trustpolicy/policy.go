package trustpolicy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// maxTrustPolicySize caps a trust policy document. Real policies are a few
// KiB even with hundreds of repositories; the cap keeps a mistaken path (a
// log file, an image) or a hostile ConfigMap from being read into memory.
const maxTrustPolicySize = 1 << 20 // 1 MiB

// Version is the only trustpolicy.json version notation-go v1.3
// understands.
const Version = "1.0"

const (
	wildcard        = "*"
	x509SubjectType = "x509.subject"
)

// Field names of trustpolicy.json v1.0, used to report unknown fields and
// to suggest the intended one.
var (
	documentFields  = []string{"version", "trustPolicies"}
	statementFields = []string{"name", "registryScopes", "signatureVerification", "trustStores", "trustedIdentities"}
	sigVerifyFields = []string{"level", "override", "verifyTimestamp"}
)

// The registry host and repository grammar of the OCI distribution
// reference, which notation-go uses to validate registry scopes.
var (
	scopeDomainRe = regexp.MustCompile(`^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$`)
	scopeRepoRe   = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-*)[a-z0-9]+)*)*$`)
	storeNameRe   = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
)

// Parse parses and validates a Notary Project trustpolicy.json
// (version 1.0). On failure it returns a *PolicyError that lists every
// problem with its JSON field path, so all of them can be fixed at once.
// A policy it accepts is also accepted by notation-go's Document.Validate.
func Parse(data []byte) (*trustpolicy.Document, error) {
	return parseTrustPolicy("", data)
}

// Load reads and parses the trust policy file at path. The file
// must be a regular file, not a symlink: a policy decides what runs in a
// cluster, and a symlink could be re-pointed by anyone who can write its
// directory.
func Load(path string) (*trustpolicy.Document, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("trust policy %s does not exist; write one (see docs) or point to it with the right path: %w", path, err)
		}
		return nil, fmt.Errorf("trust policy %s: %w", path, err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: "is a symlink; trust policies must be regular files, so copy the file here instead of linking it"}}}
	case fi.IsDir():
		msg := "is a directory, not a trust policy file"
		if _, err := os.Lstat(filepath.Join(path, "trustpolicy.json")); err == nil {
			msg += "; did you mean " + filepath.Join(path, "trustpolicy.json") + "?"
		}
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: msg}}}
	case !fi.Mode().IsRegular():
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: "is not a regular file"}}}
	case fi.Size() > maxTrustPolicySize:
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: sizeMessage(fi.Size())}}}
	}
	// Capped again: the file may have grown since Lstat.
	data, err := capped.ReadFile(path, maxTrustPolicySize)
	if errors.Is(err, capped.ErrTooLarge) {
		return nil, &PolicyError{Source: path, Problems: []Problem{{Message: fmt.Sprintf("is larger than %d bytes (%d KiB), far above any real policy, so this is probably the wrong file", maxTrustPolicySize, maxTrustPolicySize>>10)}}}
	}
	if err != nil {
		return nil, fmt.Errorf("trust policy %s: %w", path, err)
	}
	return parseTrustPolicy(path, data)
}

func sizeMessage(n int64) string {
	return fmt.Sprintf("is %d bytes; the limit is %d bytes (%d KiB), far above any real policy, so this is probably the wrong file", n, maxTrustPolicySize, maxTrustPolicySize>>10)
}

func parseTrustPolicy(source string, data []byte) (*trustpolicy.Document, error) {
	if len(data) > maxTrustPolicySize {
		return nil, &PolicyError{Source: source, Problems: []Problem{{Message: sizeMessage(int64(len(data)))}}}
	}
	root, err := strict.ParseJSON(data)
	if errors.Is(err, strict.ErrEmpty) {
		err = errors.New("empty document; a trust policy is a JSON object with version and trustPolicies")
	}
	if err != nil {
		return nil, &PolicyError{Source: source, Problems: []Problem{{Message: err.Error()}}}
	}
	b := &policyBuilder{typeErr: map[string]bool{}}
	doc := b.document(root)
	problems := append(b.problems, validateDocument(doc, b.typeErr)...)
	if len(problems) > 0 {
		return nil, &PolicyError{Source: source, Problems: sortProblems(problems)}
	}
	// Our checks are meant to be a superset of notation-go's; its own
	// validator stays the final word so that a gap in ours can never let
	// through a policy the verifier would read differently.
	if err := doc.Validate(); err != nil {
		return nil, &PolicyError{Source: source, Problems: []Problem{{Message: "notation-go rejects the policy: " + err.Error()}}}
	}
	return doc, nil
}

// Validate checks a trust policy built in memory (for example
// from configuration) with the same rules as Parse.
func Validate(doc *trustpolicy.Document) error {
	if doc == nil {
		return &PolicyError{Problems: []Problem{{Message: "no trust policy given"}}}
	}
	if problems := validateDocument(doc, nil); len(problems) > 0 {
		return &PolicyError{Problems: sortProblems(problems)}
	}
	if err := doc.Validate(); err != nil {
		return &PolicyError{Problems: []Problem{{Message: "notation-go rejects the policy: " + err.Error()}}}
	}
	return nil
}

// sortProblems orders problems the way they appear in the document:
// document-level first, then statement by statement. Within that, the order
// in which they were found is kept.
func sortProblems(ps []Problem) []Problem {
	statement := func(path string) int {
		rest, ok := strings.CutPrefix(path, "trustPolicies[")
		if !ok {
			return -1
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return -1
		}
		n, err := strconv.Atoi(rest[:end])
		if err != nil {
			return -1
		}
		return n
	}
	sort.SliceStable(ps, func(i, j int) bool { return statement(ps[i].Path) < statement(ps[j].Path) })
	return ps
}
