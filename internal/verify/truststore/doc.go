// Package truststore holds Notary Project trust stores: certificates by
// store type (ca, signingAuthority, tsa) and name, loaded from notation's
// directory layout or added in memory, with every certificate checked for
// the store type it is in. Its Store implements notation-go's
// truststore.X509TrustStore.
//
// It reads certificates only: which store a signature needs is decided by
// the trust policy (package trustpolicy) and package verify's engine.
package truststore
