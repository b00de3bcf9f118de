// Package certpolicy reads certificate policies (Azure Key Vault's JSON
// form, plus hallmark's basicConstraints for CA keys), checks them against
// the Notary Project's certificate rules, and makes keys and certificates
// from them: GenerateKey for a software key, IssueCertificate for the
// certificate of any crypto.Signer, self-signed or signed by an Issuer.
//
// Every key provider uses it, so a policy means the same in the local
// store, an HSM and a vault. It knows nothing of providers: package keys
// (the provider contract) imports it, never the reverse.
package certpolicy
