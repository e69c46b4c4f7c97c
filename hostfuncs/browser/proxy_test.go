package hostbrowser

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	hosthttp "github.com/reefhq/reef/hostfuncs/http"
	"github.com/reefhq/reef/internal/netguard"
	"github.com/reefhq/reef/runtime/policy"
)

// newTestProxy starts a bound proxy for p with a netguard-checked Guard.
func newTestProxy(t *testing.T, p *policy.Policy, maxRequests int) *callProxy {
	t.Helper()
	g := &hosthttp.Guard{Resolver: testResolver, Dialer: netguard.New(t).Dialer()}
	px, err := newCallProxy(g.DialContext, slog.New(slog.DiscardHandler), maxRequests)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Close() })
	if p != nil {
		px.bind(p, slog.New(slog.DiscardHandler))
	}
	return px
}

func proxyClient(px *callProxy, tlsCfg *tls.Config) *http.Client {
	u, _ := url.Parse(px.URL())
	return &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: tlsCfg, DisableKeepAlives: true},
		Timeout:   5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func TestProxyDecisions(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "tls-ok") }))
	defer tlsSrv.Close()
	tlsPort := tlsSrv.Listener.Addr().(*net.TCPAddr).Port
	p, d := testPolicy(t, false, shared.grantA(), fmt.Sprintf("https://127.0.0.1:%d", tlsPort), "metadata.test", "rebind.test:"+shared.portA(), "*.example.test")
	px := newTestProxy(t, p, 100)
	pool := tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig
	client := proxyClient(px, pool)

	tests := []struct {
		name, url  string
		wantStatus int
		wantBody   string
		denied     string // substring of a recorded denial
	}{
		{"granted plain", shared.urlA("/hello"), 200, "Hello reef", ""},
		{"granted redirect is passed back, not followed", shared.urlA("/redirect"), 302, "", ""},
		{"other port", shared.urlB("/x"), 403, "", shared.portB()},
		{"metadata literal", "http://169.254.169.254/latest/meta-data/", 403, "", "169.254.169.254"},
		{"metadata behind a granted name", "http://metadata.test/latest/", 403, "", "metadata.test"},
		{"loopback behind a granted name (rebinding)", "http://rebind.test:" + shared.portA() + "/hello", 403, "", "rebind.test"},
		{"localhost name", "http://localhost:" + shared.portA() + "/hello", 403, "", "localhost"},
		{"decimal loopback spelling", "http://2130706433:" + shared.portB() + "/", 403, "", shared.portB()},
		{"granted CONNECT (https)", tlsSrv.URL + "/", 200, "tls-ok", ""},
		{"CONNECT to non-granted", "https://127.0.0.1:" + shared.portB() + "/", 0, "", shared.portB()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hits, _ := shared.hitsB(func() {
				resp, err := client.Get(tc.url)
				if tc.wantStatus == 0 {
					if err == nil {
						resp.Body.Close()
						t.Fatalf("CONNECT succeeded: %d", resp.StatusCode)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), tc.wantBody) {
					t.Fatalf("status %d body %q, want %d %q", resp.StatusCode, b, tc.wantStatus, tc.wantBody)
				}
				if tc.wantStatus == 403 && resp.Header.Get("X-Reef-Denied") == "" {
					t.Errorf("no audit id header")
				}
			})
			if hits != 0 {
				t.Errorf("non-granted server was reached")
			}
			if tc.denied != "" && len(d.denied(tc.denied)) == 0 {
				t.Errorf("no denial recorded for %s", tc.denied)
			}
		})
	}
}

func TestProxyUnboundRefusesEverything(t *testing.T) {
	px := newTestProxy(t, nil, 100)
	hits, _ := shared.hitsB(func() {
		resp, err := proxyClient(px, nil).Get(shared.urlB("/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	if hits != 0 {
		t.Fatal("unbound proxy forwarded a request")
	}
}

func TestProxyRefusesNonProxyRequests(t *testing.T) {
	p, _ := testPolicy(t, false, shared.grantA())
	px := newTestProxy(t, p, 100)
	// An origin-form request, as if the proxy were a web server.
	resp, err := http.Get(px.URL() + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// A CONNECT without a port.
	c, err := net.Dial("tcp", px.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 403 {
		t.Fatalf("portless CONNECT: %d", r.StatusCode)
	}
}

func TestProxyRequestCap(t *testing.T) {
	p, d := testPolicy(t, false, shared.grantA())
	px := newTestProxy(t, p, 3)
	client := proxyClient(px, nil)
	for i := range 5 {
		resp, err := client.Get(shared.urlA("/hello"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 200
		if i >= 3 {
			want = 403
		}
		if resp.StatusCode != want {
			t.Fatalf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	if len(d.denied("")) != 2 {
		t.Fatalf("denials %v", d.denied(""))
	}
}

func TestProxyCloseEndsTunnels(t *testing.T) {
	// A tunnel to a server that never answers ends when the proxy closes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	p, _ := testPolicy(t, false, fmt.Sprintf("127.0.0.1:%d", port))
	g := &hosthttp.Guard{Resolver: testResolver, Dialer: netguard.New(t).Dialer()}
	px, err := newCallProxy(g.DialContext, slog.New(slog.DiscardHandler), 10)
	if err != nil {
		t.Fatal(err)
	}
	px.bind(p, slog.New(slog.DiscardHandler))
	c, err := net.Dial("tcp", px.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", port, port)
	br := bufio.NewReader(c)
	r, err := http.ReadResponse(br, nil)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", r, err)
	}
	done := make(chan error, 1)
	go func() { _, err := br.ReadByte(); done <- err }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := px.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("tunnel still open after Close")
	}
}

func TestConnectScheme(t *testing.T) {
	p, _ := testPolicy(t, false, "wss://ws.example.test", "ws://ws.example.test:8080", "https://a.example.test")
	tests := []struct {
		host string
		port int
		want string
	}{
		{"a.example.test", 443, "https"},
		{"ws.example.test", 443, "wss"},
		{"ws.example.test", 8080, "ws"},
		{"other.example.test", 443, "https"},
	}
	for _, tc := range tests {
		if got := connectScheme(p, tc.host, tc.port); got != tc.want {
			t.Errorf("connectScheme(%s:%d) = %s, want %s", tc.host, tc.port, got, tc.want)
		}
	}
	if got := connectScheme(nil, "a.example.test", 443); got != "https" {
		t.Errorf("nil policy: %s", got)
	}
}
