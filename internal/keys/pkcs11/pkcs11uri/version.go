package pkcs11uri

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// foreignPrefix starts the version of a key object whose CKA_ID hallmark did
// not write: "id-" and the ID in hex.
const foreignPrefix = "id-"

// ObjectID is the CKA_ID hallmark gives version v of key name: "NAME/V". It
// is unique on the token, as the PKCS#11 convention of pairing a key with
// its certificate by CKA_ID needs.
func ObjectID(name string, v uint64) []byte {
	return []byte(name + "/" + strconv.FormatUint(v, 10))
}

// VersionOf names the version a key object's CKA_ID stands for: V for
// hallmark's "NAME/V", else "id-" and the ID in hex.
func VersionOf(name string, id []byte) string {
	if n, ok := HallmarkVersion(name, id); ok {
		return strconv.FormatUint(n, 10)
	}
	return foreignPrefix + hex.EncodeToString(id)
}

// HallmarkVersion parses "NAME/V" with V a canonical decimal (no leading
// zero).
func HallmarkVersion(name string, id []byte) (uint64, bool) {
	rest, ok := strings.CutPrefix(string(id), name+"/")
	if !ok || rest == "" || rest[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 32)
	return n, err == nil
}
