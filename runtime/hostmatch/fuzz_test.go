package hostmatch

import (
	"net/netip"
	"strings"
	"testing"
)

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"example.org", "*.example.org", "*", "https://[::1]:8443", "127.0.0.1:80",
		"user@x", "127.1", "[::ffff:1.2.3.4]", "EXAMPLE.org.", "ws://a_b.c:1", "[fe80::1%eth0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		// Canonical form is stable and re-parses to the same pattern.
		q, err := Parse(p.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", p.String(), s, err)
		}
		if q != p {
			t.Fatalf("re-parse of %q: %+v != %+v", p.String(), q, p)
		}
		if strings.ContainsAny(p.String(), "/?#@% \\") && !strings.Contains(p.String(), "://") {
			t.Fatalf("pattern %q kept a forbidden character", p.String())
		}
		if p.Addr.IsValid() && (p.Addr.Zone() != "" || p.Addr.Is4In6()) {
			t.Fatalf("pattern %q kept a zone or a mapped address", p.String())
		}
	})
}

func FuzzMatch(f *testing.F) {
	f.Add("*.example.org", "https", "a.example.org", 0)
	f.Add("*", "https", "127.0.0.1", 443)
	f.Add("example.org", "http", "EXAMPLE.org.", 80)
	f.Add("http://[::1]:8080", "http", "::ffff:127.0.0.1", 8080)
	f.Add("*.example.org", "https", "example.org.evil.com", 0)
	f.Fuzz(func(t *testing.T, pattern, scheme, host string, port int) {
		p, err := Parse(pattern)
		if err != nil {
			return
		}
		ok := p.Match(scheme, host, port)
		if !ok {
			return
		}
		h := normHost(host)
		if a, err := netip.ParseAddr(h); err == nil {
			// Only a literal pattern admits an IP literal, and only its own.
			if !p.Addr.IsValid() || a.Unmap() != p.Addr {
				t.Fatalf("%q admitted IP literal %q", pattern, host)
			}
			return
		}
		if p.Addr.IsValid() {
			t.Fatalf("literal %q admitted name %q", pattern, host)
		}
		if !validHostname(h) {
			t.Fatalf("%q admitted invalid name %q", pattern, host)
		}
		switch {
		case p.Host == "*":
		case strings.HasPrefix(p.Host, "*."):
			if !strings.HasSuffix(h, p.Host[1:]) || h == p.Host[2:] {
				t.Fatalf("%q admitted %q outside its domain", pattern, host)
			}
		default:
			if h != p.Host {
				t.Fatalf("%q admitted other host %q", pattern, host)
			}
		}
		// Case and a trailing dot never change the answer.
		if !p.Match(strings.ToUpper(scheme), strings.ToUpper(host), port) {
			t.Fatalf("%q: match of %q depends on case", pattern, host)
		}
	})
}
