package hostmail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	gmail "github.com/emersion/go-message/mail"
)

// parsedBody is what fetch reports of a message's MIME structure.
type parsedBody struct {
	Headers       map[string][]string
	Text          string
	TextTruncated bool
	HTML          string
	HTMLTruncated bool
	Attachments   []AttachmentInfo
	// Err is set when the structure could not be read to the end (a
	// malformed or truncated message); what was read is still reported.
	Err error
}

// AttachmentInfo describes one attachment of a fetched message.
type AttachmentInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Size is the decoded size in bytes.
	Size int64 `json:"size"`
	// ContentBase64 is the content when asked for and within the limit.
	ContentBase64 string `json:"content_base64,omitempty"`
	// Omitted says why the content is missing when it was asked for.
	Omitted string `json:"omitted,omitempty"`
}

// parseLimits bound what parseMessage keeps.
type parseLimits struct {
	text       int64 // text and html bodies, each
	attachment int64 // one attachment's content
	content    bool  // return attachment content
	headerOnly bool  // raw holds only the header
}

// parseMessage reads raw (an RFC 5322 message, possibly cut short) into
// headers, bodies and attachments. It never fails outright: a parse error
// is reported in Err next to whatever was read before it.
func parseMessage(raw []byte, lim parseLimits) *parsedBody {
	out := &parsedBody{Headers: map[string][]string{}}
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		out.Err = err
		if e == nil {
			return out
		}
	}
	fields := e.Header.Fields()
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		k := fields.Key()
		out.Headers[k] = append(out.Headers[k], v)
	}
	if lim.headerOnly {
		return out
	}
	mr := gmail.NewReader(e)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !message.IsUnknownCharset(err) {
			out.Err = err
			break
		}
		switch h := p.Header.(type) {
		case *gmail.InlineHeader:
			ct, _, _ := h.ContentType()
			switch {
			case ct == "text/html" && out.HTML == "" && !out.HTMLTruncated:
				out.HTML, out.HTMLTruncated = readText(p.Body, lim.text)
				continue
			case (ct == "text/plain" || ct == "") && out.Text == "" && !out.TextTruncated:
				out.Text, out.TextTruncated = readText(p.Body, lim.text)
				continue
			}
			// Another inline part (an inline image, a second text
			// part): report it like an attachment.
			out.Attachments = append(out.Attachments, readAttachment(p.Body, ct, partName(h.Header), lim))
		case *gmail.AttachmentHeader:
			ct, _, _ := h.ContentType()
			name, _ := h.Filename()
			if name == "" {
				name = partName(h.Header)
			}
			out.Attachments = append(out.Attachments, readAttachment(p.Body, ct, name, lim))
		}
	}
	return out
}

// partName is the file name of a part from Content-Disposition or the
// Content-Type name parameter.
func partName(h message.Header) string {
	if _, params, err := h.ContentDisposition(); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	if _, params, err := h.ContentType(); err == nil {
		if n := params["name"]; n != "" {
			if dec, err := wordDecoder.DecodeHeader(n); err == nil {
				return dec
			}
			return n
		}
	}
	return ""
}

func readText(r io.Reader, limit int64) (string, bool) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	truncated := int64(len(b)) > limit
	if truncated {
		b = b[:limit]
		// Do not cut a UTF-8 sequence in half.
		for len(b) > 0 && !utf8.Valid(b[max(0, len(b)-4):]) {
			b = b[:len(b)-1]
		}
	}
	if err != nil && len(b) == 0 {
		return "", truncated
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), truncated
}

func readAttachment(r io.Reader, ctype, name string, lim parseLimits) AttachmentInfo {
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	info := AttachmentInfo{Name: name, Type: ctype}
	if !lim.content {
		n, _ := io.Copy(io.Discard, r)
		info.Size = n
		return info
	}
	b, err := io.ReadAll(io.LimitReader(r, lim.attachment+1))
	if int64(len(b)) > lim.attachment {
		n, _ := io.Copy(io.Discard, r)
		info.Size = int64(len(b)) + n
		info.Omitted = "larger than the attachment limit"
		return info
	}
	info.Size = int64(len(b))
	if err != nil {
		info.Omitted = "unreadable: " + err.Error()
		return info
	}
	info.ContentBase64 = base64.StdEncoding.EncodeToString(b)
	return info
}

// preview returns the first n characters of the message's text (or of its
// HTML with tags removed), whitespace collapsed. raw may be cut short.
func preview(raw []byte, n int) string {
	p := parseMessage(raw, parseLimits{text: int64(n) * 8, attachment: 0})
	t := p.Text
	if strings.TrimSpace(t) == "" && p.HTML != "" {
		t = stripTags(p.HTML)
	}
	return collapse(t, n)
}

// collapse folds runs of whitespace into one space and cuts to n runes.
func collapse(s string, n int) string {
	var b strings.Builder
	space, count := false, 0
	for _, r := range s {
		if count >= n {
			break
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			count++
		}
		space = false
		if unicode.IsControl(r) {
			continue
		}
		b.WriteRune(r)
		count++
	}
	return b.String()
}

// stripTags is a crude HTML-to-text for previews: drop tags, the content of
// <style> and <script>, decode a few entities.
func stripTags(h string) string {
	var b strings.Builder
	lower := strings.ToLower(h)
	for i := 0; i < len(h); {
		switch {
		case strings.HasPrefix(lower[i:], "<style"), strings.HasPrefix(lower[i:], "<script"):
			tag := "</style>"
			if strings.HasPrefix(lower[i:], "<script") {
				tag = "</script>"
			}
			end := strings.Index(lower[i:], tag)
			if end < 0 {
				return b.String()
			}
			i += end + len(tag)
		case h[i] == '<':
			end := strings.IndexByte(h[i:], '>')
			if end < 0 {
				return b.String()
			}
			b.WriteByte(' ')
			i += end + 1
		default:
			b.WriteByte(h[i])
			i++
		}
	}
	return htmlEntities.Replace(b.String())
}

var htmlEntities = strings.NewReplacer("&nbsp;", " ", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'")
