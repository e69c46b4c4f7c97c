package hostmatch

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    string // canonical form; "" when an error is expected
		wantErr string // substring of the error
	}{
		{in: "example.org", want: "example.org"},
		{in: "  Example.ORG. ", want: "example.org"},
		{in: "*.example.org", want: "*.example.org"},
		{in: "*", want: "*"},
		{in: "*:8080", want: "*:8080"},
		{in: "example.org:8443", want: "example.org:8443"},
		{in: "HTTPS://Example.org", want: "https://example.org"},
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "[::1]", want: "[::1]"},
		{in: "::1", want: "[::1]"},
		{in: "[::1]:8080", want: "[::1]:8080"},
		{in: "[::ffff:127.0.0.1]", want: "127.0.0.1"},
		{in: "wss://chat.example.org", want: "wss://chat.example.org"},
		{in: "under_score.example.org", want: "under_score.example.org"},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},

		{in: "", wantErr: "empty"},
		{in: "   ", wantErr: "empty"},
		{in: "file:///etc/passwd", wantErr: "scheme"},
		{in: "ftp://example.org", wantErr: "scheme"},
		{in: "javascript:alert(1)", wantErr: "port"},
		{in: "user@example.org", wantErr: "only [scheme://]host[:port]"},
		{in: "https://user:pw@example.org", wantErr: "only [scheme://]host[:port]"},
		{in: "example.org/path", wantErr: "only [scheme://]host[:port]"},
		{in: "example.org?q", wantErr: "only [scheme://]host[:port]"},
		{in: "example.org#f", wantErr: "only [scheme://]host[:port]"},
		{in: "exa mple.org", wantErr: "only [scheme://]host[:port]"},
		{in: `example.org\evil.com`, wantErr: "only [scheme://]host[:port]"},
		{in: "example%2eorg", wantErr: "only [scheme://]host[:port]"},
		{in: "example.org:0", wantErr: "invalid port"},
		{in: "example.org:65536", wantErr: "invalid port"},
		{in: "example.org:+80", wantErr: "invalid port"},
		{in: "example.org:", wantErr: "invalid port"},
		{in: "example.org:http", wantErr: "invalid port"},
		{in: ":80", wantErr: "not a host name"},
		{in: "*.*.example.org", wantErr: "not a host name"},
		{in: "a.*.example.org", wantErr: "not a host name"},
		{in: "*example.org", wantErr: "not a host name"},
		{in: "**", wantErr: "not a host name"},
		{in: "-bad.example.org", wantErr: "not a host name"},
		{in: "bad-.example.org", wantErr: "not a host name"},
		{in: "a..example.org", wantErr: "not a host name"},
		{in: "bücher.example", wantErr: "not a host name"},
		{in: strings.Repeat("a", 64) + ".example", wantErr: "not a host name"},
		{in: "[fe80::1%eth0]", wantErr: "only [scheme://]host[:port]"},
		{in: "\u212Aey.example.org", wantErr: "not a host name"}, // Kelvin sign folds to "k" under strings.ToLower
		{in: "[::1", wantErr: "brackets"},
		{in: "127.1", wantErr: "ends in a number"},
		{in: "0x7f.1", wantErr: "ends in a number"},
		{in: "2130706433", wantErr: "ends in a number"},
		{in: "0177.0.0.1", wantErr: "ends in a number"},
		{in: "*.0.1", wantErr: "ends in a number"},
		{in: "http://", wantErr: "not a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want error containing %q", tt.in, p, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := p.String(); got != tt.want {
				t.Fatalf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			// The canonical form parses to the same pattern.
			q, err := Parse(p.String())
			if err != nil || q != p {
				t.Fatalf("re-parse of %q = %v, %v; want %v", p.String(), q, err, p)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	type target struct {
		scheme, host string
		port         int
		want         bool
	}
	tests := []struct {
		pattern string
		targets []target
	}{
		{"*.example.org", []target{
			{"https", "a.example.org", 0, true},
			{"https", "a.b.example.org", 0, true},
			{"https", "A.EXAMPLE.org", 0, true},
			{"https", "\u212A.example.org", 0, false}, // Kelvin sign, not "k"
			{"https", "a.example.org.", 0, true},
			{"https", "example.org", 0, false},
			{"https", ".example.org", 0, false},
			{"https", "evil-example.org", 0, false},
			{"https", "evilexample.org", 0, false},
			{"https", "example.org.evil.com", 0, false},
			{"https", "a.example.org.evil.com", 0, false},
			{"https", "a.example.org:443", 0, false}, // host with a port glued on is not a name
			{"https", "a.example.org/x", 0, false},
			{"https", "user@a.example.org", 0, false},
			{"https", "a..example.org", 0, false},
			{"https", "a.example.org", 8443, false},
			{"http", "a.example.org", 80, true},
			{"http", "a.example.org", 443, true},
			{"ftp", "a.example.org", 0, false},
			{"file", "a.example.org", 0, false},
			{"HTTPS", "a.example.org", 0, true},
		}},
		{"example.org", []target{
			{"https", "example.org", 0, true},
			{"https", "EXAMPLE.org", 0, true},
			{"https", "EXAMPLE.ORG.", 0, true},
			{"https", "example.org..", 0, false},
			{"https", "www.example.org", 0, false},
			{"https", "example.org", 8080, false},
			{"wss", "example.org", 0, true},
			{"javascript", "example.org", 0, false},
		}},
		{"example.org:8443", []target{
			{"https", "example.org", 8443, true},
			{"http", "example.org", 8443, true},
			{"https", "example.org", 0, false},
			{"https", "example.org", 443, false},
		}},
		{"https://example.org", []target{
			{"https", "example.org", 0, true},
			{"https", "example.org", 443, true},
			{"http", "example.org", 0, false},
			{"http", "example.org", 443, false},
			{"https", "example.org", 8443, false},
		}},
		{"http://127.0.0.1:8080", []target{
			{"http", "127.0.0.1", 8080, true},
			{"http", "127.0.0.1", 80, false},
			{"https", "127.0.0.1", 8080, false},
			{"http", "::ffff:127.0.0.1", 8080, true}, // IPv4-mapped IPv6 is the same address
			{"http", "[::ffff:7f00:1]", 8080, true},
			{"http", "127.0.0.2", 8080, false},
			{"http", "127.1", 8080, false},
			{"http", "2130706433", 8080, false},
			{"http", "0x7f000001", 8080, false},
			{"http", "localhost", 8080, false},
		}},
		{"[::1]:8080", []target{
			{"http", "::1", 8080, true},
			{"http", "[::1]", 8080, true},
			{"http", "0:0:0:0:0:0:0:1", 8080, true},
			{"http", "::2", 8080, false},
			{"http", "fe80::1%eth0", 8080, false},
			{"http", "127.0.0.1", 8080, false},
		}},
		{"[::ffff:10.0.0.1]", []target{
			{"https", "10.0.0.1", 0, true},
			{"https", "::ffff:10.0.0.1", 0, true},
		}},
		{"*", []target{
			{"https", "example.org", 0, true},
			{"https", "anything.example", 0, true},
			{"https", "127.0.0.1", 0, false},
			{"https", "::1", 0, false},
			{"https", "[::1]", 0, false},
			{"https", "::ffff:127.0.0.1", 0, false},
			{"https", "169.254.169.254", 0, false},
			{"https", "127.1", 0, false},
			{"https", "0x7f.1", 0, false},
			{"https", "2130706433", 0, false},
			{"https", "017700000001", 0, false},
			{"https", "", 0, false},
			{"https", "evil.com/x", 0, false},
			{"https", "a b", 0, false},
			{"https", "fe80::1%25eth0", 0, false},
			{"https", "example.org", 8080, false},
		}},
		{"*.org", []target{
			{"https", "example.org", 0, true},
			{"https", "org", 0, false},
		}},
		{"localhost", []target{
			{"http", "localhost", 0, true},
			{"http", "127.0.0.1", 0, false},
		}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.pattern, err)
		}
		for _, tg := range tt.targets {
			if got := p.Match(tg.scheme, tg.host, tg.port); got != tg.want {
				t.Errorf("%q.Match(%q, %q, %d) = %v, want %v", tt.pattern, tg.scheme, tg.host, tg.port, got, tg.want)
			}
			l := List{p}
			if got := l.Match(tg.scheme, tg.host, tg.port); got != tg.want {
				t.Errorf("List{%q}.Match(%q, %q, %d) = %v, want %v", tt.pattern, tg.scheme, tg.host, tg.port, got, tg.want)
			}
			nt := NewTarget(tg.scheme, tg.host, tg.port)
			if got := l.MatchTarget(&nt); got != tg.want {
				t.Errorf("List{%q}.MatchTarget(%q, %q, %d) = %v, want %v", tt.pattern, tg.scheme, tg.host, tg.port, got, tg.want)
			}
		}
	}
}

func TestListEmptyDeniesAll(t *testing.T) {
	var l List
	if l.Match("https", "example.org", 0) {
		t.Fatal("nil list admitted a host")
	}
	if l.LiteralAddr(netip.MustParseAddr("127.0.0.1")) {
		t.Fatal("nil list named an address")
	}
}

func TestParseList(t *testing.T) {
	l, err := ParseList([]string{"example.org", "*.example.net", "http://[::1]:9000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 3 {
		t.Fatalf("len = %d", len(l))
	}
	_, err = ParseList([]string{"ok.example", "bad/path"})
	if err == nil || !strings.Contains(err.Error(), "hosts[1]") {
		t.Fatalf("error %v, want it to name hosts[1]", err)
	}
}

func TestLiteralAddr(t *testing.T) {
	l, err := ParseList([]string{"*", "*.example.org", "http://127.0.0.1:8080", "[::ffff:10.1.2.3]", "[fd00::1]"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"10.1.2.3", true},
		{"fd00::1", true},
		{"127.0.0.2", false},
		{"169.254.169.254", false},
		{"::1", false},
		{"fd00::1%eth0", false},
	}
	for _, tt := range tests {
		if got := l.LiteralAddr(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("LiteralAddr(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestDefaultPort(t *testing.T) {
	for scheme, want := range map[string]int{"http": 80, "https": 443, "ws": 80, "wss": 443} {
		if got := DefaultPort(scheme); got != want {
			t.Errorf("DefaultPort(%q) = %d, want %d", scheme, got, want)
		}
	}
}

func TestMarshalText(t *testing.T) {
	p, err := Parse("HTTP://[::1]:8080")
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalText()
	if err != nil || string(b) != "http://[::1]:8080" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
}

func BenchmarkMatch(b *testing.B) {
	l, err := ParseList([]string{"api.example.org", "*.cdn.example.net", "http://127.0.0.1:8080"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !l.Match("https", "img.cdn.example.net", 0) {
			b.Fatal("no match")
		}
	}
}
