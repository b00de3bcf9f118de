package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names of the trust configuration files, as notation lays them out: a
// trust policy beside a trust store folder. hallmark keeps its own in its
// home folder, next to the key store.
const (
	trustPolicyFile       = "trustpolicy.json"
	notationOCIPolicyFile = "trustpolicy.oci.json" // notation v1.2 and later
	trustStoreFolder      = "truststore"
)

// trustLocation is where a trust policy and its trust store were found.
type trustLocation struct {
	policy, store string
	// owner says whose folder it is ("hallmark's", "notation's"), or ""
	// when the flags named both.
	owner string
}

// notationConfigDir is notation's configuration folder: $NOTATION_CONFIG,
// else <user config dir>/notation (which honours $XDG_CONFIG_HOME), as the
// notation CLI has it.
func notationConfigDir() (string, error) {
	if dir := os.Getenv("NOTATION_CONFIG"); dir != "" {
		return dir, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cfg, "notation"), nil
}

// hallmarkTrustPolicy and hallmarkTrustStore are hallmark's own trust
// policy and trust store, in its home folder.
func (g *globalOptions) hallmarkTrustPolicy() (string, error) {
	home, err := g.resolveStoreDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, trustPolicyFile), nil
}

func (g *globalOptions) hallmarkTrustStore() (string, error) {
	home, err := g.resolveStoreDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, trustStoreFolder), nil
}

// resolveTrust picks the trust policy and trust store verify uses: the
// flags; else hallmark's home folder when it holds a trust policy; else
// notation's configuration folder (trustpolicy.oci.json, then the older
// trustpolicy.json, as notation reads them), so a working `notation verify`
// setup works unchanged. A flag overrides its half only.
func (g *globalOptions) resolveTrust(policyFlag, storeFlag string) (trustLocation, error) {
	if policyFlag != "" && storeFlag != "" {
		return trustLocation{policy: policyFlag, store: storeFlag}, nil
	}
	type candidate struct{ owner, policy, store string }
	var cands []candidate
	var looked []string
	if p, err := g.hallmarkTrustPolicy(); err == nil {
		home := filepath.Dir(p)
		cands = append(cands, candidate{"hallmark's", p, filepath.Join(home, trustStoreFolder)})
	}
	if dir, err := notationConfigDir(); err == nil {
		for _, name := range []string{notationOCIPolicyFile, trustPolicyFile} {
			cands = append(cands, candidate{"notation's", filepath.Join(dir, name), filepath.Join(dir, trustStoreFolder)})
		}
	}
	for _, c := range cands {
		if policyFlag != "" {
			// Only the store is missing: take the first folder that has one.
			if isDir(c.store) {
				return trustLocation{policy: policyFlag, store: c.store, owner: c.owner}, nil
			}
			looked = append(looked, c.store)
			continue
		}
		if !exists(c.policy) {
			looked = append(looked, c.policy)
			continue
		}
		loc := trustLocation{policy: c.policy, store: c.store, owner: c.owner}
		if storeFlag != "" {
			loc.store = storeFlag
		}
		return loc, nil
	}
	if policyFlag != "" {
		return trustLocation{}, usageError{fmt.Errorf("no trust store: pass --trust-store DIR, or add certificates with 'hallmark cert add' (looked in %s)", strings.Join(looked, ", "))}
	}
	return trustLocation{}, usageError{fmt.Errorf("no trust policy: pass --trust-policy FILE and --trust-store DIR, or write one with 'hallmark policy init --key NAME' or 'hallmark policy import FILE' (looked in %s)", strings.Join(looked, ", "))}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
