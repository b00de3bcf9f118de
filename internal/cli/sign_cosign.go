package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/signing/cosignsig"
)

// formatCosign is the --signature-format of a cosign signature.
const formatCosign = "cosign"

// runSignCosign signs each image with a cosign signature made by --key,
// added to the image's sha256-<hex>.sig manifest.
func runSignCosign(cmd *cobra.Command, g *globalOptions, o *signOptions, args []string, annotations map[string]string) error {
	ctx := cmd.Context()
	fl := cmd.Flags()
	for _, name := range []string{"plugin", "expiry", "timestamp-url", "timestamp-root-cert", "force-referrers-tag"} {
		if fl.Changed(name) {
			return usageError{fmt.Errorf("--%s is for Notary Project signatures; a cosign signature takes --key and --user-metadata (signed as its annotations)", name)}
		}
	}
	refs, stdinUsed, err := signRefs(g, o, args)
	if err != nil {
		return err
	}
	store, kref, release, err := g.withKeyRef(ctx, o.key)
	if err != nil {
		return err
	}
	defer release()
	key, err := store.Signer(ctx, kref)
	if err != nil {
		return err
	}
	keyName := key.Name + "/" + key.Version
	client, err := o.registry.client(g.streams, false, refs...)
	if err != nil {
		return err
	}
	sign := func(ctx context.Context, ref string) (signResult, error) {
		desc, pinned, err := resolveToSign(ctx, g, o, client, ref)
		if err != nil {
			return signResult{}, err
		}
		out, err := cosignsig.Sign(ctx, key.Signer, client, pinned, annotations)
		if err != nil {
			return signResult{}, err
		}
		return signResult{Reference: pinned, Digest: desc.Digest.String(), SignatureManifest: out.Manifest.Digest.String(), Format: formatCosign, Key: keyName}, nil
	}
	return signAll(ctx, g, o, refs, stdinUsed, sign)
}
