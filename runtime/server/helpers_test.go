package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reefhq/reef/internal/netguard"
	"github.com/reefhq/reef/runtime/config"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/metrics"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/registry"
	"github.com/reefhq/reef/runtime/server"
	"github.com/reefhq/reef/runtime/server/servertest"
	"github.com/reefhq/reef/runtime/skill"
)

// Tokens of the test servers, one per role.
const (
	tokAdmin    = "admin-secret-token"
	tokOperator = "operator-secret-token"
	tokInvoker  = "invoker-secret-token" // skills: hello, gre*
	tokViewer   = "viewer-secret-token"  // skills: hello
)

func testTokens() []config.Token {
	return []config.Token{
		{Name: "root", Role: "admin", Hash: server.HashToken(tokAdmin)},
		{Name: "ops", Role: "operator", Hash: server.HashToken(tokOperator)},
		{Name: "bot", Role: "invoker", Hash: server.HashToken(tokInvoker), Skills: []string{"hello", "gre*"}},
		{Name: "dash", Role: "viewer", Hash: server.HashToken(tokViewer), Skills: []string{"hello"}},
	}
}

// engineFixture reads a Wasm fixture built by `make testdata`.
func engineFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "engine", "testdata", name+".wasm"))
	if err != nil {
		t.Fatalf("fixture %s: %v (run `make testdata` to build the Wasm fixtures)", name, err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeBundle writes a skill folder: SKILL.md, reef.yaml and the module.
func writeBundle(t testing.TB, dir, name, manifest string, wasm []byte) {
	t.Helper()
	d := filepath.Join(dir, name)
	writeFile(t, filepath.Join(d, "SKILL.md"), []byte(fmt.Sprintf("---\nname: %s\ndescription: Test skill %s.\nmetadata:\n  version: \"1.0.0\"\n---\n# %s\n", name, name, name)))
	writeFile(t, filepath.Join(d, "reef.yaml"), []byte(manifest))
	writeFile(t, filepath.Join(d, name+".wasm"), wasm)
}

// skillDir builds the standard test library:
//
//	hello   bundle of greet.wasm: greet (input schema: a JSON string), echo, fail, count
//	greet   bare greet.wasm
//	slow    bundle of hostile.wasm with a 300ms timeout: ok, loop, trap, bigout
//	deny    bare module calling Extism http_request, which no grant allows
//	spin    bare module busy for len(input)×1M iterations
func skillDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	writeBundle(t, dir, "hello", `wasm: hello.wasm
functions:
  - name: greet
    description: Greets.
    input: { type: string, minLength: 1 }
  - name: echo
  - name: fail
  - name: count
limits: { timeout: 2s, output: 1MiB }
`, engineFixture(t, "greet"))
	writeFile(t, filepath.Join(dir, "greet.wasm"), engineFixture(t, "greet"))
	writeBundle(t, dir, "slow", `wasm: slow.wasm
functions:
  - name: ok
  - name: loop
  - name: trap
  - name: bigout
limits: { timeout: 300ms, output: 64KiB }
`, engineFixture(t, "hostile"))
	writeFile(t, filepath.Join(dir, "deny.wasm"), servertest.DenyWasm())
	writeFile(t, filepath.Join(dir, "spin.wasm"), servertest.SpinWasm())
	return dir
}

// harness is a running server on 127.0.0.1 with its parts.
type harness struct {
	t        testing.TB
	URL      string
	Server   *server.Server
	Registry *registry.Registry
	Prom     *prometheus.Registry
	SkillDir string
	Grants   string
	Audit    *auditLog
	Logs     *bytes.Buffer
	client   *http.Client
	cancel   context.CancelFunc
	done     chan error
	swaps    atomic.Int64
}

type auditLog struct {
	ch chan server.AdminAction
}

// harnessOpts tune a harness.
type harnessOpts struct {
	cfg      func(*config.Config)
	dir      string
	watch    bool
	grants   string
	extra    []server.Option
	noTokens bool
	quiet    bool // log at info (benchmarks): no per-request lines
}

func startServer(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	ctx := context.Background()
	if o.dir == "" {
		o.dir = skillDir(t)
	}
	cfgDir := t.TempDir()
	h := &harness{t: t, SkillDir: o.dir, Grants: filepath.Join(cfgDir, "grants.yaml"), Audit: &auditLog{ch: make(chan server.AdminAction, 1000)}, Logs: &bytes.Buffer{}}
	if o.grants != "" {
		writeFile(t, h.Grants, []byte(o.grants))
	}
	prom := prometheus.NewRegistry()
	var reg *registry.Registry
	m := metrics.New(prom, metrics.Options{Version: "test", Source: func() metrics.Snapshot { return metrics.RegistrySnapshot(reg) }})
	eng, err := engine.New(ctx, engine.NewConfig().WithRecorder(m.Recorder()))
	if err != nil {
		t.Fatal(err)
	}
	grants, err := policy.LoadGrants(h.Grants)
	if err != nil {
		t.Fatal(err)
	}
	reg = registry.New(registry.Options{Dir: o.dir, Engine: eng, Grants: grants, Recorder: m.Recorder(),
		OnLoadError: func(name string, err error) { m.LoadError(name) },
		OnSwap: func(name string, removed bool) {
			h.swaps.Add(1)
			if removed {
				m.Forget(name)
			}
		}})
	cfg := &config.Config{Listen: "127.0.0.1:0", MaxWorkers: 4}
	if !o.noTokens {
		cfg.Auth.Tokens = testTokens()
	}
	cfg.Server.ShutdownTimeout = skill.Duration(5 * time.Second)
	if o.cfg != nil {
		o.cfg(cfg)
	}
	level := slog.LevelDebug
	if o.quiet {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(&syncWriter{b: h.Logs}, &slog.HandlerOptions{Level: level}))
	opts := []server.Option{server.WithRegistry(reg), server.WithConfig(cfg), server.WithMetrics(m, prom), server.WithLogger(logger),
		server.WithGrantsFile(h.Grants), server.WithAudit(func(a server.AdminAction) { h.Audit.ch <- a }), server.WithVersion("test")}
	if o.watch {
		opts = append(opts, server.WithWatch(20*time.Millisecond))
	}
	opts = append(opts, o.extra...)
	srv, err := server.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	h.URL, h.Server, h.Registry, h.Prom, h.cancel, h.done = "http://"+ln.Addr().String(), srv, reg, prom, cancel, make(chan error, 1)
	go func() { h.done <- srv.Serve(sctx, ln) }()
	guard := netguard.New(t)
	h.client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: guard.Dialer().DialContext, MaxIdleConnsPerHost: 64}}
	t.Cleanup(func() {
		h.stop()
		reg.Close()
		_ = eng.Close(context.Background())
		if t.Failed() {
			t.Logf("server log:\n%s", h.Logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := h.client.Get(h.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return h
}

// stop cancels Serve and waits for it.
func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Serve: %v", err)
		}
		h.done <- nil
	case <-time.After(15 * time.Second):
		h.t.Errorf("Serve did not return")
	}
}

// response is a finished request.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) problem(t testing.TB) server.Problem {
	t.Helper()
	var p server.Problem
	if ct := r.Header.Get("Content-Type"); ct != server.ProblemContentType {
		t.Fatalf("status %d: content type %q, want %s; body %s", r.Status, ct, server.ProblemContentType, r.Body)
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem document: %v: %s", err, r.Body)
	}
	if p.ID == "" || p.ID != r.Header.Get("X-Request-Id") || p.Status != r.Status || p.Code == "" || p.Type == "" || p.Title == "" {
		t.Fatalf("incomplete problem document: %s (X-Request-Id %q)", r.Body, r.Header.Get("X-Request-Id"))
	}
	return p
}

// do sends a request with the given token ("" for none) and headers.
func (h *harness) do(method, path, tok string, body []byte, hdr ...string) *response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (h *harness) invoke(tok, skillName, fn, input string) *response {
	h.t.Helper()
	return h.do("POST", "/v1/skills/"+skillName+"/functions/"+fn, tok, []byte(input))
}

type syncWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
