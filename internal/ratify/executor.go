package ratify

import (
	"encoding/json"
	"fmt"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// executor maps a Ratify v2 Executor.
func (c *converter) executor(r *Resource) {
	id := r.label()
	rd := reader{res: id, fs: c.fs}
	spec := rd.object("spec", r.Spec, "scopes", "concurrency", "stores", "verifiers", "policyEnforcer")
	var scopes []string
	for i, s := range rd.list("spec", spec, "scopes") {
		str, ok := s.(string)
		if !ok || str == "" {
			c.fs.problem(id, fmt.Sprintf("spec.scopes[%d]", i), "is %s, not a registry scope", describe(s))
			continue
		}
		scopes = append(scopes, str)
	}
	if len(scopes) == 0 {
		c.fs.problem(id, "spec.scopes", "required: the registry scopes the executor verifies")
	}
	if _, ok := spec["concurrency"]; ok {
		c.fs.note(id, "spec.concurrency", "hallmark bounds its own concurrency")
	}
	for i, s := range rd.list("spec", spec, "stores") {
		sp := fmt.Sprintf("spec.stores[%d]", i)
		sm := rd.object(sp, s, "type", "parameters")
		if t := rd.str(sp, sm, "type"); t != "registry-store" {
			c.fs.problem(id, sp+".type", "store %q is not supported", strict.Clip(t))
			continue
		}
		params := rd.object(sp+".parameters", sm["parameters"], "credential", "plainHttp", "caPem", "caBase64", "allowCosignTag", "userAgent", "maxBlobBytes", "maxManifestBytes")
		if rd.boolean(sp+".parameters", params, "plainHttp") {
			c.cfg.Registries = append(c.cfg.Registries, config.Registry{Hosts: []string{"*"}, PlainHTTP: true})
		}
		for _, k := range []string{"caPem", "caBase64"} {
			if rd.str(sp+".parameters", params, k) != "" {
				c.fs.problem(id, sp+".parameters."+k, "registry CAs inline are not imported: put them in a file and set registries[].caFile")
			}
		}
		for _, k := range []string{"allowCosignTag", "userAgent", "maxBlobBytes", "maxManifestBytes"} {
			if _, ok := params[k]; ok {
				c.fs.note(id, sp+".parameters."+k, "hallmark has its own setting or bound for this")
			}
		}
		if cred := params["credential"]; cred != nil {
			cp := sp + ".parameters.credential"
			cm := rd.object(cp, cred, "provider", "username", "password", "clientID", "tenantID", "identityBinding")
			switch prov := rd.str(cp, cm, "provider"); prov {
			case "azure":
				c.cfg.Registries = append([]config.Registry{{Hosts: []string{"*.azurecr.io", "*.azurecr.us", "*.azurecr.cn"}, Credentials: config.Credentials{Azure: &config.AzureCredentials{ClientID: rd.str(cp, cm, "clientID"), TenantID: rd.str(cp, cm, "tenantID")}}}}, c.cfg.Registries...)
				if cm["identityBinding"] != nil {
					c.fs.problem(id, cp+".identityBinding", "AKS identity bindings are not supported yet; use workload identity")
				}
			default:
				c.fs.problem(id, cp+".provider", "credential provider %q is not imported: static passwords do not belong in a resource; use registries[].credentials with a secret file", strict.Clip(prov))
			}
		}
	}
	notation := 0
	var stores []config.TrustStore
	var identities []any
	for i, v := range rd.list("spec", spec, "verifiers") {
		vp := fmt.Sprintf("spec.verifiers[%d]", i)
		vm := rd.object(vp, v, "name", "type", "parameters")
		if t := rd.str(vp, vm, "type"); t != "notation" {
			c.fs.problem(id, vp+".type", "%s verifiers are not supported yet", strict.Clip(t))
			continue
		}
		notation++
		pp := vp + ".parameters"
		params := rd.object(pp, vm["parameters"], "scopes", "trustedIdentities", "certificates")
		if rd.list(pp, params, "scopes") != nil {
			c.fs.problem(id, pp+".scopes", "per-verifier scopes are not imported; the executor's scopes apply")
		}
		identities = append(identities, rd.list(pp, params, "trustedIdentities")...)
		for j, cert := range rd.list(pp, params, "certificates") {
			cp := fmt.Sprintf("%s.certificates[%d]", pp, j)
			cm := rd.object(cp, cert, "type", "inline", "files", "azurekeyvault")
			typ := rd.str(cp, cm, "type")
			if typ == "" {
				typ = "ca"
			}
			ts := config.TrustStore{Name: fmt.Sprintf("executor-%d-%d", i, j), Type: typ}
			if s := rd.str(cp, cm, "inline"); s != "" {
				ts.Certificates = append(ts.Certificates, config.CertificateSource{PEM: s})
			}
			for k, f := range rd.list(cp, cm, "files") {
				s, _ := f.(string)
				if s == "" {
					c.fs.problem(id, fmt.Sprintf("%s.files[%d]", cp, k), "is not a file path")
					continue
				}
				ts.Certificates = append(ts.Certificates, config.CertificateSource{File: s})
			}
			if kv := cm["azurekeyvault"]; kv != nil {
				kp := cp + ".azurekeyvault"
				km := rd.object(kp, kv, "vaultURL", "clientID", "tenantID", "certificates", "keys")
				km["vaultURI"] = km["vaultURL"]
				vault := c.vault(rd, kp, km)
				az := vaultIdentity(rd, kp, km)
				if rd.list(kp, km, "keys") != nil {
					c.fs.problem(id, kp+".keys", "Key Vault keys are for cosign verification, which is not imported from an Executor yet")
				}
				for k, name := range rd.list(kp, km, "certificates") {
					np := fmt.Sprintf("%s.certificates[%d]", kp, k)
					nm := rd.object(np, name, "name", "version")
					if src, ok := c.akvCert(rd, np, vault, az, rd.str(np, nm, "name"), rd.str(np, nm, "version")); ok {
						ts.Certificates = append(ts.Certificates, src)
					}
				}
			}
			if len(ts.Certificates) > 0 {
				stores = append(stores, ts)
			}
		}
	}
	if pe := spec["policyEnforcer"]; pe != nil {
		pm := rd.object("spec.policyEnforcer", pe, "type", "parameters")
		c.fs.problem(id, "spec.policyEnforcer", "policy enforcers (%s) are not imported: hallmark admits an image when a Notary Project signature verifies", strict.Clip(rd.str("spec.policyEnforcer", pm, "type")))
	}
	if notation != 1 {
		c.fs.problem(id, "spec.verifiers", "%d notation verifiers: hallmark imports exactly one", notation)
		return
	}
	var names []any
	for _, ts := range stores {
		names = append(names, ts.Type+":"+ts.Name)
	}
	if len(identities) == 0 {
		c.fs.problem(id, "spec.verifiers", "no trustedIdentities: give the signers to trust")
	}
	c.cfg.TrustStores = append(c.cfg.TrustStores, stores...)
	doc := map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  "executor-" + r.Name,
			"registryScopes":        toAny(scopes),
			"signatureVerification": map[string]any{"level": "strict"},
			"trustStores":           names,
			"trustedIdentities":     identities,
		}},
	}
	raw, _ := json.Marshal(doc)
	c.cfg.TrustPolicy.Inline = raw
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}
