package config

import (
	"github.com/hallmark-dev/hallmark/internal/keys"
)

// The rules Validate applies to what a configuration names, for the
// runtime (internal/serve) that reads those files and keys, so that what
// Validate accepts is what the runtime builds.

// ParseKeySource reads a trust store entry's key: "NAME", "NAME/VERSION" or
// "NAME/*" in the key store, a PKCS#11 URI or an Azure Key Vault URL;
// allVersions is true when it names every version of the key.
func ParseKeySource(s string) (ref keys.Ref, allVersions bool, err error) {
	return parseKeySource(s)
}

// PolicyProblems turns a trust policy's error into problems below prefix
// (such as "trustPolicy.inline").
func PolicyProblems(prefix string, err error) []Problem {
	var ps problems
	addPolicyProblems(&ps, prefix, err)
	return ps
}

// StoreAddMessage is the text of a trust store's refusal of a certificate,
// without the sentinel's prefix.
func StoreAddMessage(err error) string { return storeAddMessage(err) }
