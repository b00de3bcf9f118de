package azurekv_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv"
	"github.com/hallmark-dev/hallmark/internal/keys/providers"
)

// TestTrustedVersions: a trust store that names a vault certificate
// without a version trusts its enabled versions only. A version switched
// off in the vault (attributes.enabled false, which Get Certificate still
// answers: learn.microsoft.com/rest/api/keyvault/certificates/get-certificate/get-certificate)
// is left out and reported; when that leaves nothing, or when the version
// named is disabled, nothing is trusted and the error says so. Ratify
// likewise trusts no disabled version.
func TestTrustedVersions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions int
		disable  []int // indexes of the versions to disable
		named    int   // index of the version the reference names; -1: none
		want     []int // indexes of the versions trusted
		wantErr  string
	}{
		{name: "all enabled", versions: 2, named: -1, want: []int{0, 1}},
		{name: "one disabled", versions: 3, disable: []int{1}, named: -1, want: []int{0, 2}},
		{name: "newest disabled", versions: 2, disable: []int{1}, named: -1, want: []int{0}},
		{name: "all disabled", versions: 2, disable: []int{0, 1}, named: -1, wantErr: "every version of signer"},
		{name: "named version enabled", versions: 2, disable: []int{0}, named: 1, want: []int{1}},
		{name: "named version disabled", versions: 2, disable: []int{0}, named: 0, wantErr: "is disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tv := azurekv.NewTestVault(t)
			var ids []string
			for range tc.versions {
				ids = append(ids, tv.AddVersion(t, "signer"))
			}
			for _, i := range tc.disable {
				tv.Disable("signer", ids[i])
			}
			ref := keys.Ref{Name: "signer"}
			if tc.named >= 0 {
				ref.Version = ids[tc.named]
			}
			trusted, disabled, err := providers.Trusted(context.Background(), tv.Provider, ref)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Trusted = %d versions, %v; want an error saying %q", len(trusted), err, tc.wantErr)
				}
				if !errors.Is(err, keys.ErrDisabled) {
					t.Errorf("error %v is not keys.ErrDisabled", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, info := range trusted {
				got = append(got, info.Version)
			}
			for _, i := range tc.want {
				want = append(want, ids[i])
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("trusted versions %v, want %v", got, want)
			}
			var gotOff, wantOff []string
			for _, info := range disabled {
				gotOff = append(gotOff, info.Version)
			}
			if tc.named < 0 {
				for _, i := range tc.disable {
					wantOff = append(wantOff, ids[i])
				}
			}
			slices.Sort(gotOff)
			slices.Sort(wantOff)
			if !slices.Equal(gotOff, wantOff) {
				t.Errorf("reported disabled %v, want %v", gotOff, wantOff)
			}
			chains, err := providers.Chains(context.Background(), tv.Provider, ref)
			if err != nil || len(chains) != len(want) {
				t.Errorf("Chains = %d chains, %v; want %d", len(chains), err, len(want))
			}
		})
	}
}

// TestTrustedReadsOneCertificate: trusting every version of one
// certificate reads that certificate's versions (List Certificate
// Versions, learn.microsoft.com/rest/api/keyvault/certificates/get-certificate-versions/get-certificate-versions),
// not every certificate of the vault at each refresh.
func TestTrustedReadsOneCertificate(t *testing.T) {
	tv := azurekv.NewTestVault(t)
	tv.AddVersion(t, "signer")
	tv.AddVersion(t, "signer")
	for range 3 {
		tv.AddVersion(t, "other")
	}
	before := len(tv.Requests())
	trusted, _, err := providers.Trusted(context.Background(), tv.Provider, keys.Ref{Name: "signer"})
	if err != nil || len(trusted) != 2 {
		t.Fatalf("Trusted = %d versions, %v; want 2", len(trusted), err)
	}
	sent := tv.Requests()[before:]
	for _, r := range sent {
		if !strings.HasPrefix(r, "GET /certificates/signer/") {
			t.Errorf("request %q: only certificate signer is to be read", r)
		}
	}
	// One list of versions, one read per version.
	if len(sent) != 3 {
		t.Errorf("%d requests %v, want 3", len(sent), sent)
	}
	if _, _, err := providers.Trusted(context.Background(), tv.Provider, keys.Ref{Name: "absent"}); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("absent certificate: %v, want keys.ErrNotFound", err)
	}
}
