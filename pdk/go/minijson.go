package reef

// A small, reflection-free JSON reader and writer for capability requests
// and responses. The PDK does not use encoding/json for them because
// importing encoding/json (or fmt) costs a Go module about 440 KiB; with
// -tags reef_nojson a skill that sticks to RunBytes/RunString links
// neither (see README.md, "Size").

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 256

// jsonObj builds one JSON object.
type jsonObj struct {
	b []byte
}

func newObj() *jsonObj { return &jsonObj{b: append(make([]byte, 0, 64), '{')} }

func (o *jsonObj) key(k string) {
	if len(o.b) > 1 {
		o.b = append(o.b, ',')
	}
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObj) str(k, v string) *jsonObj {
	o.key(k)
	o.b = appendJSONString(o.b, v)
	return o
}

// strOpt writes k only when v is not empty.
func (o *jsonObj) strOpt(k, v string) *jsonObj {
	if v != "" {
		o.str(k, v)
	}
	return o
}

func (o *jsonObj) num(k string, v int64) *jsonObj {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
	return o
}

func (o *jsonObj) numOpt(k string, v int64) *jsonObj {
	if v != 0 {
		o.num(k, v)
	}
	return o
}

func (o *jsonObj) boolean(k string, v bool) *jsonObj {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
	return o
}

func (o *jsonObj) boolOpt(k string, v bool) *jsonObj {
	if v {
		o.boolean(k, v)
	}
	return o
}

func (o *jsonObj) raw(k string, v []byte) *jsonObj {
	o.key(k)
	o.b = append(o.b, v...)
	return o
}

func (o *jsonObj) strs(k string, v []string) *jsonObj {
	o.key(k)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendJSONString(o.b, s)
	}
	o.b = append(o.b, ']')
	return o
}

func (o *jsonObj) strsOpt(k string, v []string) *jsonObj {
	if len(v) > 0 {
		o.strs(k, v)
	}
	return o
}

func (o *jsonObj) uints(k string, v []uint32) *jsonObj {
	o.key(k)
	o.b = append(o.b, '[')
	for i, n := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = strconv.AppendUint(o.b, uint64(n), 10)
	}
	o.b = append(o.b, ']')
	return o
}

func (o *jsonObj) strMap(k string, m map[string]string) *jsonObj {
	o.key(k)
	inner := newObj()
	for mk, mv := range m {
		inner.str(mk, mv)
	}
	o.b = append(o.b, inner.bytes()...)
	return o
}

func (o *jsonObj) bytes() []byte { return append(o.b, '}') }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// ErrJSON is matched (errors.Is) by every JSON syntax error of ParseJSON.
var ErrJSON = errors.New("invalid JSON")

// jsonError is a syntax error with its byte offset.
type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.off) + ": " + e.msg
}

func (e *jsonError) Is(target error) bool { return target == ErrJSON }

// ParseJSON parses one JSON document into plain Go values: map[string]any,
// []any, string, float64, bool and nil (like encoding/json into an any),
// without reflection. Trailing data after the value is an error.
func ParseJSON(b []byte) (any, error) {
	p := &jsonParser{b: b}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, p.fail("data after the JSON value")
	}
	return v, nil
}

type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) fail(msg string) error { return &jsonError{off: p.i, msg: msg} }

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, p.fail("nested too deeply")
	}
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end of input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return m, nil
		}
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return nil, p.fail("expected a string key")
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, p.fail("expected ':' after key")
			}
			p.i++
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			p.ws()
			if p.i >= len(p.b) {
				return nil, p.fail("unexpected end of input in object")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == '}' {
				p.i++
				return m, nil
			}
			return nil, p.fail("expected ',' or '}' in object")
		}
	case c == '[':
		p.i++
		a := []any{}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return a, nil
		}
		for {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			p.ws()
			if p.i >= len(p.b) {
				return nil, p.fail("unexpected end of input in array")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == ']' {
				p.i++
				return a, nil
			}
			return nil, p.fail("expected ',' or ']' in array")
		}
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == 'n':
		return nil, p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num()
	}
	return nil, p.fail("unexpected character " + strconv.QuoteRune(rune(p.b[p.i])))
}

func (p *jsonParser) lit(s string) error {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return p.fail("invalid literal")
	}
	p.i += len(s)
	return nil
}

func (p *jsonParser) num() (any, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.fail("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if err != nil {
		return nil, &jsonError{off: start, msg: "number out of range"}
	}
	return f, nil
}

func (p *jsonParser) str() (string, error) {
	p.i++ // opening quote
	var out []byte
	start := p.i
	for {
		if p.i >= len(p.b) {
			return "", p.fail("unterminated string")
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			if out == nil {
				s := string(p.b[start:p.i])
				p.i++
				return validUTF8(s), nil
			}
			out = append(out, p.b[start:p.i]...)
			p.i++
			return validUTF8(string(out)), nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c == '\\':
			out = append(out, p.b[start:p.i]...)
			p.i++
			if p.i >= len(p.b) {
				return "", p.fail("unterminated escape")
			}
			e := p.b[p.i]
			p.i++
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.fail("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if lo, ok := p.hex4(); ok {
							if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
								r2 = d
							} else {
								p.i = save
							}
						} else {
							p.i = save
						}
					}
					r = r2
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", p.fail("invalid escape")
			}
			start = p.i
		default:
			p.i++
		}
	}
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, r)
	}
	return string(out)
}

// Accessors over parsed values; a missing or mistyped field is the zero
// value, as encoding/json leaves it.

func jStr(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func jInt(m map[string]any, k string) int64 {
	f, _ := m[k].(float64)
	return int64(f)
}

func jBool(m map[string]any, k string) bool {
	b, _ := m[k].(bool)
	return b
}

func jObj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func jArr(m map[string]any, k string) []any {
	a, _ := m[k].([]any)
	return a
}

func jStrs(m map[string]any, k string) []string {
	var out []string
	for _, v := range jArr(m, k) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func jUints(m map[string]any, k string) []uint32 {
	var out []uint32
	for _, v := range jArr(m, k) {
		if f, ok := v.(float64); ok {
			out = append(out, uint32(f))
		}
	}
	return out
}
