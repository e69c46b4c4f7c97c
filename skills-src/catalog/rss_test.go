//go:build !wasip1

package catalog

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

const feedXML = `<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback feed</title>
<item><title>One</title><link>http://feed.test/1</link><pubDate>Tue, 06 Jan 2026 10:00:00 +0000</pubDate></item></channel></rss>`

// TestRSSDigestFetch runs rss-digest's url mode for real: a feed server on
// loopback, the http capability, and a grant naming exactly that server.
// Another loopback port, not granted, is refused before any connection.
func TestRSSDigestFetch(t *testing.T) {
	dir := filepath.Join("..", "rss-digest")
	if _, err := os.Stat(filepath.Join(dir, "rss-digest.wasm")); err != nil {
		t.Fatal("rss-digest.wasm is missing: run make skills first")
	}
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path != "/feed.xml" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write([]byte(feedXML))
	}))
	defer srv.Close()
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	// The bundled manifest requests any public host name ("*"), which by
	// design never admits an IP literal such as the loopback test server.
	// Run the same module from a copy whose manifest also requests that
	// one address, as an operator would for a feed on the LAN.
	bundle := filepath.Join(t.TempDir(), "rss-digest")
	if err := os.Mkdir(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"SKILL.md", "reef.yaml", "rss-digest.wasm"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "reef.yaml" {
			b = []byte(strings.Replace(string(b), `hosts: ["*"]`, `hosts: ["*", "`+srv.URL+`"]`, 1))
		}
		if err := os.WriteFile(filepath.Join(bundle, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := skill.Load(bundle)
	if err != nil {
		t.Fatal(err)
	}
	g := &policy.Grant{HTTP: &policy.HostGrant{Hosts: []string{srv.URL}}}
	pol, err := policy.Compute(s, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pl, err := eng.Load(ctx, s, pol, engine.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close(context.Background())

	call := func(url string) ([]byte, error) {
		in, _ := json.Marshal(map[string]string{"url": url})
		return pl.Call(ctx, "digest", in)
	}
	out, err := call(srv.URL + "/feed.xml")
	if err != nil {
		t.Fatalf("granted fetch: %v", err)
	}
	var d struct {
		Title string `json:"title"`
		Items []struct {
			Title     string `json:"title"`
			Published string `json:"published"`
		} `json:"items"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	if d.Title != "Loopback feed" || len(d.Items) != 1 || d.Items[0].Title != "One" || d.Items[0].Published != "2026-01-06T10:00:00Z" {
		t.Fatalf("digest = %s", out)
	}

	if _, err := call(srv.URL + "/missing.xml"); err == nil || !strings.Contains(err.Error(), "HTTP status 404") {
		t.Fatalf("404 feed: err = %v", err)
	}

	before := hits
	_, err = call("http://" + other.Addr().String() + "/feed.xml")
	if err == nil || !strings.Contains(err.Error(), "capability not granted") {
		t.Fatalf("ungranted port: err = %v", err)
	}
	if hits != before {
		t.Fatal("the ungranted request reached a server")
	}
}
