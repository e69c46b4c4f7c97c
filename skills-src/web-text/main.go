//go:build wasip1

// Command web-text is a reef skill: the visible text of a web page,
// rendered by the host's headless browser (reef_browser_text).
package main

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"unicode/utf8"

	reef "github.com/reefhq/reef/pdk/go"
)

// Bounds of max_chars; the schema in reef.yaml says the same.
const (
	defaultMaxChars = 100_000
	maxMaxChars     = 1_000_000
)

type input struct {
	URL string `json:"url"`
	// MaxChars caps the text in characters (runes); 0 = default.
	MaxChars int `json:"max_chars"`
	// Title fetches the page title as well (one more page load); nil = true.
	Title *bool `json:"title"`
}

type output struct {
	URL       string `json:"url"`
	Title     string `json:"title,omitempty"`
	Text      string `json:"text"`
	Chars     int    `json:"chars"`
	Truncated bool   `json:"truncated,omitempty"`
}

func extract(in input) (output, error) {
	if in.URL == "" {
		return output{}, errors.New(`"url" is required`)
	}
	limit := in.MaxChars
	switch {
	case limit == 0:
		limit = defaultMaxChars
	case limit < 1 || limit > maxMaxChars:
		return output{}, fmt.Errorf("max_chars must be 1 to %d, got %d", maxMaxChars, limit)
	}
	raw, err := reef.BrowserText(in.URL)
	if err != nil {
		return output{}, fmt.Errorf("reading %s: %w", in.URL, err)
	}
	text, truncated := capRunes(tidy(raw), limit)
	out := output{URL: in.URL, Text: text, Chars: utf8.RuneCountInString(text), Truncated: truncated}
	if in.Title == nil || *in.Title {
		doc, err := reef.BrowserHTML(in.URL, "")
		if err != nil {
			return output{}, fmt.Errorf("reading the title of %s: %w", in.URL, err)
		}
		out.Title = titleOf(doc)
	}
	return out, nil
}

// tidy trims every line, drops leading and trailing blank lines and
// collapses runs of blank lines into one.
func tidy(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	blank := false
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(strings.ReplaceAll(line, "\u00a0", " "))
		if line == "" {
			blank = b.Len() > 0
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if blank {
				b.WriteByte('\n')
			}
		}
		blank = false
		b.WriteString(line)
	}
	return b.String()
}

// capRunes cuts s to at most n runes.
func capRunes(s string, n int) (string, bool) {
	if utf8.RuneCountInString(s) <= n {
		return s, false
	}
	i := 0
	for j := range s {
		if i == n {
			return strings.TrimRightFunc(s[:j], func(r rune) bool { return r == ' ' || r == '\n' }), true
		}
		i++
	}
	return s, false
}

// titleOf returns the text of the document's first <title> element,
// entities decoded and white space collapsed. The HTML is Chromium's
// serialisation of the DOM, so the element is written as <title>.
func titleOf(doc string) string {
	lower := strings.ToLower(doc)
	i := strings.Index(lower, "<title")
	if i < 0 {
		return ""
	}
	gt := strings.IndexByte(lower[i:], '>')
	if gt < 0 {
		return ""
	}
	start := i + gt + 1
	end := strings.Index(lower[start:], "</title")
	if end < 0 {
		return ""
	}
	return strings.Join(strings.Fields(html.UnescapeString(doc[start:start+end])), " ")
}

//lint:ignore U1000 exported to the host
//go:wasmexport extract
//lint:ignore U1000 exported to the host
func extractExport() int32 { return reef.Run(extract) }

func main() {}
