package config

import (
	"path/filepath"
)

// LoadServing reads a configuration file for `serve --ratify-resources`,
// where the trust comes from Ratify's resources and the file says how to
// serve: listen, tls, mode, admission, verification (but for
// requireAllSignatures, which a Policy resource sets) and
// allowedRegistries. A field the resources give is a problem at its path,
// rather than being silently overridden; so are problems of the fields it
// may set. Defaults are not applied, and the listener's TLS files are not
// required here: flags may give them, and the whole configuration is
// validated once the resources' part is laid over it (TakeServing).
func LoadServing(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	c, err := decode(path, data)
	if err != nil {
		return nil, err
	}
	c.resolvePaths(filepath.Dir(path))
	var ps problems
	const fromResources = "comes from Ratify's resources with --ratify-resources: leave it out of this file"
	if len(c.TrustStores) > 0 {
		ps.add("trustStores", fromResources+" (CertificateStore, KeyManagementProvider)")
	}
	if c.TrustStoreDir != "" {
		ps.add("trustStoreDir", fromResources+" (CertificateStore, KeyManagementProvider)")
	}
	if c.TrustStoreRefresh.Duration != 0 {
		ps.add("trustStoreRefresh", fromResources+" (the providers' refreshInterval)")
	}
	if c.TrustPolicy.File != "" || len(c.TrustPolicy.Inline) > 0 {
		ps.add("trustPolicy", fromResources+" (the notation Verifier's trustPolicyDoc)")
	}
	if c.CosignConfigured() || c.Cosign.TrustedRootFile != "" {
		ps.add("cosign", fromResources+" (the cosign Verifier; --ratify-cosign-trusted-root for the trusted root)")
	}
	if len(c.SignatureKinds.Default) > 0 || len(c.SignatureKinds.Rules) > 0 {
		ps.add("signatureKinds", fromResources+" (the Verifiers present)")
	}
	if c.Verification.RequireAllSignatures {
		ps.add("verification.requireAllSignatures", fromResources+" (the Policy's artifactVerificationPolicies)")
	}
	if len(c.Registries) > 0 {
		ps.add("registries", fromResources+" (the Store's authProvider and useHttp)")
	}
	eff := *c
	eff.ApplyDefaults()
	checkMode(&ps, "mode", eff.Mode)
	eff.validateAdmission(&ps)
	eff.validateVerification(&ps)
	eff.validateAllowedRegistries(&ps)
	if err := ps.err(path); err != nil {
		return nil, err
	}
	return c, nil
}

// TakeServing lays the serving settings of base, a file LoadServing read,
// over c, the configuration made from Ratify's resources: the listen
// address, TLS files and mode where base sets them (the import names the
// chart's TLS files), and base's admission, verification (but for
// requireAllSignatures, which stays the resources') and allowedRegistries.
func (c *Config) TakeServing(base *Config) {
	if base.Listen != "" {
		c.Listen = base.Listen
	}
	for _, f := range []struct{ to, from *string }{
		{&c.TLS.CertFile, &base.TLS.CertFile}, {&c.TLS.KeyFile, &base.TLS.KeyFile}, {&c.TLS.ClientCAFile, &base.TLS.ClientCAFile},
	} {
		if *f.from != "" {
			*f.to = *f.from
		}
	}
	if base.Mode != "" {
		c.Mode = base.Mode
	}
	c.Admission = base.Admission
	requireAll := c.Verification.RequireAllSignatures
	c.Verification = base.Verification
	c.Verification.RequireAllSignatures = requireAll
	c.AllowedRegistries = base.AllowedRegistries
}
