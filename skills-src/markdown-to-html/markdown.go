//go:build wasip1

package main

import (
	"strconv"
	"strings"
	"unicode"
)

// renderer converts a subset of CommonMark to HTML. Every piece of text
// that reaches the output goes through escape, and link targets through
// safeURL, so raw HTML in the input is always shown as text.
type renderer struct {
	b        strings.Builder
	ids      bool
	seen     map[string]int
	headings []heading
}

// escape is the only way text reaches the output.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// safeURL allows http, https, mailto and relative targets; anything else
// (javascript:, data:, vbscript:, ...) is refused.
func safeURL(u string) (string, bool) {
	u = strings.TrimSpace(u)
	lower := strings.ToLower(u)
	// Browsers ignore control characters and whitespace inside a scheme.
	clean := strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, lower)
	if i := strings.IndexAny(clean, ":/?#"); i >= 0 && clean[i] == ':' {
		scheme := clean[:i]
		if scheme != "http" && scheme != "https" && scheme != "mailto" {
			return "", false
		}
	}
	return escape(u), true
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

func headingLevel(line string) (int, string) {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || (n < len(line) && line[n] != ' ' && line[n] != '\t') {
		return 0, ""
	}
	text := strings.TrimSpace(line[n:])
	text = strings.TrimSpace(strings.TrimRight(text, "#"))
	return n, text
}

func isRule(line string) bool {
	t := strings.ReplaceAll(strings.TrimSpace(line), " ", "")
	if len(t) < 3 {
		return false
	}
	for _, c := range []byte{'-', '*', '_'} {
		if strings.Count(t, string(c)) == len(t) {
			return true
		}
	}
	return false
}

// listItem reports a list marker: ordered, the start number, the text.
func listItem(line string) (ok, ordered bool, start int, text string) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return false, false, 0, ""
	}
	if len(t) >= 2 && (t[0] == '-' || t[0] == '*' || t[0] == '+') && t[1] == ' ' {
		return true, false, 0, strings.TrimSpace(t[2:])
	}
	i := 0
	for i < len(t) && i < 9 && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(t) && (t[i] == '.' || t[i] == ')') && t[i+1] == ' ' {
		n, _ := strconv.Atoi(t[:i])
		return true, true, n, strings.TrimSpace(t[i+2:])
	}
	return false, false, 0, ""
}

func fence(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
		return t[:3], true
	}
	return "", false
}

func (r *renderer) blocks(lines []string) {
	for i := 0; i < len(lines); {
		line := lines[i]
		switch {
		case isBlank(line):
			i++
		case strings.HasPrefix(strings.TrimSpace(line), "```") || strings.HasPrefix(strings.TrimSpace(line), "~~~"):
			i = r.code(lines, i)
		case strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t"):
			i = r.indented(lines, i)
		case strings.HasPrefix(strings.TrimLeft(line, " "), "#"):
			if lvl, text := headingLevel(strings.TrimLeft(line, " ")); lvl > 0 {
				r.heading(lvl, text)
				i++
			} else {
				i = r.paragraph(lines, i)
			}
		case isRule(line):
			r.b.WriteString("<hr>\n")
			i++
		case strings.HasPrefix(strings.TrimLeft(line, " "), ">"):
			i = r.quote(lines, i)
		default:
			if ok, _, _, _ := listItem(line); ok {
				i = r.list(lines, i)
			} else {
				i = r.paragraph(lines, i)
			}
		}
	}
}

func (r *renderer) heading(lvl int, text string) {
	tag := "h" + strconv.Itoa(lvl)
	h := heading{Level: lvl, Text: plain(text)}
	if r.ids {
		h.ID = r.slug(h.Text)
		r.b.WriteString("<" + tag + ` id="` + escape(h.ID) + `">`)
	} else {
		r.b.WriteString("<" + tag + ">")
	}
	r.b.WriteString(inline(text))
	r.b.WriteString("</" + tag + ">\n")
	r.headings = append(r.headings, h)
}

// slug makes a unique, lowercase, hyphenated id.
func (r *renderer) slug(text string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(text) {
		if unicode.IsLetter(c) || unicode.IsDigit(c) {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if s == "" {
		s = "section"
	}
	if n := r.seen[s]; n > 0 {
		r.seen[s] = n + 1
		s += "-" + strconv.Itoa(n)
	} else {
		r.seen[s] = 1
	}
	return s
}

func (r *renderer) code(lines []string, i int) int {
	marker, _ := fence(lines[i])
	lang := strings.TrimSpace(strings.TrimSpace(lines[i])[3:])
	if f := strings.Fields(lang); len(f) > 0 {
		lang = f[0]
	}
	i++
	var body []string
	for ; i < len(lines); i++ {
		if strings.HasPrefix(strings.TrimSpace(lines[i]), marker) {
			i++
			break
		}
		body = append(body, lines[i])
	}
	if lang != "" {
		r.b.WriteString(`<pre><code class="language-` + escape(lang) + `">`)
	} else {
		r.b.WriteString("<pre><code>")
	}
	for _, l := range body {
		r.b.WriteString(escape(l) + "\n")
	}
	r.b.WriteString("</code></pre>\n")
	return i
}

func (r *renderer) indented(lines []string, i int) int {
	var body []string
	for ; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "    "):
			body = append(body, l[4:])
		case strings.HasPrefix(l, "\t"):
			body = append(body, l[1:])
		case isBlank(l):
			body = append(body, "")
		default:
			goto done
		}
	}
done:
	for len(body) > 0 && body[len(body)-1] == "" {
		body = body[:len(body)-1]
	}
	r.b.WriteString("<pre><code>")
	for _, l := range body {
		r.b.WriteString(escape(l) + "\n")
	}
	r.b.WriteString("</code></pre>\n")
	return i
}

func (r *renderer) quote(lines []string, i int) int {
	var inner []string
	for ; i < len(lines) && !isBlank(lines[i]); i++ {
		t := strings.TrimLeft(lines[i], " ")
		if strings.HasPrefix(t, ">") {
			t = strings.TrimPrefix(t[1:], " ")
		}
		inner = append(inner, t)
	}
	r.b.WriteString("<blockquote>\n")
	r.blocks(inner)
	r.b.WriteString("</blockquote>\n")
	return i
}

func (r *renderer) list(lines []string, i int) int {
	_, ordered, start, _ := listItem(lines[i])
	if ordered {
		if start != 1 {
			r.b.WriteString(`<ol start="` + strconv.Itoa(start) + `">` + "\n")
		} else {
			r.b.WriteString("<ol>\n")
		}
	} else {
		r.b.WriteString("<ul>\n")
	}
	for i < len(lines) {
		ok, o, _, text := listItem(lines[i])
		if !ok || o != ordered {
			break
		}
		i++
		// Continuation lines (indented) join the item's text.
		for i < len(lines) && !isBlank(lines[i]) && strings.HasPrefix(lines[i], "  ") {
			if ok, _, _, _ := listItem(lines[i]); ok {
				break
			}
			text += " " + strings.TrimSpace(lines[i])
			i++
		}
		r.b.WriteString("<li>")
		if t, checked, isTask := task(text); isTask {
			box := `<input type="checkbox" disabled>`
			if checked {
				box = `<input type="checkbox" checked disabled>`
			}
			r.b.WriteString(box + " " + inline(t))
		} else {
			r.b.WriteString(inline(text))
		}
		r.b.WriteString("</li>\n")
		// A nested list is indented by two or more spaces.
		if i < len(lines) && strings.HasPrefix(lines[i], "  ") {
			if ok, _, _, _ := listItem(strings.TrimLeft(lines[i], " ")); ok {
				var sub []string
				for i < len(lines) && strings.HasPrefix(lines[i], "  ") {
					sub = append(sub, strings.TrimLeft(lines[i], " "))
					i++
				}
				r.blocks(sub)
			}
		}
		if i < len(lines) && isBlank(lines[i]) && i+1 < len(lines) {
			if ok, o, _, _ := listItem(lines[i+1]); ok && o == ordered {
				i++
			}
		}
	}
	if ordered {
		r.b.WriteString("</ol>\n")
	} else {
		r.b.WriteString("</ul>\n")
	}
	return i
}

func task(text string) (string, bool, bool) {
	switch {
	case strings.HasPrefix(text, "[ ] "):
		return text[4:], false, true
	case strings.HasPrefix(text, "[x] "), strings.HasPrefix(text, "[X] "):
		return text[4:], true, true
	}
	return text, false, false
}

func (r *renderer) paragraph(lines []string, i int) int {
	var text []string
	for ; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimLeft(l, " ")
		if isBlank(l) || strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") || strings.HasPrefix(t, ">") {
			break
		}
		if lvl, _ := headingLevel(t); lvl > 0 {
			break
		}
		if len(text) > 0 && (isRule(l) || func() bool { ok, _, _, _ := listItem(l); return ok }()) {
			break
		}
		text = append(text, l)
	}
	r.b.WriteString("<p>")
	for k, l := range text {
		if k > 0 {
			if strings.HasSuffix(text[k-1], "  ") {
				r.b.WriteString("<br>")
			}
			r.b.WriteString("\n")
		}
		r.b.WriteString(inline(strings.TrimSpace(l)))
	}
	r.b.WriteString("</p>\n")
	return i
}

// plain is the text of inline Markdown without markup (for heading lists).
func plain(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '_', '`':
		case '[', ']':
		case '(':
			if i > 0 && s[i-1] == ']' {
				if j := strings.IndexByte(s[i:], ')'); j >= 0 {
					i += j
					continue
				}
			}
			b.WriteByte(s[i])
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// inline renders code spans, links, images, emphasis and strong text;
// everything else is escaped.
func inline(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && strings.IndexByte(punct, s[i+1]) >= 0:
			b.WriteString(escape(s[i+1 : i+2]))
			i += 2
			continue
		case c == '`':
			n := 0
			for i+n < len(s) && s[i+n] == '`' {
				n++
			}
			tick := s[i : i+n]
			if j := strings.Index(s[i+n:], tick); j >= 0 {
				code := s[i+n : i+n+j]
				if len(code) > 1 && code[0] == ' ' && code[len(code)-1] == ' ' {
					code = code[1 : len(code)-1]
				}
				b.WriteString("<code>" + escape(code) + "</code>")
				i += n + j + n
				continue
			}
			b.WriteString(tick)
			i += n
			continue
		case c == '!' && i+1 < len(s) && s[i+1] == '[':
			if text, url, n, ok := link(s[i+1:]); ok {
				if u, safe := safeURL(url); safe {
					b.WriteString(`<img src="` + u + `" alt="` + escape(plain(text)) + `">`)
				} else {
					b.WriteString(escape(plain(text)))
				}
				i += 1 + n
				continue
			}
		case c == '[':
			if text, url, n, ok := link(s[i:]); ok {
				if u, safe := safeURL(url); safe {
					b.WriteString(`<a href="` + u + `">` + inline(text) + "</a>")
				} else {
					b.WriteString(inline(text))
				}
				i += n
				continue
			}
		case c == '<':
			// Autolink <https://...>; any other '<' is text.
			if j := strings.IndexByte(s[i:], '>'); j > 0 {
				u := s[i+1 : i+j]
				lu := strings.ToLower(u)
				if (strings.HasPrefix(lu, "http://") || strings.HasPrefix(lu, "https://")) && !strings.ContainsAny(u, " <\"") {
					if su, ok := safeURL(u); ok {
						b.WriteString(`<a href="` + su + `">` + escape(u) + "</a>")
						i += j + 1
						continue
					}
				}
			}
		case c == '*' || c == '_' || c == '~':
			n := 0
			for i+n < len(s) && s[i+n] == c && n < 2 {
				n++
			}
			if c == '~' && n < 2 {
				break
			}
			delim := s[i : i+n]
			j := strings.Index(s[i+n:], delim)
			if j > 0 && s[i+n] != ' ' && s[i+n+j-1] != ' ' {
				inner := s[i+n : i+n+j]
				tag := "em"
				switch {
				case c == '~':
					tag = "del"
				case n == 2:
					tag = "strong"
				}
				b.WriteString("<" + tag + ">" + inline(inner) + "</" + tag + ">")
				i += n + j + n
				continue
			}
			b.WriteString(escape(delim))
			i += n
			continue
		}
		// One rune of text.
		j := i + 1
		for j < len(s) && s[j]&0xC0 == 0x80 {
			j++
		}
		b.WriteString(escape(s[i:j]))
		i = j
	}
	return b.String()
}

// link parses [text](url) at the start of s; n is its length.
func link(s string) (text, url string, n int, ok bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				if i+1 >= len(s) || s[i+1] != '(' {
					return "", "", 0, false
				}
				end := closingParen(s[i+2:])
				if end < 0 {
					return "", "", 0, false
				}
				target := strings.TrimSpace(s[i+2 : i+2+end])
				// Drop an optional "title".
				if k := strings.IndexAny(target, " \t"); k >= 0 {
					target = target[:k]
				}
				target = strings.TrimSuffix(strings.TrimPrefix(target, "<"), ">")
				return s[1:i], target, i + 2 + end + 1, true
			}
		}
	}
	return "", "", 0, false
}

// closingParen finds the ')' that balances an already opened '(' in s.
func closingParen(s string) int {
	depth := 1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
