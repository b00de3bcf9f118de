package ratify

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvurl"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// provider maps a KeyManagementProvider or CertificateStore onto
// certificate sources.
func (c *converter) provider(r *Resource) []config.CertificateSource {
	id := r.label()
	rd := reader{res: id, fs: c.fs}
	if r.Kind == KindCertificateStore {
		spec := rd.object("spec", r.Spec, "provider", "parameters")
		switch prov := rd.str("spec", spec, "provider"); prov {
		case "inline":
			params := rd.object("spec.parameters", spec["parameters"], "value")
			return c.inline(rd, "spec.parameters.value", rd.str("spec.parameters", params, "value"))
		case "azurekeyvault":
			return c.certStoreAKV(rd, rd.object("spec.parameters", spec["parameters"], "vaultURI", "certificates", "tenantID", "clientID", "cloudName"))
		default:
			c.fs.problem(id, "spec.provider", "certificate store provider %q is not supported (hallmark supports inline and azurekeyvault)", strict.Clip(prov))
			return nil
		}
	}
	spec := rd.object("spec", r.Spec, "type", "refreshInterval", "parameters")
	c.refreshInterval(rd, spec)
	const p = "spec.parameters"
	switch typ := rd.str("spec", spec, "type"); typ {
	case "inline":
		params := rd.object(p, spec["parameters"], "contentType", "value")
		if ct := rd.str(p, params, "contentType"); ct != "certificate" {
			c.fs.problem(id, p+".contentType", "%q is not supported: notation verification uses certificates (keys are for a cosign Verifier's trustPolicies)", strict.Clip(ct))
			return nil
		}
		return c.inline(rd, p+".value", rd.str(p, params, "value"))
	case "azurekeyvault":
		params := rd.object(p, spec["parameters"], "vaultURI", "tenantID", "clientID", "resource", "certificates", "keys", "cloudName")
		vault := c.vault(rd, p, params)
		az := vaultIdentity(rd, p, params)
		// Its keys are for cosign: imported when a cosign Verifier names
		// the provider (cosignKeys).
		keys := rd.list(p, params, "keys")
		certs := rd.list(p, params, "certificates")
		if len(certs) == 0 && len(keys) > 0 {
			c.fs.problem(id, p+".certificates", "none, only keys: a notation Verifier trusts a provider's certificates, never its keys, so Ratify has no certificates from this provider and fails every signature that needs them; add the signing certificate (certificates: [{name: ...}]) or name another provider")
		}
		var out []config.CertificateSource
		for i, cert := range certs {
			cp := fmt.Sprintf("%s.certificates[%d]", p, i)
			cm := rd.object(cp, cert, "name", "version")
			if src, ok := c.akvCert(rd, cp, vault, az, rd.str(cp, cm, "name"), rd.str(cp, cm, "version")); ok {
				out = append(out, src)
			}
		}
		return out
	default:
		c.fs.problem(id, "spec.type", "key management provider %q is not supported (hallmark supports inline and azurekeyvault)", strict.Clip(typ))
		return nil
	}
}

// refreshInterval takes a provider's refreshInterval into account for
// trustStoreRefresh, the shortest of the providers used.
func (c *converter) refreshInterval(rd reader, spec map[string]any) {
	id := rd.res
	if ri := rd.str("spec", spec, "refreshInterval"); ri != "" {
		d, err := time.ParseDuration(ri)
		switch {
		case err != nil || d < 0:
			c.fs.problem(id, "spec.refreshInterval", "%q is not a duration such as 1m", strict.Clip(ri))
		case d == 0:
		case d < time.Second:
			c.fs.problem(id, "spec.refreshInterval", "%s is under hallmark's shortest refresh, 1s", d)
		default:
			if c.refresh == 0 || d < c.refresh {
				c.refresh = d
			}
		}
	}
}

// inline maps PEM certificates.
func (c *converter) inline(rd reader, p, value string) []config.CertificateSource {
	if strings.TrimSpace(value) == "" {
		c.fs.problem(rd.res, p, "required: the PEM certificates")
		return nil
	}
	return []config.CertificateSource{{PEM: value}}
}

// vault reads the vault parameters shared by both resources.
func (c *converter) vault(rd reader, p string, params map[string]any) string {
	uri := rd.str(p, params, "vaultURI")
	u, err := url.Parse(uri)
	if uri == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		c.fs.problem(rd.res, p+".vaultURI", "%q is not a vault URI such as https://NAME.vault.azure.net/", strict.Clip(uri))
		return ""
	}
	if cn := rd.str(p, params, "cloudName"); cn != "" && !strings.EqualFold(cn, "AzurePublicCloud") {
		c.fs.note(rd.res, p+".cloudName", "hallmark reaches the vault at vaultURI and authenticates at AZURE_AUTHORITY_HOST, as set for its pod")
	}
	if res := rd.str(p, params, "resource"); res != "" {
		c.fs.note(rd.res, p+".resource", "the vault's own authentication challenge names the resource")
	}
	return "https://" + u.Host
}

// vaultIdentity is the identity Ratify reads a vault's certificates with:
// workload identity with the resource's clientID and tenantID, each
// falling back to the pod's AZURE_CLIENT_ID and AZURE_TENANT_ID.
func vaultIdentity(rd reader, p string, params map[string]any) *config.AzureCredentials {
	return &config.AzureCredentials{ClientID: rd.str(p, params, "clientID"), TenantID: rd.str(p, params, "tenantID")}
}

// certStoreAKV maps a CertificateStore's Key Vault parameters, whose
// certificates are a YAML string: "array:\n- |\n  certificateName: X\n...".
func (c *converter) certStoreAKV(rd reader, params map[string]any) []config.CertificateSource {
	const p = "spec.parameters"
	vault := c.vault(rd, p, params)
	az := vaultIdentity(rd, p, params)
	if _, ok := params["tenantID"]; !ok {
		c.fs.problem(rd.res, p+".tenantID", "required: Ratify refuses a certificate store without it")
	}
	if _, ok := params["clientID"]; !ok {
		c.fs.problem(rd.res, p+".clientID", "required: Ratify refuses a certificate store without it")
	}
	text := rd.str(p, params, "certificates")
	var items []any
	if outer, ok := yamlText(text).(map[string]any); ok && len(outer) == 1 {
		items, _ = outer["array"].([]any)
	}
	if len(items) == 0 {
		c.fs.problem(rd.res, p+".certificates", "is not Ratify's certificate list (a string holding \"array:\" and one \"certificateName: NAME\" / \"certificateVersion: VERSION\" block per certificate)")
		return nil
	}
	var out []config.CertificateSource
	for i, item := range items {
		cp := fmt.Sprintf("%s.certificates.array[%d]", p, i)
		text, _ := item.(string)
		v, ok := yamlText(text).(map[string]any)
		if !ok {
			c.fs.problem(rd.res, cp, "is not \"certificateName: NAME\" and optional \"certificateVersion: VERSION\"")
			continue
		}
		before := len(c.fs.problems)
		kv := rd.object(cp, v, "certificateName", "certificateVersion")
		name, version := rd.str(cp, kv, "certificateName"), rd.str(cp, kv, "certificateVersion")
		if len(c.fs.problems) > before {
			continue
		}
		if src, ok := c.akvCert(rd, cp, vault, az, name, version); ok {
			out = append(out, src)
		}
	}
	c.fs.note(rd.res, "", "a CertificateStore is fetched once by Ratify; hallmark rereads the vault every trustStoreRefresh and keeps the last good certificates when it cannot")
	return out
}

// akvCert maps one Key Vault certificate onto a key source.
func (c *converter) akvCert(rd reader, p, vault string, az *config.AzureCredentials, name, version string) (config.CertificateSource, bool) {
	if name == "" {
		c.fs.problem(rd.res, p, "the certificate's name is required")
		return config.CertificateSource{}, false
	}
	if vault == "" {
		return config.CertificateSource{}, false
	}
	ref := vault + "/certificates/" + name
	if version != "" {
		ref += "/" + version
	}
	if _, _, err := kvurl.ParseURL(ref); err != nil {
		c.fs.problem(rd.res, p, "%v", err)
		return config.CertificateSource{}, false
	}
	if version == "" {
		// Ratify reads the name alone: the current version, and nothing
		// when that one is disabled.
		c.fs.note(rd.res, p, "certificate %s has no version: Ratify trusts its current version only, and so does hallmark (currentVersionOnly), reread every trustStoreRefresh so that a rotation replaces it", strict.Clip(name))
		return config.CertificateSource{Key: ref, Azure: az, CurrentVersionOnly: true}, true
	}
	return config.CertificateSource{Key: ref, Azure: az}, true
}
