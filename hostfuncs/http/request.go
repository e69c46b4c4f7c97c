package hosthttp

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// Header limits: a request header set is small; anything bigger is a bug
// or an attack on the upstream server.
const (
	maxHeaders     = 100
	maxHeaderBytes = 64 << 10
	maxURLBytes    = 16 << 10
)

// forbiddenHeaders are set by the transport or are hop-by-hop; a guest
// setting them could smuggle requests or confuse proxies.
var forbiddenHeaders = map[string]bool{
	"Host":                true,
	"Content-Length":      true,
	"Transfer-Encoding":   true,
	"Connection":          true,
	"Keep-Alive":          true,
	"Te":                  true,
	"Trailer":             true,
	"Upgrade":             true,
	"Expect":              true,
	"Http2-Settings":      true,
	"Proxy-Connection":    true,
	"Proxy-Authorization": true,
	"Proxy-Authenticate":  true,
}

// forbiddenMethods are refused whatever the grant says: CONNECT opens a
// tunnel, TRACE/TRACK reflect request headers (and so injected secrets).
var forbiddenMethods = map[string]bool{"CONNECT": true, "TRACE": true, "TRACK": true}

// target is a checked request target.
type target struct {
	scheme string
	host   Host
	// port is the explicit URL port, 0 when the URL has none.
	port int
}

func (t target) effectivePort() int {
	if t.port != 0 {
		return t.port
	}
	if t.scheme == "https" {
		return 443
	}
	return 80
}

// sameOrigin reports whether secrets bound to a may follow a redirect to b:
// same host and port and scheme, or an upgrade from http to https on the
// same host.
func sameOrigin(a, b target) bool {
	if a.host.Name != b.host.Name {
		return false
	}
	if a.scheme == b.scheme {
		return a.effectivePort() == b.effectivePort()
	}
	return a.scheme == "http" && b.scheme == "https"
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// checkMethod validates and upper-cases a method.
func checkMethod(m string) (string, error) {
	if m == "" {
		return http.MethodGet, nil
	}
	if !isToken(m) || len(m) > 32 {
		return "", abi.Errorf(abi.CodeInvalid, "method %q is not an HTTP method token", truncate(m, 40))
	}
	m = strings.ToUpper(m)
	if forbiddenMethods[m] {
		return "", abi.Errorf(abi.CodeInvalid, "method %s is not allowed", m)
	}
	return m, nil
}

// checkURL parses and normalises a request or redirect URL. The URL is
// rewritten with the canonical host.
func checkURL(raw string) (*url.URL, target, error) {
	var t target
	if len(raw) > maxURLBytes {
		return nil, t, abi.Errorf(abi.CodeInvalid, "URL longer than %d bytes", maxURLBytes)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return nil, t, abi.Errorf(abi.CodeInvalid, "URL %q contains a space or control character at byte %d", truncate(raw, 80), i)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, t, abi.Errorf(abi.CodeInvalid, "URL %q: %v", truncate(raw, 80), err)
	}
	return checkParsedURL(u)
}

// checkParsedURL validates u (also used for redirect targets, which the
// client has already parsed) and rewrites its host canonically, in place:
// u is the caller's own (fresh from url.Parse, or the client's next hop).
func checkParsedURL(u *url.URL) (*url.URL, target, error) {
	var t target
	t.scheme = strings.ToLower(u.Scheme)
	if t.scheme != "http" && t.scheme != "https" {
		return nil, t, abi.Errorf(abi.CodeInvalid, "URL %q: scheme must be http or https", truncate(u.Redacted(), 80))
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, t, abi.Errorf(abi.CodeInvalid, "URL %q: an absolute http(s)://host/… URL is required", truncate(u.Redacted(), 80))
	}
	if u.User != nil {
		return nil, t, abi.Errorf(abi.CodeInvalid, "URL %q: user:password@ in URLs is not allowed; send credentials in a header ({{secret:NAME}})", truncate(u.Redacted(), 80))
	}
	h, err := ParseHost(u.Hostname())
	if err != nil {
		return nil, t, abi.Errorf(abi.CodeInvalid, "URL %q: %v", truncate(u.Redacted(), 80), err)
	}
	t.host = h
	if ps := u.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			return nil, t, abi.Errorf(abi.CodeInvalid, "URL %q: invalid port %q", truncate(u.Redacted(), 80), ps)
		}
		t.port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, t, abi.Errorf(abi.CodeInvalid, "URL %q: empty port", truncate(u.Redacted(), 80))
	}
	u.Scheme = t.scheme
	u.Fragment, u.RawFragment = "", ""
	u.Host = canonicalHost(u.Host, h, t.port)
	return u, t, nil
}

// canonicalHost is the URL host for h and port (0: none); raw, the URL's
// own host, is returned when it is already that, as it usually is.
func canonicalHost(raw string, h Host, port int) string {
	var buf [64]byte
	b := buf[:0]
	if h.Addr.Is6() {
		b = append(b, '[')
	}
	b = append(b, h.Name...)
	if h.Addr.Is6() {
		b = append(b, ']')
	}
	if port != 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(port), 10)
	}
	if string(b) == raw {
		return raw
	}
	return string(b)
}

// checkHeaders validates guest headers and returns them canonicalised,
// with the names of headers carrying secret templates, and whether reef
// asked for a gzip-encoded answer (which fetch then decodes): unless the
// skill set Accept-Encoding or Range itself, or the method is HEAD — the
// rule of net/http's Transport, which decodes on its own only when it
// added the header, and reef adds it itself so that both of its
// transports behave alike.
func checkHeaders(in map[string]string, method string) (http.Header, []string, bool, error) {
	gz := method != http.MethodHead
	if len(in) == 0 {
		if gz {
			return defaultHeader, nil, true, nil
		}
		return defaultHeadHeader, nil, false, nil
	}
	h, templated, err := checkGuestHeaders(in)
	if err != nil {
		return nil, nil, false, err
	}
	if _, ok := h["Accept-Encoding"]; ok {
		gz = false
	}
	if _, ok := h["Range"]; ok {
		gz = false
	}
	if gz {
		h["Accept-Encoding"] = acceptGzip
	}
	return h, templated, gz, nil
}

func checkGuestHeaders(in map[string]string) (http.Header, []string, error) {
	if len(in) > maxHeaders {
		return nil, nil, abi.Errorf(abi.CodeLimit, "%d request headers (at most %d)", len(in), maxHeaders)
	}
	h := make(http.Header, len(in)+2)
	var templated []string
	total := 0
	for k, v := range in {
		if !isToken(k) {
			return nil, nil, abi.Errorf(abi.CodeInvalid, "header name %q is not a token (no spaces, colons, CR, LF or NUL)", truncate(k, 40))
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
				return nil, nil, abi.Errorf(abi.CodeInvalid, "header %s: value contains a control character (CR, LF, NUL…) at byte %d", k, i)
			}
		}
		ck := http.CanonicalHeaderKey(k)
		if forbiddenHeaders[ck] || strings.HasPrefix(ck, "Proxy-") {
			return nil, nil, abi.Errorf(abi.CodeInvalid, "header %s is set by the host and may not be sent by a skill", ck)
		}
		if _, dup := h[ck]; dup {
			return nil, nil, abi.Errorf(abi.CodeInvalid, "header %s given twice (names are case-insensitive)", ck)
		}
		total += len(k) + len(v) + 4
		if total > maxHeaderBytes {
			return nil, nil, abi.Errorf(abi.CodeLimit, "request headers larger than %d bytes", maxHeaderBytes)
		}
		names, err := secretNames(v)
		if err != nil {
			return nil, nil, err
		}
		if len(names) > 0 {
			templated = append(templated, ck)
		}
		h[ck] = []string{v}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = defaultUserAgent[:1:1]
	}
	return h, templated, nil
}

// defaultUserAgent is sent when the skill sets none (capacity 1: an
// append copies rather than writes into the shared array).
var defaultUserAgent = []string{"reef"}

// acceptGzip is reef's Accept-Encoding (capacity 1, as defaultUserAgent).
var acceptGzip = []string{"gzip"}

// defaultHeader and defaultHeadHeader are the headers of a request
// without guest headers (HEAD asks for no encoding). They are shared and
// never written: a request's header is only read (by the client, which
// copies it for redirect hops, and the transports), and secret templates,
// the one thing reef fills in, need guest headers.
var (
	defaultHeader     = http.Header{"User-Agent": defaultUserAgent, "Accept-Encoding": acceptGzip}
	defaultHeadHeader = http.Header{"User-Agent": defaultUserAgent}
)
