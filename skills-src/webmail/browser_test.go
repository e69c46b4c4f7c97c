//go:build !wasip1

package webmail

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/policy"
)

// browserGrant grants the good site only.
func browserGrant() *policy.Grant {
	return &policy.Grant{Browser: &policy.BrowserGrant{Hosts: []string{w.good.origin()}}}
}

type textOut struct {
	URL       string `json:"url"`
	Title     string `json:"title"`
	Text      string `json:"text"`
	Chars     int    `json:"chars"`
	Truncated bool   `json:"truncated"`
}

func TestWebText(t *testing.T) {
	s, pl := loadSkill(t, "web-text", browserGrant(), withBrowserHost(w.good.origin()))

	var out textOut
	must(t, callJSON(t, s, pl, "extract", map[string]any{"url": w.good.URL + "/article"}, &out))
	want := "Field notes\n\nCoral reefs cover less than 1% of the ocean floor.\n\nThey host about a quarter of all marine species: Grüße from the reef.\n\nwritten by script"
	if out.Text != want {
		t.Errorf("text:\n%q\nwant\n%q", out.Text, want)
	}
	if out.Title != "Reef & Coral — field notes" || out.URL != w.good.URL+"/article" || out.Truncated {
		t.Errorf("extract: %+v", out)
	}
	if strings.Contains(out.Text, "hidden text") || out.Chars != len([]rune(want)) {
		t.Errorf("hidden text or chars wrong: %+v", out)
	}

	// max_chars caps by characters and says so; title:false skips it.
	out = textOut{}
	must(t, callJSON(t, s, pl, "extract", map[string]any{"url": w.good.URL + "/long", "max_chars": 50, "title": false}, &out))
	if !out.Truncated || out.Chars > 50 || !strings.HasPrefix(out.Text, "line 000 of a long page\n\nline 001") || out.Title != "" {
		t.Errorf("capped extract: %+v", out)
	}

	t.Run("non-granted host", func(t *testing.T) {
		before := len(w.bad.requests())
		_, err := call(t, s, pl, "extract", map[string]any{"url": w.bad.URL + "/"})
		wantDenied(t, err, "web-text", policy.CapBrowser, w.bad.origin())
		if n := len(w.bad.requests()); n != before {
			t.Fatalf("the non-granted server was reached")
		}
	})
	t.Run("redirect to a non-granted host", func(t *testing.T) {
		_, err := call(t, s, pl, "extract", map[string]any{"url": w.good.URL + "/to-bad"})
		if err == nil {
			t.Fatal("redirect to a non-granted host succeeded")
		}
		if strings.Contains(err.Error(), "SECRET-FROM-BAD") {
			t.Fatalf("content of the non-granted host leaked: %v", err)
		}
	})
	t.Run("host name not granted", func(t *testing.T) {
		// The manifest's "*" covers names, the grant does not name it:
		// refused by the policy before any lookup.
		_, err := call(t, s, pl, "extract", map[string]any{"url": "https://example.org/"})
		wantDenied(t, err, "web-text", policy.CapBrowser, "example.org")
	})
	t.Run("no grant at all", func(t *testing.T) {
		s2, pl2 := loadSkill(t, "web-text", nil, withBrowserHost(w.good.origin()))
		_, err := call(t, s2, pl2, "extract", map[string]any{"url": w.good.URL + "/article"})
		wantDenied(t, err, "web-text", policy.CapBrowser, w.good.origin())
	})
	runGoldens(t, s, pl)
}

func TestWebScreenshot(t *testing.T) {
	s, pl := loadSkill(t, "web-screenshot", browserGrant(), withBrowserHost(w.good.origin()))
	cases := []struct {
		name string
		in   map[string]any
		w, h int
	}{
		{"viewport", map[string]any{"url": w.good.URL + "/box", "width": 640, "height": 480}, 640, 480},
		{"element", map[string]any{"url": w.good.URL + "/box", "selector": "#box"}, 120, 60},
		{"full page", map[string]any{"url": w.good.URL + "/tall", "full_page": true, "width": 400, "height": 300}, 400, 1500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := call(t, s, pl, "capture", tc.in)
			must(t, err)
			if !bytes.HasPrefix(out, []byte("\x89PNG\r\n\x1a\n")) {
				t.Fatalf("output is not a PNG: % x", out[:min(len(out), 16)])
			}
			img, err := png.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("decoding the PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Fatalf("PNG is %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.w, tc.h)
			}
			if tc.name == "element" {
				// The element is solid #0a0.
				r, g, b, _ := img.At(tc.w/2, tc.h/2).RGBA()
				if r>>8 > 10 || g>>8 < 0x99 || g>>8 > 0xbb || b>>8 > 10 {
					t.Fatalf("element pixel is %d,%d,%d, want ~0,170,0", r>>8, g>>8, b>>8)
				}
			}
		})
	}
	t.Run("non-granted host", func(t *testing.T) {
		_, err := call(t, s, pl, "capture", map[string]any{"url": w.bad.URL + "/"})
		wantDenied(t, err, "web-screenshot", policy.CapBrowser, w.bad.origin())
		if !strings.Contains(err.Error(), "screenshot: capability not granted") {
			t.Fatalf("the C skill's error text: %v", err)
		}
	})
	runGoldens(t, s, pl)
}

type formOut struct {
	URL   string `json:"url"`
	Text  string `json:"text"`
	Steps int    `json:"steps"`
}

func TestWebForm(t *testing.T) {
	s, pl := loadSkill(t, "web-form", browserGrant(), withBrowserHost(w.good.origin()))
	var out formOut
	must(t, callJSON(t, s, pl, "submit", map[string]any{
		"url":             w.good.URL + "/form",
		"fields":          map[string]string{"#q": "coral & <kelp>", "#city": "Cairns"},
		"submit":          "#go",
		"result_selector": "#results",
	}, &out))
	if out.Text != "query=coral & <kelp> city=Cairns n=1" || out.Steps != 5 || out.URL != w.good.URL+"/form" {
		t.Fatalf("submit: %+v", out)
	}
	// The server really got the POST.
	found := false
	for _, r := range w.good.requests() {
		found = found || r == "POST /search"
	}
	if !found {
		t.Fatalf("no POST /search reached the server: %v", w.good.requests())
	}

	t.Run("missing field", func(t *testing.T) {
		_, err := call(t, s, pl, "submit", map[string]any{"url": w.good.URL + "/form", "fields": map[string]string{"#nope": "x"}, "submit": "#go"})
		if err == nil || !strings.Contains(err.Error(), "step 1 (type)") || !strings.Contains(err.Error(), "#nope") {
			t.Fatalf("missing field: %v", err)
		}
	})
	t.Run("non-granted form page", func(t *testing.T) {
		_, err := call(t, s, pl, "submit", map[string]any{"url": w.bad.URL + "/form", "fields": map[string]string{"#q": "x"}, "submit": "#go"})
		wantDenied(t, err, "web-form", policy.CapBrowser, w.bad.origin())
	})
	runGoldens(t, s, pl)
}
