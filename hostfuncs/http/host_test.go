package hosthttp

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestParseHost(t *testing.T) {
	cases := []struct {
		in           string
		want         string // canonical Name; "" = error
		addr         bool
		nonCanonical bool
	}{
		{"example.org", "example.org", false, false},
		{"Example.ORG.", "example.org", false, false},
		{"a_b.example", "a_b.example", false, false},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", false, false},
		{"127.0.0.1", "127.0.0.1", true, false},
		{"2130706433", "127.0.0.1", true, true},
		{"0177.0.0.1", "127.0.0.1", true, true},
		{"0x7f.1", "127.0.0.1", true, true},
		{"0X7F.0X0.0X0.0X1", "127.0.0.1", true, true},
		{"0x7f000001", "127.0.0.1", true, true},
		{"127.1", "127.0.0.1", true, true},
		{"127.0.1", "127.0.0.1", true, true},
		{"127.0.0.1.", "127.0.0.1", true, true},
		{"0", "0.0.0.0", true, true},
		{"0x", "0.0.0.0", true, true},
		{"017700000001", "127.0.0.1", true, true},
		{"4294967295", "255.255.255.255", true, true},
		{"2852039166", "169.254.169.254", true, true},
		{"0251.0376.0251.0376", "169.254.169.254", true, true},
		{"0xa9.0xfe.0xa9.0xfe", "169.254.169.254", true, true},
		{"10.1", "10.0.0.1", true, true},
		{"::1", "::1", true, false},
		{"[::1]", "::1", true, false},
		{"0:0:0:0:0:0:0:1", "::1", true, true},
		{"::ffff:127.0.0.1", "127.0.0.1", true, true},
		{"[::ffff:7f00:1]", "127.0.0.1", true, true},
		{"FD00:EC2::254", "fd00:ec2::254", true, true},
		// refused
		{"4294967296", "", false, false},
		{"1.2.3.4.5", "", false, false},
		{"256.0.0.1", "", false, false},
		{"1.2.3.256", "", false, false},
		{"1.2.65536", "", false, false},
		{"08.0.0.1", "", false, false},
		{"0x1g.0.0.1", "", false, false},
		{"foo.0x10", "", false, false},
		{"foo.123", "", false, false},
		{"fe80::1%eth0", "", false, false},
		{"[fe80::1%25eth0]", "", false, false},
		{"[127.0.0.1]", "", false, false},
		{"[::1", "", false, false},
		{"", "", false, false},
		{"exämple.org", "", false, false},
		{"a b.org", "", false, false},
		{"-a.org", "", false, false},
		{"a..org", "", false, false},
		{"a.org%00", "", false, false},
		{strings.Repeat("a", 64) + ".org", "", false, false},
	}
	for _, c := range cases {
		h, err := ParseHost(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseHost(%q) = %+v, want error", c.in, h)
			} else if !errors.Is(err, ErrBadHost) {
				t.Errorf("ParseHost(%q) error %v does not wrap ErrBadHost", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHost(%q): %v", c.in, err)
			continue
		}
		if h.Name != c.want || h.IsAddr() != c.addr || h.NonCanonical != c.nonCanonical {
			t.Errorf("ParseHost(%q) = %+v, want name %q addr %v noncanonical %v", c.in, h, c.want, c.addr, c.nonCanonical)
		}
	}
}

func TestClassifyIP(t *testing.T) {
	cases := []struct {
		addr   string
		reason string // substring; "" = allowed
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.216.34", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001::1", ""},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "this-network"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.1", ""},
		{"192.168.1.1", "private"},
		{"100.64.0.1", "carrier-grade"},
		{"100.127.255.255", "carrier-grade"},
		{"100.100.100.200", "Alibaba"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.0.1", "link-local"},
		{"169.254.169.254", "metadata"},
		{"169.254.170.2", "metadata"},
		{"168.63.129.16", "Azure"},
		{"192.0.0.192", "metadata"},
		{"192.0.0.8", "IETF"},
		{"192.0.2.1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "broadcast"},
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "IPv4-mapped"},
		{"::ffff:8.8.8.8", "IPv4-mapped"},
		{"::ffff:169.254.169.254", "IPv4-mapped"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"64:ff9b::a9fe:a9fe", "NAT64"},
		{"64:ff9b:1::1", "NAT64"},
		{"2002:a9fe:a9fe::1", "6to4"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"2001:db8::1", "documentation"},
		{"fc00::1", "unique local"},
		{"fd00:ec2::254", "metadata"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "zone"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"100::1", "discard"},
	}
	for _, c := range cases {
		a := netip.MustParseAddr(c.addr)
		blocked, reason := ClassifyIP(a)
		if c.reason == "" {
			if blocked {
				t.Errorf("ClassifyIP(%s) blocked (%s), want allowed", c.addr, reason)
			}
			continue
		}
		if !blocked || !strings.Contains(reason, c.reason) {
			t.Errorf("ClassifyIP(%s) = %v %q, want blocked with %q", c.addr, blocked, reason, c.reason)
		}
	}
	if blocked, _ := ClassifyIP(netip.Addr{}); !blocked {
		t.Error("invalid address allowed")
	}
}

// FuzzParseHost checks ParseHost's invariants on arbitrary hosts: the
// canonical name re-parses to itself, addresses are unmapped and unzoned,
// a name is never something a resolver would read as an IPv4 number, and
// every spelling netip accepts as IPv4 means the same address.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"example.org", "127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.1", "127.1", "::ffff:127.0.0.1",
		"[::1]", "fe80::1%eth0", "1.2.3.4.5", "foo.0x10", "0x", "08", "a..b", "xn--a.b", "127.0.0.1.", "[fd00:ec2::254]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHost(s)
		if err != nil {
			if !errors.Is(err, ErrBadHost) {
				t.Fatalf("error does not wrap ErrBadHost: %v", err)
			}
			return
		}
		again, err := ParseHost(h.Name)
		if err != nil || again.Name != h.Name || again.Addr != h.Addr || again.NonCanonical {
			t.Fatalf("canonical %q of %q re-parses to %+v, %v", h.Name, s, again, err)
		}
		if h.IsAddr() {
			if h.Addr.Is4In6() || h.Addr.Zone() != "" || h.Name != h.Addr.String() {
				t.Fatalf("ParseHost(%q) address %v not canonical", s, h.Addr)
			}
		} else {
			if net.ParseIP(h.Name) != nil || endsInNumber(h.Name) || !validName(h.Name) {
				t.Fatalf("ParseHost(%q) name %q could be read as an address", s, h.Name)
			}
		}
		if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil && a.Zone() == "" && h.Addr != a.Unmap() {
			t.Fatalf("ParseHost(%q) = %v, netip says %v", s, h.Addr, a)
		}
	})
}

// FuzzClassifyIP checks that every address the standard library calls
// special is refused, that IPv4-mapped forms are always refused, and that
// a refusal always has a reason.
func FuzzClassifyIP(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "10.0.0.1", "8.8.8.8", "::1", "::ffff:10.0.0.1", "fd00:ec2::254", "2606:4700::1111", "169.254.169.254"} {
		a := netip.MustParseAddr(s).As16()
		f.Add(a[:], netip.MustParseAddr(s).Is4())
	}
	f.Fuzz(func(t *testing.T, b []byte, v4 bool) {
		var a netip.Addr
		if v4 {
			if len(b) < 4 {
				return
			}
			a = netip.AddrFrom4([4]byte(b[len(b)-4:]))
		} else {
			if len(b) < 16 {
				return
			}
			a = netip.AddrFrom16([16]byte(b[:16]))
		}
		blocked, reason := ClassifyIP(a)
		if blocked != (reason != "") {
			t.Fatalf("ClassifyIP(%v) = %v %q", a, blocked, reason)
		}
		special := a.IsLoopback() || a.IsPrivate() || a.IsMulticast() || a.IsUnspecified() || a.IsLinkLocalUnicast() ||
			a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || !a.IsGlobalUnicast() || a.Is4In6()
		if special && !blocked {
			t.Fatalf("ClassifyIP(%v) allows a special address", a)
		}
		if a.Is4() {
			m := netip.AddrFrom16(a.As16())
			if mb, _ := ClassifyIP(m); !mb {
				t.Fatalf("mapped form %v of %v allowed", m, a)
			}
		}
	})
}
