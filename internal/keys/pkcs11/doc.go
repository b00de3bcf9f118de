// Package pkcs11 is the key provider for hardware security modules and other
// tokens reached through a PKCS#11 module (SoftHSM2, YubiHSM, Thales Luna,
// AWS CloudHSM ...). Keys are generated on the token, sensitive and not
// extractable, and every signature is made there; hallmark only ever holds a
// handle.
//
// # Objects on the token
//
// Version V of key NAME is a key pair with CKA_LABEL "NAME" and CKA_ID
// "NAME/V" (unique on the token, as the convention of pairing keys and
// certificates by CKA_ID needs), and a CKO_CERTIFICATE object with the same
// label and ID holding the leaf certificate made from the certificate
// policy. Nothing is written outside the token. The rest of a CA-issued
// chain is found among the certificates of the token's other key pairs (a CA
// key made by hallmark on the same token). A key pair made by other tools is
// usable too when a certificate with its CKA_ID is on the token; its version
// is "id-" and its CKA_ID in hex.
//
// # Addressing
//
// Keys are named by RFC 7512 URIs (ParseURI), such as
//
//	pkcs11:token=hallmark;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/pin
//
// with what the URI leaves out taken from HALLMARK_PKCS11_MODULE,
// HALLMARK_PKCS11_TOKEN and HALLMARK_PKCS11_PIN or HALLMARK_PKCS11_PIN_FILE
// (URI.ConfigFromEnv).
//
// The package needs cgo to load a module. Built without cgo, Open fails with
// ErrNoCgo and the rest (URI parsing) still works.
package pkcs11
