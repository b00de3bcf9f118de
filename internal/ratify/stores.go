package ratify

import (
	"fmt"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// store maps a Store's parameters onto registries entries.
func (c *converter) store(r *Resource) {
	id := r.label()
	rd := reader{res: id, fs: c.fs}
	spec := rd.object("spec", r.Spec, "name", "version", "address", "source", "parameters")
	name := rd.str("spec", spec, "name")
	if name != "oras" {
		c.fs.problem(id, "spec.name", "store %q is not supported: hallmark reads registries itself, as Ratify's oras store does", strict.Clip(name))
		return
	}
	if spec["source"] != nil || rd.str("spec", spec, "address") != "" {
		c.fs.problem(id, "spec.source", "store plugins downloaded from a source are not supported: hallmark reads registries itself")
	}
	if v := rd.str("spec", spec, "version"); v != "" {
		c.fs.note(id, "spec.version", "the plugin version is not used")
	}
	if r.Kind == KindNamespacedStore {
		// Its settings are still imported, for every namespace.
		c.fs.problem(id, "", "%s", namespacedScope(r, "Stores"))
	}
	const p = "spec.parameters"
	params := rd.object(p, spec["parameters"], "name", "useHttp", "cosignEnabled", "authProvider", "localCachePath", "cacheEnabled", "ttl", "capacity", "keyNumber")
	plainHTTP := rd.boolean(p, params, "useHttp")
	if plainHTTP {
		c.cfg.Registries = append(c.cfg.Registries, config.Registry{Hosts: []string{"*"}, PlainHTTP: true})
		c.fs.note(id, p+".useHttp", "every registry is reached over plain HTTP, as Ratify does; hallmark can limit this to the registries that need it (registries[].hosts)")
	}
	if rd.boolean(p, params, "cosignEnabled") {
		c.cosignListed = true
		c.fs.note(id, p+".cosignEnabled", "hallmark finds cosign signatures without it; it matters only with a cosign Verifier")
	}
	for _, k := range []string{"localCachePath", "cacheEnabled", "ttl", "capacity", "keyNumber"} {
		if _, ok := params[k]; ok {
			c.fs.note(id, p+"."+k, "Ratify's store cache is not used: hallmark caches verdicts (verification.cache; successes 5m, failures 30s) and never reuses a transient failure")
		}
	}
	if params["authProvider"] != nil {
		c.authProvider(rd, p+".authProvider", params["authProvider"])
	}
	if plainHTTP {
		// The first registries entry matching a host decides for it, and
		// the authProvider's entry comes first: it too must say plain
		// HTTP, as useHttp means for every registry in Ratify.
		for i := range c.cfg.Registries {
			c.cfg.Registries[i].PlainHTTP = true
		}
	}
}

// authProvider maps Ratify's registry authentication.
func (c *converter) authProvider(rd reader, p string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		c.fs.problem(rd.res, p, "is %s, not an object", describe(v))
		return
	}
	name := rd.str(p, m, "name")
	fields := map[string][]string{
		"azureWorkloadIdentity": {"name", "clientID", "endpoints"},
		"azureManagedIdentity":  {"name", "clientID", "endpoints"},
		"k8Secrets":             {"name", "serviceAccountName", "secrets", "secretTimeout"},
		"dockerConfig":          {"name", "configPath"},
	}[name]
	if fields == nil {
		c.fs.problem(rd.res, p+".name", "auth provider %q is not supported yet (hallmark supports azureWorkloadIdentity, azureManagedIdentity, k8Secrets and dockerConfig)", strict.Clip(name))
		return
	}
	// cosignEnabled is a Store parameter; written here, Ratify ignores it.
	if _, ok := m["cosignEnabled"]; ok {
		c.fs.note(rd.res, p+".cosignEnabled", "Ratify ignores cosignEnabled inside authProvider (it is a Store parameter), and so does hallmark")
		delete(m, "cosignEnabled")
	}
	rd.object(p, m, fields...)
	switch name {
	case "azureWorkloadIdentity", "azureManagedIdentity":
		endpoints := []string{"*.azurecr.io", "*.azurecr.us", "*.azurecr.cn"}
		var explicit []string
		if l := rd.list(p, m, "endpoints"); l != nil {
			endpoints = nil
			for i, e := range l {
				s, ok := e.(string)
				if !ok || s == "" {
					c.fs.problem(rd.res, fmt.Sprintf("%s.endpoints[%d]", p, i), "is %s, not a host pattern", describe(e))
					continue
				}
				endpoints = append(endpoints, s)
			}
			explicit = endpoints
		}
		// The credentials' own endpoints too: they default to ACR's hosts,
		// and would leave any other host the entry names anonymous.
		az := &config.AzureCredentials{ClientID: rd.str(p, m, "clientID"), ManagedIdentity: name == "azureManagedIdentity", Endpoints: explicit}
		c.cfg.Registries = append([]config.Registry{{Hosts: endpoints, Credentials: config.Credentials{Azure: az}}}, c.cfg.Registries...)
		if name == "azureWorkloadIdentity" {
			c.fs.note(rd.res, p, "the tenant comes from AZURE_TENANT_ID, which AKS workload identity sets in hallmark's pod, as in Ratify's")
		}
	case "k8Secrets":
		c.k8Secrets(rd, p, m)
	case "dockerConfig":
		path := rd.str(p, m, "configPath")
		if path == "" {
			path = "/.docker/config.json"
		}
		c.cfg.Registries = append(c.cfg.Registries, config.Registry{Hosts: []string{"*"}, Credentials: config.Credentials{DockerConfigFile: path}})
		c.fs.note(rd.res, p+".configPath", "hallmark reads %s in its own pod: mount the docker config there", path)
	}
}

// k8Secrets maps the k8Secrets auth provider. Ratify tries each listed
// secret (a kubernetes.io/dockerconfigjson secret, in Ratify's namespace
// unless another is named), then the image pull secrets of a service
// account in Ratify's namespace (serviceAccountName, else "default"), and
// uses the first that has credentials for the registry. hallmark reads
// image pull secrets mounted as files, one per registries entry.
func (c *converter) k8Secrets(rd reader, p string, m map[string]any) {
	sa := rd.str(p, m, "serviceAccountName")
	secrets := rd.list(p, m, "secrets")
	if _, ok := m["secretTimeout"]; ok {
		c.fs.note(rd.res, p+".secretTimeout", "mounted secrets are reread as Kubernetes updates them")
	}
	saName := sa
	if saName == "" {
		saName = "default"
	}
	lookup := fmt.Sprintf("kubectl get serviceaccount %s -n %s -o jsonpath='{.imagePullSecrets[*].name}'", saName, c.opts.Namespace)
	switch {
	case sa != "":
		c.fs.problem(rd.res, p+".serviceAccountName", "Ratify also uses the image pull secrets of service account %s in namespace %s, which hallmark cannot read: list them (%s) in secrets[] and import again", strict.Clip(sa), c.opts.Namespace, lookup)
	case len(secrets) == 0:
		c.fs.problem(rd.res, p, "no secrets: Ratify then uses the image pull secrets of service account default in namespace %s, which hallmark cannot read: list them (%s) in secrets[] and import again", c.opts.Namespace, lookup)
	default:
		c.fs.note(rd.res, p, "for a registry these secrets have no credentials for, Ratify also tries the image pull secrets of service account default in namespace %s; if it has any (%s), add them to secrets[]", c.opts.Namespace, lookup)
	}
	if len(secrets) > 1 {
		c.fs.problem(rd.res, p+".secrets", "%d secrets: Ratify picks, per registry, the first secret with credentials for it; hallmark takes one secret for every registry (registries[] with hosts [\"*\"]), so only the first would be used; give each secret its own registries entry with the hosts it is for, or merge them into one secret", len(secrets))
	}
	for i, s := range secrets {
		sp := fmt.Sprintf("%s.secrets[%d]", p, i)
		sm := rd.object(sp, s, "secretName", "namespace")
		secret := rd.str(sp, sm, "secretName")
		if secret == "" {
			c.fs.problem(rd.res, sp+".secretName", "required")
			continue
		}
		if ns := rd.str(sp, sm, "namespace"); ns != "" && ns != c.opts.Namespace {
			c.fs.note(rd.res, sp+".namespace", "a pod mounts secrets of its own namespace only: copy secret %s from namespace %s into hallmark's", secret, strict.Clip(ns))
		}
		if i > 0 {
			continue
		}
		file := secretDir + "/" + secret + "/.dockerconfigjson"
		c.cfg.Registries = append(c.cfg.Registries, config.Registry{Hosts: []string{"*"}, Credentials: config.Credentials{DockerConfigJSONFile: file}})
		c.fs.note(rd.res, sp, "mount the secret %s into hallmark's pod at %s/%s (a volume from the secret)", secret, secretDir, secret)
	}
}
