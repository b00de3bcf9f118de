package notationplugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go/plugin/proto"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-dev/hallmark/internal/signing"
)

// Name is the plugin's name: notation runs it as notation-hallmark from
// {NOTATION_LIBEXEC}/plugins/hallmark/.
const Name = "hallmark"

// Plugin configuration keys (notation --plugin-config KEY=VALUE, or
// pluginConfig in signingkeys.json). They override the environment.
const (
	// ConfigStore is the key store folder (else $HALLMARK_HOME, else
	// <user config dir>/hallmark).
	ConfigStore = "store"
	// ConfigPassphraseFile names a file holding the key store passphrase
	// (else $HALLMARK_PASSPHRASE). There is no key for the passphrase
	// itself: notation writes plugin configuration to signingkeys.json.
	ConfigPassphraseFile = "passphrase-file"
)

// maxPassphraseFileSize caps a passphrase file; passphrases are short.
const maxPassphraseFileSize = 64 << 10

// Hallmark is the notation plugin that signs with keys held by hallmark. A key
// ID is a key in the local store, NAME or NAME/VERSION, or a key on a PKCS#11
// token, named by its URI (whose module, token and PIN may come from the
// HALLMARK_PKCS11_* variables, as for hallmark sign).
type Hallmark struct {
	// Version is reported in get-plugin-metadata and ends up in the
	// signing agent of notation's signatures.
	Version string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string

	// openPKCS11 and openLocal open the provider a key ID names; nil means
	// the real ones. They are the plugin's only reach into files and
	// modules, so tests (the fuzz target) replace them to exercise every
	// request without loading a module or reading a file a request names.
	openPKCS11 func(ctx context.Context, cfg pkcs11.Config) (keys.Provider, func(), error)
	openLocal  func(dir, passphraseFile string) (keys.Provider, error)
}

var _ plugin.SignPlugin = (*Hallmark)(nil)

func (h *Hallmark) getenv(k string) string {
	if h.Getenv == nil {
		return os.Getenv(k)
	}
	return h.Getenv(k)
}

// GetMetadata implements plugin.GenericPlugin.
func (h *Hallmark) GetMetadata(ctx context.Context, req *plugin.GetMetadataRequest) (*plugin.GetMetadataResponse, error) {
	return &plugin.GetMetadataResponse{
		Name:                      Name,
		Description:               "Signs with keys held by hallmark: its local key store, or a PKCS#11 token",
		Version:                   h.Version,
		URL:                       "https://github.com/hallmark-dev/hallmark",
		SupportedContractVersions: []string{plugin.ContractVersion},
		Capabilities:              []plugin.Capability{plugin.CapabilitySignatureGenerator},
	}, nil
}

// DescribeKey implements plugin.SignPlugin: the key spec of the key's leaf
// certificate. It reads only public information where it can.
func (h *Hallmark) DescribeKey(ctx context.Context, req *plugin.DescribeKeyRequest) (*plugin.DescribeKeyResponse, error) {
	info, release, err := h.open(ctx, req.KeyID, req.PluginConfig)
	if err != nil {
		return nil, err
	}
	defer release()
	ks, err := signature.ExtractKeySpec(info.Chain[0])
	if err != nil {
		return nil, plugin.NewValidationErrorf("key %s: %v", req.KeyID, err)
	}
	spec, err := proto.EncodeKeySpec(ks)
	if err != nil {
		return nil, plugin.NewValidationErrorf("key %s: %v", req.KeyID, err)
	}
	return &plugin.DescribeKeyResponse{KeyID: req.KeyID, KeySpec: spec}, nil
}

// GenerateSignature implements plugin.SignPlugin: it hashes the payload with
// the hash the key spec dictates, has the key sign the digest, and returns
// the raw signature (RSASSA-PSS, or ECDSA r||s) and the chain.
func (h *Hallmark) GenerateSignature(ctx context.Context, req *plugin.GenerateSignatureRequest) (*plugin.GenerateSignatureResponse, error) {
	_, key, release, err := h.signer(ctx, req.KeyID, req.PluginConfig)
	if err != nil {
		return nil, err
	}
	defer release()
	raw, err := signing.NewRawSigner(key.Signer, key.Chain)
	if err != nil {
		return nil, plugin.NewValidationErrorf("key %s: %v", req.KeyID, err)
	}
	ks, _ := raw.KeySpec()
	spec, err := proto.EncodeKeySpec(ks)
	if err != nil {
		return nil, plugin.NewValidationErrorf("key %s: %v", req.KeyID, err)
	}
	if spec != req.KeySpec {
		return nil, plugin.NewValidationErrorf("key %s is %s, but the request is for %s", req.KeyID, spec, req.KeySpec)
	}
	hash, err := proto.HashAlgorithmFromKeySpec(ks)
	if err != nil || hash != req.Hash {
		return nil, plugin.NewValidationErrorf("key %s (%s) signs with %s, but the request asks for %s", req.KeyID, spec, hash, req.Hash)
	}
	alg, err := proto.EncodeSigningAlgorithm(ks.SignatureAlgorithm())
	if err != nil {
		return nil, plugin.NewValidationErrorf("key %s: %v", req.KeyID, err)
	}
	sig, chain, err := raw.Sign(req.Payload)
	if err != nil {
		return nil, plugin.NewGenericErrorf("signing with key %s: %v", req.KeyID, err)
	}
	resp := &plugin.GenerateSignatureResponse{KeyID: req.KeyID, Signature: sig, SigningAlgorithm: alg}
	for _, c := range chain {
		resp.CertificateChain = append(resp.CertificateChain, c.Raw)
	}
	return resp, nil
}

// GenerateEnvelope implements plugin.SignPlugin; this plugin has only the
// SIGNATURE_GENERATOR.RAW capability, so notation never calls it.
func (h *Hallmark) GenerateEnvelope(ctx context.Context, req *plugin.GenerateEnvelopeRequest) (*plugin.GenerateEnvelopeResponse, error) {
	return nil, plugin.NewUnsupportedError("generate-envelope: the hallmark plugin has the SIGNATURE_GENERATOR.RAW capability only")
}

// open returns the public information of the key a key ID names.
func (h *Hallmark) open(ctx context.Context, keyID string, cfg map[string]string) (keys.Info, func(), error) {
	prov, ref, release, err := h.provider(ctx, keyID, cfg)
	if err != nil {
		return keys.Info{}, nil, err
	}
	info, err := prov.Get(ctx, ref)
	if err != nil {
		release()
		return keys.Info{}, nil, keyError(keyID, err)
	}
	return info, release, nil
}

// signer returns the key a key ID names, ready to sign.
func (h *Hallmark) signer(ctx context.Context, keyID string, cfg map[string]string) (keys.Provider, *keys.Key, func(), error) {
	prov, ref, release, err := h.provider(ctx, keyID, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := prov.Signer(ctx, ref)
	if err != nil {
		release()
		return nil, nil, nil, keyError(keyID, err)
	}
	return prov, key, release, nil
}

// provider opens the provider a key ID lives in.
func (h *Hallmark) provider(ctx context.Context, keyID string, cfg map[string]string) (keys.Provider, keys.Ref, func(), error) {
	for k := range cfg {
		if k != ConfigStore && k != ConfigPassphraseFile {
			return nil, keys.Ref{}, nil, plugin.NewValidationErrorf("unknown plugin configuration %q; the hallmark plugin reads %q and %q", k, ConfigStore, ConfigPassphraseFile)
		}
	}
	if strings.HasPrefix(strings.ToLower(keyID), pkcs11.Scheme) {
		u, err := pkcs11.ParseURI(keyID)
		if err != nil {
			return nil, keys.Ref{}, nil, plugin.NewValidationError(err.Error())
		}
		if err := u.ConfigFromEnv(h.getenv); err != nil {
			return nil, keys.Ref{}, nil, plugin.NewValidationError(err.Error())
		}
		ref, err := u.Ref()
		if err != nil {
			return nil, keys.Ref{}, nil, plugin.NewValidationError(err.Error())
		}
		open := h.openPKCS11
		if open == nil {
			open = openPKCS11
		}
		p, release, err := open(ctx, u.Config)
		if err != nil {
			return nil, keys.Ref{}, nil, keyError(u.String(), err)
		}
		return p, ref, release, nil
	}
	ref, err := keys.ParseRef(keyID)
	if err != nil {
		return nil, keys.Ref{}, nil, plugin.NewValidationErrorf("key ID %q is neither a hallmark key (NAME or NAME/VERSION) nor a PKCS#11 URI: %v", keyID, err)
	}
	dir := cfg[ConfigStore]
	if dir == "" {
		dir = h.getenv("HALLMARK_HOME")
	}
	if dir == "" {
		c, err := os.UserConfigDir()
		if err != nil {
			return nil, keys.Ref{}, nil, plugin.NewValidationErrorf("no key store folder: set the %q plugin configuration or HALLMARK_HOME", ConfigStore)
		}
		dir = filepath.Join(c, "hallmark")
	}
	open := h.openLocal
	if open == nil {
		open = h.openLocalStore
	}
	store, err := open(dir, cfg[ConfigPassphraseFile])
	if err != nil {
		return nil, keys.Ref{}, nil, err
	}
	return store, ref, func() {}, nil
}

func openPKCS11(ctx context.Context, cfg pkcs11.Config) (keys.Provider, func(), error) {
	p, err := pkcs11.Open(ctx, cfg, pkcs11.Options{})
	if err != nil {
		return nil, nil, err
	}
	return p, func() { p.Close() }, nil
}

// openLocalStore opens the local key store in dir, with the passphrase in
// passphraseFile, else $HALLMARK_PASSPHRASE.
func (h *Hallmark) openLocalStore(dir, passphraseFile string) (keys.Provider, error) {
	if _, err := os.Stat(dir); err != nil {
		// Opening would create it; a plugin must not make an empty store.
		return nil, plugin.NewValidationErrorf("key store %s: %v; set the %q plugin configuration or HALLMARK_HOME", dir, err, ConfigStore)
	}
	var pass []byte
	if f := passphraseFile; f != "" {
		data, err := capped.ReadFile(f, maxPassphraseFileSize)
		if err != nil {
			return nil, plugin.NewValidationErrorf("reading %s: %v", ConfigPassphraseFile, err)
		}
		pass = []byte(strings.TrimRight(string(data), "\r\n"))
	} else {
		pass = []byte(h.getenv("HALLMARK_PASSPHRASE"))
	}
	store, err := local.Open(dir, local.Options{Passphrase: pass})
	if err != nil {
		return nil, plugin.NewGenericError(err.Error())
	}
	return store, nil
}

// keyError turns a key provider's error into the protocol's: ACCESS_DENIED
// for a wrong passphrase or PIN, VALIDATION_ERROR for a missing or
// malformed key, ERROR otherwise.
func keyError(keyID string, err error) error {
	msg := fmt.Sprintf("key %s: %v", keyID, err)
	switch {
	case errors.Is(err, keys.ErrBadPassphrase):
		return plugin.NewError(plugin.ErrorCodeAccessDenied, msg)
	case errors.Is(err, keys.ErrNotFound), errors.Is(err, keys.ErrInvalidRef):
		return plugin.NewValidationError(msg)
	default:
		return plugin.NewGenericError(msg)
	}
}
