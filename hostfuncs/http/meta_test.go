package hosthttp

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestAppendMetaMatchesJSON: the hand-written response head is byte for
// byte what encoding/json makes of FetchMeta, redaction included.
func TestAppendMetaMatchesJSON(t *testing.T) {
	red := &redactor{}
	red.add("s3cr3t-token-value-4242")
	for _, c := range []struct {
		name   string
		status int
		h      http.Header
		url    string
	}{
		{"empty", 204, http.Header{}, "http://127.0.0.1:8080/"},
		{"multi-valued", 200, http.Header{"Set-Cookie": {"a=1", "b=2"}, "Content-Type": {"text/plain; charset=utf-8"}}, "https://example.test/a?b=c&d=<e>"},
		{"escapes", 418, http.Header{"X-Odd": {"quote \" backslash \\ tab \t nl \n cr \r ctl \x01\x1f del \x7f"}, "X-Html": {"<script>&amp;</script>"}}, "http://h.test/\u2028\u2029"},
		{"unicode and invalid UTF-8", 200, http.Header{"X-U": {"héllo ☃ 😀", "bad \xff\xfe end", "cut \xe2\x82"}}, "http://h.test/%E2%98%83"},
		{"redacted", 302, http.Header{"Location": {"http://other.test/?k=s3cr3t-token-value-4242"}, "X-Echo": {"Bearer s3cr3t-token-value-4242"}}, "http://h.test/?t=s3cr3t-token-value-4242"},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, err := json.Marshal(FetchMeta{Status: c.status, Headers: flattenHeaders(c.h, red), URL: red.string(c.url)})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendMeta(nil, c.status, c.h, c.url, red); string(got) != string(want) {
				t.Fatalf("head differs from encoding/json\n got %s\nwant %s", got, want)
			}
		})
	}
}
