// Package trustpolicy reads and checks Notary Project trust policies
// (trustpolicy.json, version 1.0) into notation-go's trustpolicy.Document.
// It reports every problem at once with its JSON field path, and accepts
// only policies that notation-go's own Document.Validate accepts, with
// stricter rules where notation-go's would let a mistake widen trust
// (unknown fields, identities without C, ST and O, scopes in a
// non-canonical spelling).
//
// It reads documents only: verification is package verify's, trust stores
// package truststore's.
package trustpolicy
