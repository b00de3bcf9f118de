// Package signing makes Notary Project signatures for OCI artifacts with any
// crypto.Signer and its certificate chain, so keys that never leave a key
// store (the local encrypted store, a PKCS#11 HSM, Azure Key Vault) can sign.
//
// # Why a direct notation.Signer and not an in-process plugin
//
// notation-go v1.3.2 has two ways to sign: signer.GenericSigner, which only
// accepts *rsa.PrivateKey and *ecdsa.PrivateKey held in memory, and
// signer.PluginSigner, which drives a plugin.SignPlugin through the plugin
// contract. We implement notation.Signer directly (NotationSigner) on top of
// notation-core-go's signature.Envelope.Sign, with our own signature.Signer
// (RawSigner) wrapping the crypto.Signer. Reasons:
//
//   - The envelope is built by the same notation-core-go code either way; the
//     plugin route only adds a JSON-shaped contract (key IDs, key-spec strings,
//     base64 certificate chains) that we would fill in and notation-go would
//     immediately decode again, all inside one process.
//   - PluginSigner overwrites SignerSignOptions.SigningAgent with
//     "notation-go/1.3.2 <plugin>/<version>". Going direct lets the envelope
//     say who made it: "hallmark/<version>" by default, or Options.SigningAgent.
//   - No extra module (notation-plugin-framework-go) becomes a direct
//     dependency of the signing path.
//
// The cost is that we build the payload ({"targetArtifact": descriptor}) and
// re-verify the envelope ourselves, as GenericSigner does. RawSigner is also
// what a future "hallmark as a notation plugin" binary needs for the
// SIGNATURE_GENERATOR.RAW generate-signature command: it takes the unhashed
// signing input and returns the raw signature and chain.
//
// # Checks before a key is used
//
// A key store may charge per operation or rate-limit (HSMs, KMS), so the
// signer's public key is compared with the leaf certificate and the chain is
// checked against the Notary Project certificate rules before anything is
// signed. A chain rejected by those rules comes back as ErrInvalidChain with
// an explanation a person can act on.
package signing
