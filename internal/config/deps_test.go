package config

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the configuration data: parsing and validating it
// must not link a key provider's backend (cgo, crypto11, the Azure SDK),
// the registry client, the verifiers, the admission machinery, the cache,
// the runtime that builds from them, the server or Kubernetes clients. (The
// grammars it checks with, verify/trustpolicy, registryname,
// admission/imagepattern, keys/pkcs11/pkcs11uri and keys/azurekv/kvurl, are
// allowed.)
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/ThalesGroup/crypto11", "github.com/miekg/pkcs11",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"github.com/hallmark-dev/hallmark/internal/admission$",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/oci",
		"github.com/hallmark-dev/hallmark/internal/verify$",
		"github.com/hallmark-dev/hallmark/internal/verify/cosign",
		"github.com/hallmark-dev/hallmark/internal/verify/kinds",
		"github.com/hallmark-dev/hallmark/internal/signing",
		"oras.land/oras-go/v2/registry/remote",
		"github.com/sigstore/",
		"github.com/hallmark-dev/hallmark/internal/keys/local",
		"github.com/hallmark-dev/hallmark/internal/keys/providers",
		"github.com/hallmark-dev/hallmark/internal/oci/acr",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"k8s.io/client-go",
		"github.com/spf13/cobra",
	)
}
