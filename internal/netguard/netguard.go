// Package netguard keeps tests on loopback: its dial control refuses, before
// any packet is sent, every address outside 127.0.0.0/8 and ::1, and
// reports the attempt so the test fails.
package netguard

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// Guard records refused dial attempts.
type Guard struct {
	mu      sync.Mutex
	refused []string
}

// IsLoopback reports whether host:port (or a bare host) is a loopback IP.
func IsLoopback(address string) bool {
	host := address
	if h, _, err := net.SplitHostPort(address); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// Control is a net.Dialer.Control function: it runs after name resolution
// and before connect, and refuses non-loopback addresses.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	if IsLoopback(address) {
		return nil
	}
	g.mu.Lock()
	g.refused = append(g.refused, network+" "+address)
	g.mu.Unlock()
	return fmt.Errorf("netguard: refusing to dial non-loopback %s %s", network, address)
}

// Dialer returns a dialer wired to the guard.
func (g *Guard) Dialer() *net.Dialer {
	return &net.Dialer{Control: g.Control}
}

// Refused lists the refused attempts so far.
func (g *Guard) Refused() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.refused...)
}

// TB is the part of testing.TB the guard needs.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Cleanup(func())
}

// New returns a guard that fails t at cleanup if any non-loopback dial was
// attempted through it.
func New(t TB) *Guard {
	g := &Guard{}
	t.Cleanup(func() {
		if r := g.Refused(); len(r) > 0 {
			t.Helper()
			t.Errorf("netguard: test attempted non-loopback connections: %v", r)
		}
	})
	return g
}
