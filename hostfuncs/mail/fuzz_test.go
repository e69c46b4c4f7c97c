package hostmail

import (
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzBareAddress: whatever bareAddress accepts is one addr-spec that
// parses back to itself and can never carry a header break.
func FuzzBareAddress(f *testing.F) {
	for _, s := range []string{"a@b.org", "Alice <a@b.org>", "a@b.org\r\nBcc: x@y", "a@b.org, c@d.org", `"x y"@b.org`, "g: a@b.org;", "a@b.org (c)", "=?utf-8?q?x?= <a@b.org>", "a@[127.0.0.1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := bareAddress("to", s)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "\r\n\x00") {
			t.Fatalf("accepted %q", got)
		}
		if hasControl(got) {
			t.Fatalf("accepted control characters: %q", got)
		}
		a, err := mail.ParseAddress(got)
		if err != nil || a.Address != got || a.Name != "" {
			t.Fatalf("accepted %q parses to %+v, %v", got, a, err)
		}
	})
}

// FuzzHeaderText: nothing with a line break, NUL or control passes.
func FuzzHeaderText(f *testing.F) {
	for _, s := range []string{"Weekly report", "x\r\nBcc: y", "x\ny", "x\x00", "été ✓", "\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if headerText("subject", s, maxSubjectBytes) != nil {
			return
		}
		if hasControl(s) || strings.ContainsAny(s, "\r\n\x00") || !utf8.ValidString(s) || len(s) > maxSubjectBytes {
			t.Fatalf("accepted %q", s)
		}
	})
}

// FuzzParseMessage: any bytes from a server parse without panicking, and
// the caps hold.
func FuzzParseMessage(f *testing.F) {
	f.Add(multipartMessage())
	f.Add(rawMessage("a@b.org", "c@d.org", "s", day("2026-01-01"), "body"))
	if seeds, err := filepath.Glob(filepath.Join("testdata", "*.eml")); err == nil {
		for _, p := range seeds {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p := parseMessage(raw, parseLimits{text: 64, attachment: 128, content: true})
		if len(p.Text) > 64*2 || len(p.HTML) > 64*2 { // U+FFFD replacement may grow invalid bytes
			t.Fatalf("text cap: %d %d", len(p.Text), len(p.HTML))
		}
		for _, a := range p.Attachments {
			if len(a.ContentBase64) > 4*((128+2)/3) {
				t.Fatalf("attachment cap: %d", len(a.ContentBase64))
			}
		}
		_ = preview(raw, 50)
	})
}
