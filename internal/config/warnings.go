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
