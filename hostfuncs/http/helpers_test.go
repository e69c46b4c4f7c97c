package hosthttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
	"github.com/reefhq/reef/internal/netguard"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// stubResolver answers from a table; a name with several answer lists
// returns them in turn (the last one repeats), which simulates a DNS
// server that rebinds between lookups. It never touches real DNS.
type stubResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
}

func newStub(table map[string][]string) *stubResolver {
	s := &stubResolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
	for name, addrs := range table {
		s.set(name, addrs...)
	}
	return s
}

// set appends one answer list for name.
func (s *stubResolver) set(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l []netip.Addr
	for _, a := range addrs {
		l = append(l, netip.MustParseAddr(a))
	}
	s.answers[name] = append(s.answers[name], l)
}

func (s *stubResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lists, ok := s.answers[host]
	if !ok {
		return nil, fmt.Errorf("stub resolver: no such host %q", host)
	}
	i := min(s.calls[host], len(lists)-1)
	s.calls[host]++
	return append([]netip.Addr(nil), lists[i]...), nil
}

func (s *stubResolver) count(host string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[host]
}

// record is one request a test server saw.
type record struct {
	Path   string
	Header http.Header
	Remote string
}

// testServer is a real HTTP server on 127.0.0.1 with the handlers the
// adversarial cases need.
type testServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []record
	// streamed counts bytes /stream wrote.
	streamed atomic.Int64
}

func (s *testServer) hostPort() string { return strings.TrimPrefix(s.URL, "http://") }
func (s *testServer) port() string {
	_, p, _ := strings.Cut(s.hostPort(), ":")
	return p
}

func (s *testServer) records() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]record(nil), s.reqs...)
}

var gzipBomb = func() []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(make([]byte, 8<<20))
	_ = zw.Close()
	return b.Bytes()
}()

func newTestServer(t testing.TB) *testServer {
	s := &testServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.Header().Set("X-Echo-Key", r.Header.Get("X-Api-Key"))
		w.Header().Set("X-Echo-B64", base64.StdEncoding.EncodeToString([]byte(r.Header.Get("X-Api-Key"))))
		_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "body": string(body), "headers": r.Header, "host": r.Host})
	})
	// /redirect?<target> and /redirect307?<target>: redirect to the raw query.
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.RawQuery)
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/redirect307", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.RawQuery)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		http.Redirect(w, r, "/loop?n="+strconv.Itoa(n+1), http.StatusFound)
	})
	// /secret-redirect: Location carries the X-Api-Key value to another origin.
	mux.HandleFunc("/secret-redirect", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.RawQuery+"?k="+r.Header.Get("X-Api-Key"))
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			s.streamed.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(bytes.Repeat([]byte("b"), n))
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gzipBomb)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, record{Path: r.URL.Path, Header: r.Header.Clone(), Remote: r.RemoteAddr})
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// recorder captures policy decisions.
type recorder struct {
	mu sync.Mutex
	ds []policy.Decision
}

func (r *recorder) Record(d policy.Decision) {
	r.mu.Lock()
	r.ds = append(r.ds, d)
	r.mu.Unlock()
}

// grantSpec builds an effective policy through policy.Compute, like the
// engine does.
type grantSpec struct {
	requested, granted           []string
	methods                      []string
	reqSecrets, grantSecrets     []string
	browserReq, browserGranted   []string
	noHTTPRequest, noHTTPGranted bool
}

func (g grantSpec) policy(t testing.TB, rec policy.Recorder) *policy.Policy {
	t.Helper()
	s := &skill.Skill{Name: "probe", Manifest: skill.Manifest{Capabilities: skill.Capabilities{Secrets: g.reqSecrets}}}
	gr := &policy.Grant{Secrets: g.grantSecrets}
	if !g.noHTTPRequest {
		s.Manifest.Capabilities.HTTP = &skill.HTTPRequest{Hosts: g.requested, Methods: g.methods}
	}
	if !g.noHTTPGranted {
		gr.HTTP = &policy.HostGrant{Hosts: g.granted, Methods: g.methods}
	}
	if g.browserReq != nil {
		s.Manifest.Capabilities.Browser = &skill.BrowserRequest{Hosts: g.browserReq}
		gr.Browser = &policy.BrowserGrant{Hosts: g.browserGranted}
	}
	p, err := policy.Compute(s, gr, rec)
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	return p
}

var testSecrets = map[string]string{
	"TOKEN":   "s3cr3t-token-value-4242",
	"OTHER":   "another-secret-value-77",
	"CRLF":    "value\r\nX-Injected: 1",
	"UNUSED":  "never-used",
	"ONECHAR": "Z",
}

func secretSource(name string) (string, bool) {
	v, ok := testSecrets[name]
	return v, ok
}

// newTestModule wires a module to the stub resolver and a netguard dialer
// that fails the test on any non-loopback dial.
func newTestModule(t testing.TB, res Resolver, tune func(*Options)) *Module {
	opts := Options{Resolver: res, Dialer: guardedDialer(t), Secrets: secretSource, Timeout: 5 * time.Second}
	if tune != nil {
		tune(&opts)
	}
	m := New(opts)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// guardedDialer is netguard's dialer (any non-loopback dial fails the
// test) whose own resolver fails the test too: the guard must hand the base
// dialer checked IP addresses only, never a name to resolve again.
func guardedDialer(t testing.TB) *net.Dialer {
	d := netguard.New(t).Dialer()
	d.Resolver = &net.Resolver{PreferGo: true, Dial: func(_ context.Context, network, addr string) (net.Conn, error) {
		t.Errorf("base dialer tried to resolve a name (DNS %s %s)", network, addr)
		return nil, errors.New("test: no DNS")
	}}
	return d
}

// response is a decoded reef_http_fetch result.
type response struct {
	meta FetchMeta
	body []byte
}

func decodeResponse(b []byte) (response, error) {
	var r response
	if len(b) < 4 {
		return r, errors.New("response shorter than 4 bytes")
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n)+4 > uint64(len(b)) {
		return r, fmt.Errorf("head length %d beyond %d bytes", n, len(b))
	}
	if err := json.Unmarshal(b[4:4+n], &r.meta); err != nil {
		return r, err
	}
	r.body = b[4+n:]
	return r, nil
}

// doFetch calls the reef_http_fetch handler as the engine would.
func doFetch(c abi.Call, m *Module, fr any, body []byte) (response, *abi.Error) {
	req, err := json.Marshal(fr)
	if err != nil {
		panic(err)
	}
	return doFetchRaw(c, m, req, body)
}

func doFetchRaw(c abi.Call, m *Module, req, body []byte) (response, *abi.Error) {
	var h abi.Handler
	for _, f := range m.Funcs() {
		if f.Name == abi.HTTPFetch {
			h = f.Handler
		}
	}
	out, err := h(c, req, body)
	if err != nil {
		return response{}, abi.ToDocument(policy.CapHTTP, err)
	}
	r, derr := decodeResponse(out)
	if derr != nil {
		return response{}, &abi.Error{Code: "decode", Message: derr.Error()}
	}
	return r, nil
}

func newCall(t testing.TB, p *policy.Policy, timeout time.Duration) *abitest.Call {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return abitest.New(ctx, "probe", p)
}

func (s *testServer) reset() {
	s.mu.Lock()
	s.reqs = nil
	s.mu.Unlock()
	s.streamed.Store(0)
}

// denied reports whether a denial with id was recorded.
func (r *recorder) denied(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.ds {
		if d.ID == id && !d.Allowed {
			return true
		}
	}
	return false
}
