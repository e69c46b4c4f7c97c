package adversarial

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// ---- loopback servers

// loopServer is a real HTTP server on 127.0.0.1 that records requests.
//
//	/echo      answers the request's Authorization header (body, and in
//	           the X-Echo response header)
//	/redirect  redirects to the query parameter "to"
//	/big       streams "n" bytes (query parameter)
//	/          answers "hello from <name>"
type loopServer struct {
	*httptest.Server
	name string
	mu   sync.Mutex
	reqs []*http.Request
}

func newLoopServer(bad bool) *loopServer {
	s := &loopServer{name: "good"}
	if bad {
		s.name = "bad"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(rw http.ResponseWriter, r *http.Request) {
		a := r.Header.Get("Authorization")
		rw.Header().Set("X-Echo", a)
		_, _ = fmt.Fprintf(rw, "you sent: %s", a)
	})
	mux.HandleFunc("/redirect", func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/big", func(rw http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := rw.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintf(rw, "hello from %s", s.name)
	})
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		c := r.Clone(context.Background())
		s.mu.Lock()
		s.reqs = append(s.reqs, c)
		s.mu.Unlock()
		mux.ServeHTTP(rw, r)
	}))
	// No keep-alive: every request dials (and re-resolves) again, which
	// the rebinding cases rely on.
	s.Config.SetKeepAlivesEnabled(false)
	s.Start()
	return s
}

func (s *loopServer) port() int { return s.Listener.Addr().(*net.TCPAddr).Port }

func (s *loopServer) hostPort() string { return "127.0.0.1:" + strconv.Itoa(s.port()) }

func (s *loopServer) hitCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func (s *loopServer) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p []string
	for _, r := range s.reqs {
		p = append(p, r.URL.String())
	}
	return p
}

func (s *loopServer) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

// ---- stub resolver

// stubResolver answers names from a table; a name with several answer
// sets gives them in turn (the last one repeats), which simulates a
// rebinding DNS server. Unknown names are an error: nothing ever asks
// real DNS.
type stubResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	asked   map[string]int
}

func newStubResolver() *stubResolver {
	return &stubResolver{answers: map[string][][]netip.Addr{}, asked: map[string]int{}}
}

func (r *stubResolver) set(name string, sets ...[]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all [][]netip.Addr
	for _, s := range sets {
		var as []netip.Addr
		for _, a := range s {
			as = append(as, netip.MustParseAddr(a))
		}
		all = append(all, as)
	}
	r.answers[name] = all
	r.asked[name] = 0
}

func (r *stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sets, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host (stub resolver)", Name: host, IsNotFound: true}
	}
	i := min(r.asked[host], len(sets)-1)
	r.asked[host]++
	return sets[i], nil
}

// ---- audit recorder

type recorder struct {
	mu sync.Mutex
	ds []policy.Decision
}

func (r *recorder) Record(d policy.Decision) {
	r.mu.Lock()
	r.ds = append(r.ds, d)
	r.mu.Unlock()
}

// denialByID finds the recorded denial with that audit id.
func (r *recorder) denialByID(id string) (policy.Decision, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.ds {
		if d.ID == id && !d.Allowed {
			return d, true
		}
	}
	return policy.Decision{}, false
}

// ---- host layout

// hostDirs is one test's host side: /data (rw) and /ro (ro) mounts, and
// outside them a secret file, a directory holding another copy, and a
// hard-link target.
type hostDirs struct {
	base, data, ro, outside string
	secretPath              string
	secret                  string
}

func newHostDirs(t *testing.T) *hostDirs {
	t.Helper()
	base := t.TempDir()
	h := &hostDirs{base: base, data: filepath.Join(base, "data"), ro: filepath.Join(base, "ro"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{h.data, h.ro, h.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.secret = "SECRET-" + strings.ReplaceAll(t.Name(), "/", "_") + "-" + hex.EncodeToString(sha256.New().Sum([]byte(base))[:8])
	h.secretPath = filepath.Join(base, "secret.txt")
	writeFile(t, h.secretPath, h.secret)
	writeFile(t, filepath.Join(h.outside, "secret.txt"), h.secret)
	writeFile(t, filepath.Join(h.data, "hello.txt"), "hello")
	writeFile(t, filepath.Join(h.ro, "readme.txt"), "read only")
	t.Cleanup(func() { h.assertUntouched(t) })
	return h
}

// assertUntouched checks the secret files outside the mounts are
// unchanged.
func (h *hostDirs) assertUntouched(t *testing.T) {
	t.Helper()
	for _, p := range []string{h.secretPath, filepath.Join(h.outside, "secret.txt")} {
		b, err := os.ReadFile(p)
		if err != nil || string(b) != h.secret {
			t.Errorf("host file %s changed: %q %v", p, b, err)
		}
	}
	ents, _ := os.ReadDir(h.base)
	for _, e := range ents {
		switch e.Name() {
		case "data", "ro", "outside", "secret.txt", "proc":
		default:
			t.Errorf("the guest created %s outside its mounts", filepath.Join(h.base, e.Name()))
		}
	}
}

func writeFile(t testing.TB, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ---- skills and calls

// grantAll requests and grants the same capabilities, mapping /data and
// /ro to h (when h is not nil).
type grantSpec struct {
	fs      *hostDirs
	hosts   []string
	methods []string
	kv      skill.Size
	secrets []string
	limits  skill.Limits
	// rec records the skill's decisions (nil: the suite's recorder w.rec).
	rec policy.Recorder
}

// load loads guest (a compiled testdata or skill module) as skill name
// with caps requested and granted per g.
func load(t testing.TB, guest, name string, g grantSpec) *engine.Plugin {
	t.Helper()
	pl, err := tryLoad(t, guest, name, g)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// tryLoad is load returning the engine's error.
func tryLoad(t testing.TB, guest, name string, g grantSpec) (*engine.Plugin, error) {
	t.Helper()
	b := w.wasm[guest]
	if b == nil {
		t.Fatalf("guest %s was not built", guest)
	}
	sum := sha256.Sum256(b)
	s := &skill.Skill{Name: name, Wasm: b, Digest: "sha256:" + hex.EncodeToString(sum[:]),
		Manifest: skill.Manifest{Isolation: skill.IsolationPooled, Limits: g.limits}}
	gr := &policy.Grant{}
	caps := &s.Manifest.Capabilities
	if g.fs != nil {
		caps.FS = map[string]skill.Access{"/data": skill.ReadWrite, "/ro": skill.ReadOnly}
		gr.FS = map[string]string{"/data": g.fs.data + ":rw", "/ro": g.fs.ro + ":rw"} // rw granted to a ro request stays ro
	}
	if len(g.hosts) > 0 {
		caps.HTTP = &skill.HTTPRequest{Hosts: g.hosts, Methods: g.methods}
		gr.HTTP = &policy.HostGrant{Hosts: g.hosts, Methods: g.methods}
	}
	if g.kv > 0 {
		caps.KV = &skill.KVRequest{Quota: g.kv}
		gr.KV = &policy.KVGrant{Quota: g.kv}
	}
	caps.Secrets, gr.Secrets = g.secrets, g.secrets
	if s.Manifest.Limits.Timeout == 0 {
		s.Manifest.Limits.Timeout = skill.Duration(callTimeout)
	}
	if s.Manifest.Limits.Output == 0 {
		s.Manifest.Limits.Output = skillOutputSize
	}
	rec := g.rec
	if rec == nil {
		rec = w.rec
	}
	p, err := policy.Compute(s, gr, rec)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := w.eng.Load(context.Background(), s, p, engine.LoadOptions{})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { pl.Close(context.Background()) })
	return pl, nil
}

// call runs fn and fails the test if the output or the error carries a
// secret (the planted file's content or the operator's token).
func call(t testing.TB, pl *engine.Plugin, h *hostDirs, fn string, input []byte) ([]byte, error) {
	t.Helper()
	out, err := pl.Call(context.Background(), fn, input)
	noSecret(t, h, "output", string(out))
	if err != nil {
		noSecret(t, h, "error", err.Error())
	}
	return out, err
}

func noSecret(t testing.TB, h *hostDirs, what, s string) {
	t.Helper()
	if h != nil && strings.Contains(s, h.secret) {
		t.Fatalf("%s leaks the planted secret file: %.300q", what, s)
	}
	if strings.Contains(s, w.secret) {
		t.Fatalf("%s leaks the operator secret: %.300q", what, s)
	}
}

// errDoc is a capability error document as the guest received it.
type errDoc struct {
	Code       string `json:"code"`
	Capability string `json:"capability"`
	Value      string `json:"value"`
	Message    string `json:"message"`
	ID         string `json:"id"`
}

// capInput frames a request for the C guest's "cap" export.
func capInput(repeat int, fn, req string, data []byte) []byte {
	suffix := ""
	if data == nil {
		suffix = "-"
	}
	return fmt.Appendf(nil, "%d\n%s\n%d%s\n%s%s", repeat, fn, len(req), suffix, req, data)
}

// capResult is what the C guest's "cap" export answers.
type capResult struct {
	ok   int     // successful calls before the last result
	body []byte  // the last response when it succeeded
	err  *errDoc // the last error document
}

func runCap(t testing.TB, pl *engine.Plugin, h *hostDirs, repeat int, fn, req string, data []byte) capResult {
	t.Helper()
	out, err := call(t, pl, h, "cap", capInput(repeat, fn, req, data))
	if err != nil {
		t.Fatalf("cap %s %s: %v", fn, req, err)
	}
	line, rest, ok := bytes.Cut(out, []byte("\n"))
	if !ok || len(rest) == 0 {
		t.Fatalf("cap: malformed output %q", out)
	}
	n, _ := strconv.Atoi(string(line))
	r := capResult{ok: n}
	switch rest[0] {
	case 'O':
		r.body = rest[1:]
	case 'E':
		r.err = &errDoc{}
		if err := json.Unmarshal(rest[1:], r.err); err != nil {
			t.Fatalf("cap: error document %q: %v", rest[1:], err)
		}
	default:
		t.Fatalf("cap: malformed output %q", out)
	}
	return r
}

// wantDenied asserts an error document is a denial of capability for
// value, carrying an audit id that the recorder saw with the same value.
func wantDenied(t testing.TB, d *errDoc, capability, value string) {
	t.Helper()
	if d == nil {
		t.Fatalf("want a %s denial for %q, the call succeeded", capability, value)
	}
	if d.Code != "denied" || d.Capability != capability || d.Value != value {
		t.Fatalf("want denied/%s/%q, got %s/%s/%q: %s", capability, value, d.Code, d.Capability, d.Value, d.Message)
	}
	if d.ID == "" {
		t.Fatalf("denial without audit id: %+v", d)
	}
	rec, ok := w.rec.denialByID(d.ID)
	if !ok || rec.Capability != capability || rec.Value != value {
		t.Fatalf("denial %s not in the audit log as %s/%q (got %+v, found %v)", d.ID, capability, value, rec, ok)
	}
}

// wantCode asserts an error document's code and capability.
func wantCode(t testing.TB, d *errDoc, code, capability string) {
	t.Helper()
	if d == nil {
		t.Fatalf("want error %s, the call succeeded", code)
	}
	if d.Code != code || d.Capability != capability {
		t.Fatalf("want %s/%s, got %s/%s/%q: %s", code, capability, d.Code, d.Capability, d.Value, d.Message)
	}
}

// goResult is the Go guest's answer.
type goResult struct {
	OK         bool     `json:"ok"`
	Data       string   `json:"data"`
	Seen       []string `json:"seen"`
	Reads      int      `json:"reads"`
	Err        string   `json:"err"`
	Code       string   `json:"code"`
	Capability string   `json:"capability"`
	Value      string   `json:"value"`
	ID         string   `json:"id"`
	Status     int      `json:"status"`
}

func (r goResult) doc() *errDoc {
	if r.OK {
		return nil
	}
	return &errDoc{Code: r.Code, Capability: r.Capability, Value: r.Value, Message: r.Err, ID: r.ID}
}

func runGo(t testing.TB, pl *engine.Plugin, h *hostDirs, req map[string]any) goResult {
	t.Helper()
	in, _ := json.Marshal(req)
	out, err := call(t, pl, h, "attack", in)
	if err != nil {
		t.Fatalf("attack %s: %v", in, err)
	}
	var r goResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("attack %s: output %q: %v", in, out, err)
	}
	return r
}

// denialOf returns the *policy.Denial reachable from a call error.
func denialOf(err error) *policy.Denial {
	var d *policy.Denial
	if errors.As(err, &d) {
		return d
	}
	return nil
}

func jsonStr(s string) string { b, _ := json.Marshal(s); return string(b) }

func urlQuery(s string) string { return url.QueryEscape(s) }

// fmtSscanf reads "<ok>/<count>".
func fmtSscanf(s string, ok *int) (int, error) { return fmt.Sscanf(s, "%d/", ok) }
