package demo

import "strings"

// shortRef shortens the digest in an image reference for display:
// 127.0.0.1:5000/net-monitor@sha256:0123456789ab...
func shortRef(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i+1] + shortDigest(ref[i+1:])
	}
	return ref
}

// shortDigest keeps the algorithm and the first 12 hex digits of a digest.
func shortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return alg + ":" + hex[:12] + "..."
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
