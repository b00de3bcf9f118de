package postbody

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name        string
		method, ct  string
		body        string
		allowNoCT   bool
		wantStatus  int // 0: read
		wantMessage string
	}{
		{"json post", http.MethodPost, "application/json", `{}`, false, 0, ""},
		{"json with charset", http.MethodPost, "application/json; charset=utf-8", `{}`, false, 0, ""},
		{"get", http.MethodGet, "application/json", ``, false, http.StatusMethodNotAllowed, "method GET not allowed"},
		{"text", http.MethodPost, "text/plain", `{}`, true, http.StatusUnsupportedMediaType, `"text/plain"`},
		{"no content type, not allowed", http.MethodPost, "", `{}`, false, http.StatusUnsupportedMediaType, "want application/json"},
		{"no content type, allowed", http.MethodPost, "", `{}`, true, 0, ""},
		{"too large", http.MethodPost, "application/json", strings.Repeat("x", 65), false, http.StatusRequestEntityTooLarge, "larger than 64 bytes"},
		{"at the cap", http.MethodPost, "application/json", strings.Repeat("x", 64), false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/x", strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			w := httptest.NewRecorder()
			body, ref := Read(w, r, 64, "tests", tt.allowNoCT)
			if tt.wantStatus == 0 {
				if ref != nil || string(body) != tt.body {
					t.Fatalf("Read = %q, %v; want the body", body, ref)
				}
				return
			}
			if ref == nil || ref.Status != tt.wantStatus || !strings.Contains(ref.Message, tt.wantMessage) {
				t.Fatalf("Read refusal = %+v, want %d with %q", ref, tt.wantStatus, tt.wantMessage)
			}
			if tt.wantStatus == http.StatusMethodNotAllowed && w.Header().Get("Allow") != http.MethodPost {
				t.Fatal("405 without Allow: POST")
			}
		})
	}
}
