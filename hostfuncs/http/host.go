package hosthttp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Host is a URL host after normalisation.
type Host struct {
	// Name is the canonical host: a lower-case DNS name without trailing
	// dot, or the canonical text of Addr (no brackets).
	Name string
	// Addr is set when the host is an IP address (IPv4-mapped IPv6 is
	// unmapped to IPv4).
	Addr netip.Addr
	// NonCanonical reports that the input spelled an address in a legacy
	// or alternative form (decimal, octal, hex, short, IPv4-mapped,
	// trailing dot, upper-case hex…) that Name normalises.
	NonCanonical bool
}

// IsAddr reports whether the host is an IP address.
func (h Host) IsAddr() bool { return h.Addr.IsValid() }

// ErrBadHost is wrapped by every ParseHost error.
var ErrBadHost = errors.New("invalid host")

// ParseHost normalises a URL host (as url.URL.Hostname returns it, brackets
// optional). IPv4 addresses are parsed the way the WHATWG URL standard (and
// so every browser) does: a host whose last label is numeric is an IPv4
// address with 1 to 4 parts, each decimal, octal (leading 0) or hex (0x),
// the last part filling the remaining bytes — so 2130706433, 0177.0.0.1,
// 0x7f.1 and 127.1 all mean 127.0.0.1, and 1.2.3.4.5 or foo.0x1 are
// invalid. Zoned IPv6 addresses (fe80::1%eth0) and non-ASCII names (use
// the xn-- form) are refused.
func ParseHost(s string) (Host, error) {
	in := s
	if strings.HasPrefix(s, "[") {
		if !strings.HasSuffix(s, "]") || len(s) < 3 {
			return Host{}, fmt.Errorf("%w %q: unbalanced brackets", ErrBadHost, in)
		}
		s = s[1 : len(s)-1]
		if !strings.Contains(s, ":") {
			return Host{}, fmt.Errorf("%w %q: brackets around a non-IPv6 host", ErrBadHost, in)
		}
	}
	if s == "" {
		return Host{}, fmt.Errorf("%w: empty host", ErrBadHost)
	}
	if len(s) > 255 {
		return Host{}, fmt.Errorf("%w: host longer than 255 bytes", ErrBadHost)
	}
	if strings.Contains(s, ":") {
		if strings.Contains(s, "%") {
			return Host{}, fmt.Errorf("%w %q: IPv6 zone identifiers are not allowed", ErrBadHost, in)
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() {
			return Host{}, fmt.Errorf("%w %q: not an IPv6 address", ErrBadHost, in)
		}
		u := a.Unmap()
		return Host{Name: u.String(), Addr: u, NonCanonical: a.Is4In6() || s != a.String()}, nil
	}
	low := strings.ToLower(s)
	trimmed := strings.TrimSuffix(low, ".")
	if endsInNumber(trimmed) {
		a, err := parseIPv4(trimmed)
		if err != nil {
			return Host{}, fmt.Errorf("%w %q: %v", ErrBadHost, in, err)
		}
		// The usual spelling is already canonical: keep s rather than
		// allocate its twin.
		var buf [15]byte
		canon := a.AppendTo(buf[:0])
		if string(canon) == s {
			return Host{Name: s, Addr: a}, nil
		}
		return Host{Name: string(canon), Addr: a, NonCanonical: true}, nil
	}
	if !validName(trimmed) {
		return Host{}, fmt.Errorf("%w %q: not a DNS name (letters, digits, '-', '_' and dots; use the xn-- form for international names)", ErrBadHost, in)
	}
	return Host{Name: trimmed}, nil
}

// endsInNumber is the WHATWG "ends in a number" test: the last label is
// all digits, or a 0x hex number.
func endsInNumber(s string) bool {
	last := s
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		last = s[i+1:]
	}
	if last == "" {
		return false
	}
	if allDigits(last) {
		return true
	}
	_, ok := parseIPv4Part(last)
	return ok
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseIPv4Part parses one part: 0x… hex, 0… octal, else decimal. Values
// above 2^32 fail (nothing larger is meaningful).
func parseIPv4Part(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true // WHATWG: "0x" alone is 0
		}
	case len(s) >= 2 && s[0] == '0':
		base, s = 8, s[1:]
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		n = n*base + d
		if n > 1<<32 {
			return 0, false
		}
	}
	return n, true
}

func parseIPv4(s string) (netip.Addr, error) {
	if strings.Count(s, ".") > 3 {
		return netip.Addr{}, errors.New("numeric host with more than 4 parts")
	}
	var parts [4]uint64
	nums := parts[:0]
	for rest, more := s, true; more; {
		var p string
		p, rest, more = strings.Cut(rest, ".")
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, fmt.Errorf("numeric host part %q is not a decimal, octal or hex number", p)
		}
		nums = append(nums, n)
	}
	for _, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, errors.New("numeric host part above 255")
		}
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, errors.New("numeric host out of range")
	}
	v := uint32(last)
	for i, n := range nums[:len(nums)-1] {
		v |= uint32(n) << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
}

func validName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
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
