//go:build wasip1

package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"html"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

type rawItem struct {
	title, link, date, author, summary string
}

type feed struct {
	format, title, link string
	items               []rawItem
}

// XML shapes: RSS 2.0, RSS 1.0 (RDF) and Atom. encoding/xml matches
// elements by local name, so namespaces need no special care.
type rssDoc struct {
	Channel struct {
		Title string    `xml:"title"`
		Link  string    `xml:"link"`
		Items []rssItem `xml:"item"`
	} `xml:"channel"`
	Items []rssItem `xml:"item"` // RSS 1.0 puts items beside the channel
}

type rssItem struct {
	Title       string `xml:"title"`
	Link        string `xml:"link"`
	GUID        string `xml:"guid"`
	PubDate     string `xml:"pubDate"`
	Date        string `xml:"date"` // dc:date
	Author      string `xml:"author"`
	Creator     string `xml:"creator"` // dc:creator
	Description string `xml:"description"`
	Content     string `xml:"encoded"` // content:encoded
}

type atomDoc struct {
	Title   string      `xml:"title"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
}

type atomEntry struct {
	Title     string     `xml:"title"`
	Links     []atomLink `xml:"link"`
	Published string     `xml:"published"`
	Updated   string     `xml:"updated"`
	Author    struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Summary string `xml:"summary"`
	Content string `xml:"content"`
}

func atomHref(links []atomLink) string {
	for _, l := range links {
		if l.Rel == "" || l.Rel == "alternate" {
			return l.Href
		}
	}
	if len(links) > 0 {
		return links[0].Href
	}
	return ""
}

func first(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

func newDecoder(b []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	d.Entity = xml.HTMLEntity
	// Feeds declare many encodings; pass bytes through (most are UTF-8 or
	// its ASCII subset). No external entity is ever resolved.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	return d
}

func parseFeed(b []byte) (*feed, error) {
	root, err := rootName(b)
	if err != nil {
		return nil, err
	}
	switch root {
	case "rss", "RDF":
		var d rssDoc
		if err := newDecoder(b).Decode(&d); err != nil {
			return nil, errors.New("invalid RSS: " + err.Error())
		}
		f := &feed{format: "rss", title: clean(d.Channel.Title), link: strings.TrimSpace(d.Channel.Link)}
		if root == "RDF" {
			f.format = "rss1"
		}
		for _, it := range append(d.Channel.Items, d.Items...) {
			link := it.Link
			if link == "" && strings.HasPrefix(it.GUID, "http") {
				link = it.GUID
			}
			f.items = append(f.items, rawItem{title: it.Title, link: link, date: first(it.PubDate, it.Date),
				author: first(it.Author, it.Creator), summary: first(it.Description, it.Content)})
		}
		return f, nil
	case "feed":
		var d atomDoc
		if err := newDecoder(b).Decode(&d); err != nil {
			return nil, errors.New("invalid Atom: " + err.Error())
		}
		f := &feed{format: "atom", title: clean(d.Title), link: atomHref(d.Links)}
		for _, e := range d.Entries {
			f.items = append(f.items, rawItem{title: e.Title, link: atomHref(e.Links), date: first(e.Published, e.Updated),
				author: e.Author.Name, summary: first(e.Summary, e.Content)})
		}
		return f, nil
	}
	return nil, errors.New("not a feed: the root element is <" + root + ">, expected <rss>, <rdf:RDF> or <feed>")
}

func rootName(b []byte) (string, error) {
	d := newDecoder(b)
	for {
		tok, err := d.Token()
		if err != nil {
			return "", errors.New("not a feed: no XML root element (" + err.Error() + ")")
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}

var dateLayouts = []string{
	time.RFC1123Z, time.RFC1123, time.RFC3339, time.RFC3339Nano,
	"Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 MST", "2 Jan 2006 15:04:05 -0700",
	"Mon, 02 Jan 06 15:04:05 -0700", "2006-01-02T15:04:05", "2006-01-02",
}

func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// stripTags removes markup from HTML summaries (they are returned as text).
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>' && in:
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return html.UnescapeString(b.String())
}

// clean collapses whitespace.
func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,.;:") + "…"
}
