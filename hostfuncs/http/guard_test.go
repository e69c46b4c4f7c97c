package hosthttp

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

func TestGuardDialContext(t *testing.T) {
	srv := newTestServer(t)
	ap := srv.port()
	lit := "http://" + srv.hostPort()
	type tc struct {
		name       string
		grant      grantSpec
		capability string
		network    string
		addr       string
		trusted    bool
		nilPolicy  bool
		wantDenied string // reason substring; "" = dial succeeds
		wantErr    bool   // a non-denial error
	}
	cases := []tc{
		{name: "literal grant dials", grant: grantSpec{requested: []string{lit}, granted: []string{lit}}, addr: srv.hostPort()},
		{name: "literal grant, tcp4", grant: grantSpec{requested: []string{lit}, granted: []string{lit}}, network: "tcp4", addr: srv.hostPort()},
		{name: "literal only requested", grant: grantSpec{requested: []string{lit}, granted: []string{"other.test"}}, addr: srv.hostPort(), wantDenied: "loopback"},
		{name: "literal only granted", grant: grantSpec{requested: []string{"other.test"}, granted: []string{lit}}, addr: srv.hostPort(), wantDenied: "loopback"},
		{name: "literal granted on another port", grant: grantSpec{requested: []string{"http://127.0.0.1:1"}, granted: []string{"http://127.0.0.1:1"}}, addr: srv.hostPort(), wantDenied: "literal"},
		{name: "literal grant does not open a name resolving to it", grant: grantSpec{requested: []string{lit, "api.test:" + ap}, granted: []string{lit, "api.test:" + ap}}, addr: "api.test:" + ap, wantDenied: "behind a host name"},
		{name: "name inside TrustedNets", grant: grantSpec{requested: []string{"api.test:" + ap}, granted: []string{"api.test:" + ap}}, addr: "api.test:" + ap, trusted: true},
		{name: "short spelling of a literal grant", grant: grantSpec{requested: []string{lit}, granted: []string{lit}}, addr: "127.1:" + ap},
		{name: "short spelling without grant", grant: grantSpec{requested: []string{"api.test"}, granted: []string{"api.test"}}, addr: "127.1:" + ap, wantDenied: "loopback"},
		{name: "browser capability uses the browser rule", grant: grantSpec{noHTTPRequest: true, noHTTPGranted: true, browserReq: []string{lit}, browserGranted: []string{lit}}, capability: policy.CapBrowser, addr: srv.hostPort()},
		{name: "http capability on a browser-only policy", grant: grantSpec{noHTTPRequest: true, noHTTPGranted: true, browserReq: []string{lit}, browserGranted: []string{lit}}, addr: srv.hostPort(), wantDenied: "http not granted"},
		{name: "nil policy", nilPolicy: true, addr: srv.hostPort(), wantDenied: "not granted"},
		{name: "udp refused", grant: grantSpec{requested: []string{lit}, granted: []string{lit}}, network: "udp", addr: srv.hostPort(), wantDenied: "only TCP"},
		{name: "unknown capability", grant: grantSpec{requested: []string{lit}, granted: []string{lit}}, capability: policy.CapFS, addr: srv.hostPort(), wantErr: true},
		{name: "metadata literal", grant: grantSpec{requested: []string{"api.test"}, granted: []string{"api.test"}}, addr: "169.254.169.254:80", wantDenied: "metadata"},
		{name: "zoned literal", grant: grantSpec{requested: []string{"api.test"}, granted: []string{"api.test"}}, addr: "[fe80::1%eth0]:80", wantDenied: "zone"},
		{name: "port out of range", grant: grantSpec{requested: []string{lit}, granted: []string{lit}}, addr: "127.0.0.1:70000", wantDenied: "invalid port"},
		{name: "unresolvable name", grant: grantSpec{requested: []string{"nx.test"}, granted: []string{"nx.test"}}, addr: "nx.test:80", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &Guard{Resolver: newStub(testDNS), Dialer: guardedDialer(t)}
			if c.trusted {
				g.TrustedNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			}
			var p *policy.Policy
			if !c.nilPolicy {
				p = c.grant.policy(t, nil)
			}
			capability, network := c.capability, c.network
			if capability == "" {
				capability = policy.CapHTTP
			}
			if network == "" {
				network = "tcp"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := g.DialContext(ctx, p, capability, network, c.addr)
			if conn != nil {
				defer conn.Close()
			}
			var d *policy.Denial
			switch {
			case c.wantDenied != "":
				if !errors.As(err, &d) || !strings.Contains(d.Reason, c.wantDenied) {
					t.Fatalf("err = %v, want denial containing %q", err, c.wantDenied)
				}
			case c.wantErr:
				if err == nil || errors.As(err, &d) {
					t.Fatalf("err = %v, want a non-denial error", err)
				}
			default:
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				if got := conn.RemoteAddr().String(); got != srv.hostPort() {
					t.Errorf("connected to %s, want %s", got, srv.hostPort())
				}
			}
		})
	}
}

// TestDNSRebinding: the stub DNS answers a "public" address (loopback,
// opened by TrustedNets in this test) first and a private one afterwards.
// The guard resolves once per connection and dials what it checked, so the
// first connection reaches the checked address and the next lookup's
// private answer is refused before any dial.
func TestDNSRebinding(t *testing.T) {
	srv := newTestServer(t)
	stub := newStub(nil)
	stub.set("rebind.test", "127.0.0.1")
	stub.set("rebind.test", "10.0.0.1")
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	grant := grantSpec{requested: []string{"rebind.test:" + srv.port()}, granted: []string{"rebind.test:" + srv.port()}}

	t.Run("guard", func(t *testing.T) {
		stub.calls = map[string]int{}
		g := &Guard{Resolver: stub, Dialer: guardedDialer(t), TrustedNets: trusted}
		p := grant.policy(t, nil)
		ctx := context.Background()
		conn, err := g.DialContext(ctx, p, policy.CapHTTP, "tcp", "rebind.test:"+srv.port())
		if err != nil {
			t.Fatalf("first dial: %v", err)
		}
		if got := conn.RemoteAddr().String(); got != srv.hostPort() {
			t.Errorf("dialed %s, checked %s", got, srv.hostPort())
		}
		conn.Close()
		if n := stub.count("rebind.test"); n != 1 {
			t.Errorf("%d lookups for one dial, want 1", n)
		}
		_, err = g.DialContext(ctx, p, policy.CapHTTP, "tcp", "rebind.test:"+srv.port())
		var d *policy.Denial
		if !errors.As(err, &d) || !strings.Contains(d.Reason, "10.0.0.0/8") {
			t.Fatalf("second dial after rebinding: %v, want denial", err)
		}
	})

	t.Run("fetch", func(t *testing.T) {
		stub.calls = map[string]int{}
		m := newTestModule(t, stub, func(o *Options) { o.TrustedNets = trusted })
		c := newCall(t, grant.policy(t, nil), 10*time.Second)
		url := "http://rebind.test:" + srv.port() + "/hello"
		if r, e := doFetch(c, m, FetchRequest{URL: url}, nil); e != nil || string(r.body) != "hello" {
			t.Fatalf("first fetch: %v %q", e, r.body)
		}
		_ = m.Close() // no pooled connection: the next request dials again
		_, e := doFetch(c, m, FetchRequest{URL: url}, nil)
		if e == nil || e.Code != abi.CodeDenied || !strings.Contains(e.Message, "10.0.0.1") {
			t.Fatalf("fetch after rebinding: %+v, want denial naming 10.0.0.1", e)
		}
	})
}

func TestRequestsPerCall(t *testing.T) {
	srv := newTestServer(t)
	m := newTestModule(t, newStub(nil), func(o *Options) { o.MaxRequestsPerCall = 3 })
	lit := "http://" + srv.hostPort()
	p := grantSpec{requested: []string{lit}, granted: []string{lit}}.policy(t, nil)
	c := newCall(t, p, 10*time.Second)
	for i := range 3 {
		if _, e := doFetch(c, m, FetchRequest{URL: lit + "/hello"}, nil); e != nil {
			t.Fatalf("request %d: %v", i+1, e)
		}
	}
	if _, e := doFetch(c, m, FetchRequest{URL: lit + "/hello"}, nil); e == nil || e.Code != abi.CodeLimit {
		t.Fatalf("4th request: %+v, want limit", e)
	}
	// The cap is per guest call: a new call starts at zero.
	if _, e := doFetch(newCall(t, p, 10*time.Second), m, FetchRequest{URL: lit + "/hello"}, nil); e != nil {
		t.Fatalf("new call: %v", e)
	}
}

// TestNoEnvironmentProxy: HTTP_PROXY must not redirect skill traffic.
func TestNoEnvironmentProxy(t *testing.T) {
	srv := newTestServer(t)
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	m := newTestModule(t, newStub(nil), nil)
	lit := "http://" + srv.hostPort()
	c := newCall(t, grantSpec{requested: []string{lit}, granted: []string{lit}}.policy(t, nil), 10*time.Second)
	if r, e := doFetch(c, m, FetchRequest{URL: lit + "/hello"}, nil); e != nil || string(r.body) != "hello" {
		t.Fatalf("fetch with HTTP_PROXY set: %+v %q", e, r.body)
	}
}

func TestExtismRequest(t *testing.T) {
	a, b := newTestServer(t), newTestServer(t)
	litA := "http://" + a.hostPort()
	tok := testSecrets["TOKEN"]
	cases := []struct {
		name     string
		req      string
		body     string
		grant    grantSpec
		wantCode string
		check    func(t *testing.T, status int, h map[string]string, body []byte)
	}{
		{name: "GET", req: `{"url":"` + litA + `/hello"}`, grant: grantSpec{requested: []string{litA}, granted: []string{litA}},
			check: func(t *testing.T, status int, _ map[string]string, body []byte) {
				if status != 200 || string(body) != "hello" {
					t.Errorf("status %d body %q", status, body)
				}
			}},
		{name: "POST body", req: `{"url":"` + litA + `/echo","method":"POST"}`, body: "xyz", grant: grantSpec{requested: []string{litA}, granted: []string{litA}, methods: []string{"POST"}},
			check: func(t *testing.T, _ int, _ map[string]string, body []byte) {
				if !strings.Contains(string(body), `"body":"xyz"`) {
					t.Errorf("body %s", body)
				}
			}},
		{name: "host not granted", req: `{"url":"http://` + b.hostPort() + `/hello"}`, grant: grantSpec{requested: []string{litA}, granted: []string{litA}}, wantCode: abi.CodeDenied},
		{name: "redirect to metadata", req: `{"url":"` + litA + `/redirect?http://169.254.169.254/"}`, grant: grantSpec{requested: []string{litA}, granted: []string{litA}}, wantCode: abi.CodeDenied},
		{name: "CRLF header", req: `{"url":"` + litA + `/echo","headers":{"X-A":"a\r\nB: c"}}`, grant: grantSpec{requested: []string{litA}, granted: []string{litA}}, wantCode: abi.CodeInvalid},
		{name: "decimal host", req: `{"url":"http://2130706433:` + a.port() + `/"}`, grant: grantSpec{requested: []string{"*.test"}, granted: []string{"*.test"}}, wantCode: abi.CodeDenied},
		{name: "secret injected and redacted", req: `{"url":"` + litA + `/echo","headers":{"X-Api-Key":"{{secret:TOKEN}}"}}`,
			grant: grantSpec{requested: []string{litA}, granted: []string{litA}, reqSecrets: []string{"TOKEN"}, grantSecrets: []string{"TOKEN"}},
			check: func(t *testing.T, _ int, h map[string]string, body []byte) {
				if strings.Contains(string(body), tok) || strings.Contains(h["X-Echo-Key"], tok) {
					t.Errorf("secret leaked to the guest")
				}
				if !strings.Contains(string(body), redactedMark) {
					t.Errorf("body %s", body)
				}
			}},
		{name: "bad JSON", req: `{"url":`, wantCode: abi.CodeInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTestModule(t, newStub(testDNS), func(o *Options) { o.MaxResponseBytes = 1 << 20 })
			call := newCall(t, c.grant.policy(t, nil), 10*time.Second)
			status, h, body, err := m.ExtismRequest(call, []byte(c.req), []byte(c.body))
			if c.wantCode != "" {
				if err == nil {
					t.Fatalf("want %s, got status %d", c.wantCode, status)
				}
				if doc := abi.ToDocument(policy.CapHTTP, err); doc.Code != c.wantCode {
					t.Fatalf("error %s %q, want %s", doc.Code, doc.Message, c.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, status, h, body)
		})
	}
}

// TestDialWithoutPolicy: the shared transport refuses to dial for a request
// that does not carry a skill policy.
func TestDialWithoutPolicy(t *testing.T) {
	m := newTestModule(t, newStub(nil), nil)
	if _, err := m.transport.DialContext(context.Background(), "tcp", "127.0.0.1:1"); err == nil {
		t.Fatal("dial without policy succeeded")
	}
}
