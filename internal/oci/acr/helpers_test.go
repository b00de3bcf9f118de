package acr_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// policyNoRetry keeps the SDK from retrying refused token requests in
// tests.
var policyNoRetry = policy.RetryOptions{MaxRetries: -1}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func itoa(n int) string { return strconv.Itoa(n) }
