package verify

import (
	"errors"
	"testing"
)

func TestSafeDetail(t *testing.T) {
	tests := []struct{ in, want string }{
		{`GET "https://10.0.0.5:5000/v2/app/blobs/sha256:ab?X-Amz-Signature=secret": response status code 404`, `GET "<url>": response status code 404`},
		{"dial tcp: lookup registry.internal: no such host", "dial tcp: lookup registry.internal: no such host"},
		{"see http://user:pw@host/x and oci://y", "see <url> and <url>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := safeDetail(errors.New(tt.in)); got != tt.want {
				t.Errorf("safeDetail = %q, want %q", got, tt.want)
			}
		})
	}
}
