package hosthttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/reefhq/reef/runtime/hostmatch"
	"github.com/reefhq/reef/runtime/policy"
)

// Resolver resolves host names; tests use a stub, production
// net.DefaultResolver.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard dials outbound connections for a skill: it resolves names itself,
// checks every address, and connects only to an address it checked. It is
// safe for concurrent use; the zero value uses net.DefaultResolver and a
// plain net.Dialer.
type Guard struct {
	// Resolver resolves names (nil: net.DefaultResolver).
	Resolver Resolver
	// Dialer is the base dialer; it only ever receives IP:port addresses
	// that passed the checks (nil: a net.Dialer with a 30 s timeout).
	// Tests pass internal/netguard's dialer.
	Dialer *net.Dialer
	// TrustedNets are address ranges the operator lets granted host NAMES
	// reach although they are private or loopback (an internal API
	// network, a cluster service range). Cloud metadata addresses stay
	// refused inside them. Empty (the default): names only reach public
	// addresses.
	TrustedNets []netip.Prefix
	// Logger logs refused dials at debug level (nil: discard).
	Logger *slog.Logger
}

func (g *Guard) resolver() Resolver {
	if g.Resolver != nil {
		return g.Resolver
	}
	return net.DefaultResolver
}

func (g *Guard) dialer() *net.Dialer {
	if g.Dialer != nil {
		return g.Dialer
	}
	return &net.Dialer{Timeout: 30 * time.Second}
}

func (g *Guard) log() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// rule returns the host rule capability is decided by.
func rule(p *policy.Policy, capability string) (*policy.HostRule, error) {
	if p == nil {
		return nil, nil
	}
	switch capability {
	case policy.CapHTTP:
		return p.HTTP, nil
	case policy.CapBrowser:
		return p.Browser, nil
	}
	return nil, fmt.Errorf("hosthttp: guard: capability %q is not %q or %q", capability, policy.CapHTTP, policy.CapBrowser)
}

// literalGranted reports whether l names addr literally with a pattern
// that admits port.
func literalGranted(l hostmatch.List, addr netip.Addr, port int) bool {
	if !l.LiteralAddr(addr) {
		return false
	}
	addr = addr.Unmap()
	for _, p := range l {
		if !p.Addr.IsValid() || p.Addr != addr {
			continue
		}
		switch {
		case p.Port != 0:
			if p.Port == port {
				return true
			}
		case p.Scheme != "":
			if port == hostmatch.DefaultPort(p.Scheme) {
				return true
			}
		default:
			if port == 80 || port == 443 {
				return true
			}
		}
	}
	return false
}

// DialContext connects to addr ("host:port") for a skill running under p.
// capability is policy.CapHTTP or policy.CapBrowser and selects the host
// rule. The host is normalised with ParseHost; a name is resolved with
// g.Resolver (once); every resolved address is checked with ClassifyIP,
// and if any is refused the dial is denied — unless addr's host is that
// very IP literal and the rule's requested AND granted lists both name it
// literally with a pattern admitting the port. Names reach private or
// loopback addresses only inside g.TrustedNets (metadata never). The
// connection then goes to a checked IP:port, so a rebinding DNS server
// cannot change the address after the check.
//
// Refusals are *policy.Denial values recorded through p.
func (g *Guard) DialContext(ctx context.Context, p *policy.Policy, capability, network, addr string) (net.Conn, error) {
	r, err := rule(p, capability)
	if err != nil {
		return nil, err
	}
	lookupNet := ""
	switch network {
	case "tcp":
		lookupNet = "ip"
	case "tcp4":
		lookupNet = "ip4"
	case "tcp6":
		lookupNet = "ip6"
	default:
		return nil, p.Deny(capability, network+" "+addr, "only TCP connections are allowed")
	}
	hostPart, portPart, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, p.Deny(capability, addr, "malformed address: "+err.Error())
	}
	port, err := strconv.Atoi(portPart)
	if err != nil || port < 1 || port > 65535 {
		return nil, p.Deny(capability, addr, "invalid port")
	}
	h, err := ParseHost(hostPart)
	if err != nil {
		return nil, p.Deny(capability, addr, err.Error())
	}
	if r == nil {
		return nil, p.Deny(capability, addr, capability+" not granted")
	}

	var ips []netip.Addr
	if h.IsAddr() {
		ips = []netip.Addr{h.Addr}
	} else {
		ips, err = g.resolver().LookupNetIP(ctx, lookupNet, h.Name)
		if err != nil {
			return nil, fmt.Errorf("hosthttp: resolve %s: %w", h.Name, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("hosthttp: resolve %s: no addresses", h.Name)
		}
	}
	for _, ip := range ips {
		if err := g.check(p, r, capability, h, ip, port); err != nil {
			return nil, err
		}
	}

	d := g.dialer()
	var errs []error
	for _, ip := range ips {
		if network == "tcp4" && !ip.Unmap().Is4() || network == "tcp6" && !ip.Is6() {
			continue
		}
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("hosthttp: %s: no %s address", addr, network)
	}
	return nil, fmt.Errorf("hosthttp: dial %s: %w", addr, errors.Join(errs...))
}

// check decides one resolved address.
func (g *Guard) check(p *policy.Policy, r *policy.HostRule, capability string, h Host, ip netip.Addr, port int) error {
	blocked, reason, metadata := classify(ip)
	if !blocked {
		return nil
	}
	value := net.JoinHostPort(h.Name, strconv.Itoa(port))
	if h.IsAddr() {
		// Only the literal itself can be granted; ParseHost already
		// unmapped an IPv4-mapped spelling.
		if ip == h.Addr && literalGranted(r.Requested, ip, port) && literalGranted(r.Granted, ip, port) {
			return nil
		}
		g.log().Debug("refused address", "capability", capability, "addr", value, "reason", reason)
		return p.Deny(capability, value, reason+" (reachable only when granted as a literal address)")
	}
	value += " (resolved to " + ip.String() + ")"
	if !metadata {
		for _, n := range g.TrustedNets {
			if n.Contains(ip) {
				return nil
			}
		}
	}
	g.log().Debug("refused resolved address", "capability", capability, "addr", value, "reason", reason)
	return p.Deny(capability, value, reason+" behind a host name (only a literal-address grant reaches it)")
}
