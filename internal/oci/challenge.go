package oci

import (
	"io"
	"net/http"
	"strings"
	"sync"
)

// A registry with token authentication wants a token per repository (the
// scope repository:NAME:pull). oras-go's auth client keeps tokens per
// registry and scope, but for a scope it has no token for yet it sends the
// request without one, gets 401 with the challenge (the token service and
// its parameters), fetches the token and sends the request again: two round
// trips before the first answer from a repository not seen before. The
// challenge is the same for every repository of the registry, so once one
// arrived, challenger answers a later read with no token in it itself, with
// that challenge: oras-go then fetches the token at once, and a new
// repository costs one round trip, the token request, which cannot be
// saved since the token names the repository.
//
// It changes nothing else: the token request and its checks are oras-go's,
// the challenge is one the registry itself sent, requests that carry a
// token, writes, and requests to registries that never sent a Bearer
// challenge go to the network as before. If the registry turns a request
// made with such a token away (its challenge changed), the challenge is
// forgotten, and the next read learns it again.
type challenger struct {
	base http.RoundTripper

	mu sync.Mutex
	// bearer holds the last Bearer challenge of each registry host, without
	// its scope.
	bearer map[string]string
}

// maxChallengedHosts bounds challenger.bearer, like maxCachedRepos.
const maxChallengedHosts = 1024

func (c *challenger) RoundTrip(req *http.Request) (*http.Response, error) {
	name, read := repositoryRead(req)
	if read && req.Header.Get("Authorization") == "" {
		if ch, ok := c.challenge(req.URL.Host); ok {
			return synthetic401(req, ch, name), nil
		}
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil || !read {
		return resp, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		if ch, ok := bearerChallenge(resp.Header.Get("Www-Authenticate")); ok && req.Header.Get("Authorization") == "" {
			c.remember(req.URL.Host, ch)
		} else {
			c.forget(req.URL.Host)
		}
	}
	return resp, nil
}

func (c *challenger) challenge(host string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.bearer[host]
	return ch, ok
}

func (c *challenger) remember(host, ch string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bearer == nil || len(c.bearer) >= maxChallengedHosts {
		c.bearer = make(map[string]string)
	}
	c.bearer[host] = ch
}

func (c *challenger) forget(host string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.bearer, host)
}

// repositoryRead returns the repository a read of the registry API names:
// GET or HEAD of /v2/NAME/{manifests,blobs,referrers}/... or
// /v2/NAME/tags/list. Token services, even on the registry's host, have
// other paths.
func repositoryRead(req *http.Request) (string, bool) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return "", false
	}
	rest, ok := strings.CutPrefix(req.URL.Path, "/v2/")
	if !ok {
		return "", false
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok && name != "" {
		return name, true
	}
	for _, kind := range []string{"/manifests/", "/blobs/", "/referrers/"} {
		if i := strings.LastIndex(rest, kind); i > 0 {
			return rest[:i], true
		}
	}
	return "", false
}

// bearerChallenge returns a Bearer challenge without its scope parameter
// (the scope names one repository; the rest is the registry's).
func bearerChallenge(header string) (string, bool) {
	scheme, params, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	var kept []string
	for _, p := range splitParams(params) {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, _, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "scope") || strings.EqualFold(strings.TrimSpace(k), "error") {
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return "", false
	}
	return "Bearer " + strings.Join(kept, ","), true
}

// splitParams splits auth-params at the commas outside quoted strings
// (RFC 9110 11.2): a scope such as "repository:a:pull,push" is one value.
// A backslash inside quotes escapes the next character.
func splitParams(s string) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// synthetic401 is the answer the registry would give req: its challenge,
// with the scope of the repository read.
func synthetic401(req *http.Request, challenge, name string) *http.Response {
	h := http.Header{}
	h.Set("Www-Authenticate", challenge+`,scope="repository:`+name+`:pull"`)
	return &http.Response{
		Status:     "401 Unauthorized",
		StatusCode: http.StatusUnauthorized,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  h,
		Body:    io.NopCloser(strings.NewReader("")),
		Request: req,
	}
}
