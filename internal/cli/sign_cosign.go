package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/oci"
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
	refs, stdinUsed, err := expandRefs(g.in, args)
	if err != nil {
		return err
	}
	if stdinUsed && o.registry.passwordStdin {
		return usageError{fmt.Errorf("--password-stdin and - both read standard input: give the password in $HALLMARK_PASSWORD instead")}
	}
	for _, ref := range refs {
		if _, err := oci.ParseReference(ref); err != nil {
			return err
		}
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
	var results []signResult
	failed := 0
	prog := newProgress(g.err, len(refs))
	for _, ref := range refs {
		if len(refs) > 1 {
			prog.step("signing " + ref)
		}
		res, err := func() (signResult, error) {
			desc, err := client.Resolve(ctx, ref)
			if err != nil {
				return signResult{}, err
			}
			pinned, err := pinDigest(ref, desc.Digest.String())
			if err != nil {
				return signResult{}, err
			}
			if pinned != ref && o.output == "text" {
				fmt.Fprintf(g.err, "Resolved %s to %s: the digest is what gets signed.\n", ref, desc.Digest)
			}
			out, err := cosignsig.Sign(ctx, key.Signer, client, pinned, annotations)
			if err != nil {
				return signResult{}, err
			}
			return signResult{Reference: pinned, Digest: desc.Digest.String(), SignatureManifest: out.Manifest.Digest.String(), Format: formatCosign, Key: keyName}, nil
		}()
		if err != nil {
			if len(refs) == 1 && !stdinUsed {
				return err
			}
			failed++
			fmt.Fprintf(g.err, "Error: %s: %s\n", ref, errorText(err))
			continue
		}
		switch {
		case o.output == "json" && len(refs) == 1 && !stdinUsed:
			return writeJSON(g.out, res)
		case o.output == "json":
			results = append(results, res)
		default:
			fmt.Fprintf(g.out, "Signed %s with key %s (cosign).\nSignature manifest: %s\n", res.Reference, res.Key, res.SignatureManifest)
		}
	}
	if o.output == "json" {
		if results == nil {
			results = []signResult{}
		}
		if err := writeJSON(g.out, results); err != nil {
			return err
		}
	}
	if failed > 0 {
		fmt.Fprintf(g.err, "Signed %d of %d images; %d failed.\n", len(refs)-failed, len(refs), failed)
		return errSilent
	}
	return nil
}
