package hosthttp

import "net/netip"

// rangeRule is one refused address range.
type rangeRule struct {
	prefix netip.Prefix
	reason string
	// metadata ranges stay refused even inside Guard.TrustedNets.
	metadata bool
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// metadataAddrs are cloud instance-metadata and platform endpoints. Some
// are inside ranges refused anyway; they are listed so the reason says
// "metadata" and TrustedNets never opens them. 168.63.129.16 (Azure
// WireServer) is a public address and would pass otherwise.
var metadataAddrs = []rangeRule{
	{mustPrefix("169.254.169.254/32"), "cloud metadata address (AWS, GCP, Azure, OpenStack, Oracle…)", true},
	{mustPrefix("169.254.170.2/32"), "cloud metadata address (AWS ECS task metadata)", true},
	{mustPrefix("169.254.170.23/32"), "cloud metadata address (AWS EKS pod identity)", true},
	{mustPrefix("100.100.100.200/32"), "cloud metadata address (Alibaba Cloud)", true},
	{mustPrefix("168.63.129.16/32"), "cloud platform address (Azure WireServer)", true},
	{mustPrefix("192.0.0.192/32"), "cloud metadata address (Oracle Cloud classic)", true},
	{mustPrefix("fd00:ec2::254/128"), "cloud metadata address (AWS IPv6)", true},
	{mustPrefix("fd00:ec2::23/128"), "cloud metadata address (AWS EKS pod identity IPv6)", true},
}

// blockedRanges are the IANA special-purpose ranges that must not be
// reached by name (RFC 6890 registries), most specific reasons first.
var blockedRanges = []rangeRule{
	// IPv4
	{prefix: mustPrefix("0.0.0.0/8"), reason: "unspecified / this-network address (0.0.0.0/8)"},
	{prefix: mustPrefix("10.0.0.0/8"), reason: "private address (10.0.0.0/8)"},
	{prefix: mustPrefix("100.64.0.0/10"), reason: "carrier-grade NAT address (100.64.0.0/10)"},
	{prefix: mustPrefix("127.0.0.0/8"), reason: "loopback address (127.0.0.0/8)"},
	{prefix: mustPrefix("169.254.0.0/16"), reason: "link-local address (169.254.0.0/16)"},
	{prefix: mustPrefix("172.16.0.0/12"), reason: "private address (172.16.0.0/12)"},
	{prefix: mustPrefix("192.0.0.0/24"), reason: "IETF protocol assignment (192.0.0.0/24)"},
	{prefix: mustPrefix("192.0.2.0/24"), reason: "documentation address (192.0.2.0/24)"},
	{prefix: mustPrefix("192.88.99.0/24"), reason: "6to4 relay anycast address (192.88.99.0/24)"},
	{prefix: mustPrefix("192.168.0.0/16"), reason: "private address (192.168.0.0/16)"},
	{prefix: mustPrefix("198.18.0.0/15"), reason: "benchmarking address (198.18.0.0/15)"},
	{prefix: mustPrefix("198.51.100.0/24"), reason: "documentation address (198.51.100.0/24)"},
	{prefix: mustPrefix("203.0.113.0/24"), reason: "documentation address (203.0.113.0/24)"},
	{prefix: mustPrefix("224.0.0.0/4"), reason: "multicast address (224.0.0.0/4)"},
	{prefix: mustPrefix("240.0.0.0/4"), reason: "reserved or broadcast address (240.0.0.0/4)"},
	// IPv6
	{prefix: mustPrefix("::/128"), reason: "unspecified address (::)"},
	{prefix: mustPrefix("::1/128"), reason: "loopback address (::1)"},
	{prefix: mustPrefix("::ffff:0:0/96"), reason: "IPv4-mapped IPv6 address (::ffff:0:0/96)"},
	{prefix: mustPrefix("::ffff:0:0:0/96"), reason: "IPv4-translated IPv6 address (::ffff:0:0:0/96)"},
	{prefix: mustPrefix("::/96"), reason: "IPv4-compatible IPv6 address (::/96, deprecated)"},
	{prefix: mustPrefix("64:ff9b::/96"), reason: "NAT64 address (64:ff9b::/96)"},
	{prefix: mustPrefix("64:ff9b:1::/48"), reason: "local-use NAT64 address (64:ff9b:1::/48)"},
	{prefix: mustPrefix("100::/64"), reason: "discard-only address (100::/64)"},
	{prefix: mustPrefix("2001::/32"), reason: "Teredo address (2001::/32)"},
	{prefix: mustPrefix("2001::/23"), reason: "IETF protocol assignment (2001::/23)"},
	{prefix: mustPrefix("2001:db8::/32"), reason: "documentation address (2001:db8::/32)"},
	{prefix: mustPrefix("2002::/16"), reason: "6to4 address (2002::/16)"},
	{prefix: mustPrefix("3fff::/20"), reason: "documentation address (3fff::/20)"},
	{prefix: mustPrefix("5f00::/16"), reason: "SRv6 SID address (5f00::/16)"},
	{prefix: mustPrefix("fc00::/7"), reason: "unique local address (fc00::/7)"},
	{prefix: mustPrefix("fe80::/10"), reason: "link-local address (fe80::/10)"},
	{prefix: mustPrefix("fec0::/10"), reason: "site-local address (fec0::/10, deprecated)"},
	{prefix: mustPrefix("ff00::/8"), reason: "multicast address (ff00::/8)"},
}

// ClassifyIP reports whether a is an address reef refuses to reach by
// name, and why: loopback, private, link-local, CGNAT, multicast,
// unspecified, reserved, documentation, cloud metadata, and the IPv6 forms
// that embed or translate an IPv4 address (IPv4-mapped, IPv4-compatible,
// NAT64, 6to4, Teredo). Zoned addresses and anything that is not global
// unicast are refused too. A literal grant of the address lifts the
// refusal (see Guard.DialContext); ClassifyIP itself is pure.
func ClassifyIP(a netip.Addr) (blocked bool, reason string) {
	blocked, reason, _ = classify(a)
	return blocked, reason
}

func classify(a netip.Addr) (blocked bool, reason string, metadata bool) {
	if !a.IsValid() {
		return true, "invalid address", false
	}
	if a.Zone() != "" {
		return true, "scoped IPv6 address (zone " + a.Zone() + ")", false
	}
	for _, r := range metadataAddrs {
		if r.prefix.Contains(a) {
			return true, r.reason, true
		}
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(a) {
			return true, r.reason, false
		}
	}
	if !a.IsGlobalUnicast() {
		return true, "not a global unicast address", false
	}
	return false, "", false
}
