package hostmatch

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Pattern is one entry of a host allowlist:
//
//	example.org            exact host, any allowed scheme, default port
//	*.example.org          any subdomain (not example.org itself)
//	*                      any host name (never an IP literal)
//	example.org:8443       exact port
//	http://127.0.0.1:8080  scheme, literal address and port
//
// A pattern that names an IP literal is the only way to reach a loopback,
// private, link-local or metadata address (see the http capability).
type Pattern struct {
	Scheme string // "" = http or https
	Host   string // lower-case; "*." prefix for wildcards; "*" for all names
	Port   int    // 0 = the scheme's default port
	// Addr is set when Host is an IP literal.
	Addr netip.Addr
}

// Parse parses one allowlist entry. Only [scheme://]host[:port] is
// accepted: userinfo, paths, queries, fragments, IPv6 zones, non-ASCII
// names and names whose last label is a number (the WHATWG URL parser
// reads those as IPv4 spellings such as "127.1") are refused.
func Parse(s string) (Pattern, error) {
	var p Pattern
	t := strings.TrimSpace(s)
	if t == "" {
		return p, fmt.Errorf("empty host pattern")
	}
	if i := strings.Index(t, "://"); i >= 0 {
		p.Scheme = asciiLower(t[:i])
		t = t[i+3:]
		switch p.Scheme {
		case "http", "https", "ws", "wss":
		default:
			return p, fmt.Errorf("host pattern %q: scheme %q not allowed (http, https, ws, wss)", s, p.Scheme)
		}
	}
	if strings.ContainsAny(t, "/?#@% \t\r\n\\") {
		return p, fmt.Errorf("host pattern %q: only [scheme://]host[:port] is allowed", s)
	}
	host := t
	if h, port, err := net.SplitHostPort(t); err == nil {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 || port[0] < '0' || port[0] > '9' {
			return p, fmt.Errorf("host pattern %q: invalid port %q", s, port)
		}
		host, p.Port = h, n
	} else if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		host = t[1 : len(t)-1]
	} else if strings.ContainsAny(t, "[]") {
		return p, fmt.Errorf("host pattern %q: malformed IPv6 brackets", s)
	}
	host = asciiLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return p, fmt.Errorf("host pattern %q: IPv6 zones are not allowed", s)
		}
		p.Addr = a.Unmap()
		p.Host = p.Addr.String()
		return p, nil
	}
	if host == "*" {
		p.Host = host
		return p, nil
	}
	name := strings.TrimPrefix(host, "*.")
	if strings.Contains(name, "*") || !validHostname(name) {
		return p, fmt.Errorf("host pattern %q: %q is not a host name, *.domain or an IP address", s, host)
	}
	if endsInNumber(name) {
		return p, fmt.Errorf("host pattern %q: %q ends in a number but is not an IP address (write the address in dotted form)", s, host)
	}
	p.Host = host
	return p, nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// endsInNumber reports whether the last label of h is all digits or a
// 0x-prefixed hex number: the WHATWG URL standard treats such hosts as
// IPv4 addresses ("127.1", "0x7f.1", "2130706433"), and so do many
// resolvers (inet_aton), so they must never pass as names.
func endsInNumber(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") || strings.HasPrefix(last, "0X") {
		for i := 2; i < len(last); i++ {
			c := last[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// String prints the pattern in its canonical form.
func (p Pattern) String() string {
	h := p.Host
	if p.Addr.Is6() {
		h = "[" + h + "]"
	}
	if p.Port != 0 {
		h += ":" + strconv.Itoa(p.Port)
	}
	if p.Scheme != "" {
		h = p.Scheme + "://" + h
	}
	return h
}

// DefaultPort is the port a scheme implies.
func DefaultPort(scheme string) int {
	switch scheme {
	case "https", "wss":
		return 443
	default:
		return 80
	}
}

// normHost brings a target host to the form patterns are stored in:
// lower-case, no IPv6 brackets, no trailing dot. DNS names are
// case-insensitive and "example.org." is the same name as "example.org",
// so this never widens what a pattern admits.
func normHost(host string) string {
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	host = strings.TrimSuffix(host, ".")
	return asciiLower(host)
}

// asciiLower lower-cases ASCII letters only: strings.ToLower would fold
// non-ASCII look-alikes (the Kelvin sign U+212A becomes "k") into a name
// that then matches a pattern the original bytes do not spell.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}

// Match reports whether the pattern admits scheme://host:port. host may be
// in any case, with IPv6 brackets or a trailing dot; port 0 means the
// scheme's default. A name pattern (including "*") never admits an IP
// literal or a host that is not a valid DNS name.
func (p Pattern) Match(scheme, host string, port int) bool {
	t := newTarget(scheme, host, port)
	return p.match(&t)
}

// target is a request target normalised once for a whole List.
type target struct {
	scheme, host string
	port         int
	addr         netip.Addr // valid when host is an IP literal
	name         bool       // host is a valid DNS name (and not an IP spelling)
}

func newTarget(scheme, host string, port int) target {
	t := target{scheme: asciiLower(scheme), host: normHost(host), port: port}
	if t.port == 0 {
		t.port = DefaultPort(t.scheme)
	}
	if maybeIP(t.host) {
		if a, err := netip.ParseAddr(t.host); err == nil {
			t.addr = a
			return t
		}
	}
	t.name = validHostname(t.host) && !endsInNumber(t.host)
	return t
}

// maybeIP is a cheap pre-check that spares netip.ParseAddr (and its error
// allocation) for ordinary names: IPv4 is digits and dots, IPv6 has a colon.
func maybeIP(h string) bool {
	if strings.IndexByte(h, ':') >= 0 {
		return true
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return h != ""
}

func (p Pattern) match(t *target) bool {
	if p.Scheme != "" && p.Scheme != t.scheme {
		return false
	}
	if p.Scheme == "" && t.scheme != "http" && t.scheme != "https" && t.scheme != "ws" && t.scheme != "wss" {
		return false
	}
	want := p.Port
	if want == 0 {
		if p.Scheme != "" {
			want = DefaultPort(p.Scheme)
		} else if t.port != 80 && t.port != 443 {
			return false
		}
	}
	if want != 0 && t.port != want {
		return false
	}
	if p.Addr.IsValid() {
		return t.addr.IsValid() && t.addr.Zone() == "" && t.addr.Unmap() == p.Addr
	}
	if !t.name {
		return false // names and wildcards never admit IP literals or non-names
	}
	switch {
	case p.Host == "*":
		return true
	case strings.HasPrefix(p.Host, "*."):
		return strings.HasSuffix(t.host, p.Host[1:]) && len(t.host) > len(p.Host)-1
	default:
		return t.host == p.Host
	}
}

// List is a parsed allowlist.
type List []Pattern

// ParseList parses every pattern, reporting the first bad one.
func ParseList(ss []string) (List, error) {
	out := make(List, 0, len(ss))
	for i, s := range ss {
		p, err := Parse(s)
		if err != nil {
			return nil, fmt.Errorf("hosts[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Match reports whether any pattern admits the target.
func (l List) Match(scheme, host string, port int) bool {
	if len(l) == 0 {
		return false
	}
	t := newTarget(scheme, host, port)
	return l.matchTarget(&t)
}

// Target is a request target normalised once, for matching it against
// several lists (a skill's requested hosts and the operator's grant)
// without normalising it for each.
type Target struct{ t target }

// NewTarget normalises scheme://host:port as Match does.
func NewTarget(scheme, host string, port int) Target {
	return Target{newTarget(scheme, host, port)}
}

// MatchTarget is Match for a target normalised by NewTarget.
func (l List) MatchTarget(t *Target) bool { return l.matchTarget(&t.t) }

func (l List) matchTarget(t *target) bool {
	for _, p := range l {
		if p.match(t) {
			return true
		}
	}
	return false
}

// LiteralAddr reports whether some pattern names addr literally (any port).
func (l List) LiteralAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range l {
		if p.Addr.IsValid() && p.Addr == addr {
			return true
		}
	}
	return false
}
