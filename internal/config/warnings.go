package config

import (
	"fmt"
	"net"
	"strings"
)

// Warnings lists the settings that weaken verification or registry
// security, one sentence each, for the server to log loudly at start and on
// every reload and for `hallmark config validate` to print. They are
// allowed, not errors, but nobody should run with them by accident.
func (c *Config) Warnings() []string {
	var ws []string
	if c.Mode == ModeAudit {
		ws = append(ws, "mode: audit admits images that fail verification (with a warning); only deny enforces signatures")
	}
	for _, ns := range sortedKeys(c.Admission.NamespaceModes) {
		if c.Admission.NamespaceModes[ns] == ModeAudit {
			ws = append(ws, fmt.Sprintf("admission.namespaceModes.%s: audit admits images that fail verification in namespace %s", ns, ns))
		}
	}
	if a := c.Admission; a.RequireDigest != nil && !*a.RequireDigest {
		ws = append(ws, "admission.requireDigest: false admits images named by a tag without a digest; the kubelet resolves the tag again and may run content that was never verified")
	} else if a.Mutate != nil && !*a.Mutate {
		ws = append(ws, "admission.mutate: false leaves tags unpinned, and deny mode refuses every image named by a tag without a digest unless Gatekeeper's mutation pins it")
	}
	if a := c.Admission; a.TrustNamespacePrefixFromAnyCaller {
		ws = append(ws, "admission.trustNamespacePrefixFromAnyCaller: any caller of the Gatekeeper provider can pick the namespace whose exclusions apply to a key")
	}
	if n := len(c.Admission.ExemptImages); n > 0 {
		ws = append(ws, fmt.Sprintf("admission.exemptImages: images matching %s are admitted without verification", strings.Join(c.Admission.ExemptImages, ", ")))
	}
	for i, r := range c.Registries {
		hosts := strings.Join(r.Hosts, ", ")
		if r.InsecureSkipTLSVerify {
			ws = append(ws, fmt.Sprintf("registries[%d].insecureSkipTLSVerify: the TLS certificates of %s are not verified; anyone on the network path can impersonate these registries and take their credentials", i, hosts))
		}
		if r.PlainHTTP && !allLoopback(r.Hosts) {
			ws = append(ws, fmt.Sprintf("registries[%d].plainHTTP: %s are reached over unencrypted HTTP, credentials included", i, hosts))
		}
	}
	return ws
}

// allLoopback reports whether every pattern names a loopback host, where
// plain HTTP does not leave the machine.
func allLoopback(patterns []string) bool {
	for _, p := range patterns {
		host := p
		if h, _, err := net.SplitHostPort(p); err == nil {
			host = h
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}
