package hostmail

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseRelatedHTMLOnly(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "related.eml"))
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(raw, parseLimits{text: 1 << 20, attachment: 1 << 20, content: true})
	if p.Err != nil || p.Text != "" || p.HTML == "" {
		t.Fatalf("%+v", p)
	}
	if len(p.Attachments) != 1 || p.Attachments[0].Name != "logo.png" || p.Attachments[0].Type != "image/png" || p.Attachments[0].Size != 8 {
		t.Fatalf("attachments %+v", p.Attachments)
	}
	if got := p.Headers["Subject"]; len(got) != 1 || got[0] != "Réunion" {
		t.Fatalf("subject %q", got)
	}
	if got := preview(raw, 200); got != "Réunion & café" {
		t.Fatalf("preview %q", got)
	}
	if got := collapse("  a \r\n\t b  ", 10); got != "a b" {
		t.Fatalf("collapse %q", got)
	}
	if got := collapse("abcdef", 3); got != "abc" {
		t.Fatalf("collapse cut %q", got)
	}
}
