//go:build wasip1

// Command rss-digest is a reef skill: a compact digest of an RSS or Atom
// feed, given as text or fetched through the http capability.
package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	reef "github.com/reefhq/reef/pdk/go"
)

type digestInput struct {
	// XML is the feed document; URL fetches it instead (http capability).
	XML string `json:"xml"`
	URL string `json:"url"`
	// Limit is the most items returned (default 20).
	Limit int `json:"limit"`
	// SummaryLength cuts summaries to that many characters (default 280;
	// 0 keeps the default, -1 drops summaries).
	SummaryLength int `json:"summary_length"`
	// Since keeps items published at or after this RFC 3339 time.
	Since string `json:"since"`
}

type item struct {
	Title     string `json:"title"`
	Link      string `json:"link,omitempty"`
	Published string `json:"published,omitempty"`
	Author    string `json:"author,omitempty"`
	Summary   string `json:"summary,omitempty"`
}

type digestOutput struct {
	Format string `json:"format"`
	Title  string `json:"title"`
	Link   string `json:"link,omitempty"`
	// Total is the number of items in the feed (before Since and Limit).
	Total int    `json:"total"`
	Items []item `json:"items"`
}

// maxFeed bounds a fetched feed.
const maxFeed = 8 << 20

func digest(in digestInput) (digestOutput, error) {
	doc := []byte(in.XML)
	switch {
	case in.XML != "" && in.URL != "":
		return digestOutput{}, errors.New(`give either "xml" or "url", not both`)
	case in.URL != "":
		if !strings.HasPrefix(in.URL, "https://") && !strings.HasPrefix(in.URL, "http://") {
			return digestOutput{}, errors.New(`"url" must be an http or https URL`)
		}
		resp, err := reef.Fetch(reef.HTTPRequest{URL: in.URL, Headers: map[string]string{"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}, MaxBytes: maxFeed})
		if err != nil {
			return digestOutput{}, errors.Join(errors.New("fetching "+in.URL), err)
		}
		if resp.Status < 200 || resp.Status > 299 {
			return digestOutput{}, errors.New("fetching " + in.URL + ": HTTP status " + strconv.Itoa(resp.Status))
		}
		doc = resp.Body
	case in.XML == "":
		return digestOutput{}, errors.New(`give the feed as "xml" (text) or "url"`)
	}
	f, err := parseFeed(doc)
	if err != nil {
		return digestOutput{}, err
	}
	var since time.Time
	if in.Since != "" {
		if since, err = time.Parse(time.RFC3339, in.Since); err != nil {
			return digestOutput{}, errors.New(`"since" is not an RFC 3339 time: ` + err.Error())
		}
	}
	limit := in.Limit
	if limit <= 0 {
		limit = 20
	}
	sumLen := in.SummaryLength
	if sumLen == 0 {
		sumLen = 280
	}
	out := digestOutput{Format: f.format, Title: f.title, Link: f.link, Total: len(f.items), Items: []item{}}
	for _, it := range f.items {
		if len(out.Items) == limit {
			break
		}
		pub, ok := parseDate(it.date)
		if !since.IsZero() && (!ok || pub.Before(since)) {
			continue
		}
		o := item{Title: clean(it.title), Link: strings.TrimSpace(it.link), Author: clean(it.author)}
		if ok {
			o.Published = pub.UTC().Format(time.RFC3339)
		} else {
			o.Published = strings.TrimSpace(it.date)
		}
		if sumLen > 0 {
			o.Summary = truncate(clean(stripTags(it.summary)), sumLen)
		}
		out.Items = append(out.Items, o)
	}
	return out, nil
}

//go:wasmexport digest
//lint:ignore U1000 exported to the host
func digestExport() int32 { return reef.Run(digest) }

func main() {}
