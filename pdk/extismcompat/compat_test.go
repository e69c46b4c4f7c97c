package extismcompat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	extism "github.com/extism/go-sdk"

	hosthttp "github.com/reefhq/reef/hostfuncs/http"
	"github.com/reefhq/reef/internal/netguard"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

var functions = []string{"greet", "config", "count", "log", "fetch", "fail"}

// logLine is one guest log message as a host saw it.
type logLine struct {
	Level slog.Level
	Msg   string
}

// host runs the plugin under one runtime.
type host interface {
	call(t *testing.T, fn, input string) (string, error)
	logs() []logLine
}

// captureHandler is a slog.Handler that keeps every record.
type captureHandler struct {
	mu    *sync.Mutex
	lines *[]logLine
	attrs []slog.Attr
}

func newCapture() *captureHandler {
	return &captureHandler{mu: &sync.Mutex{}, lines: &[]logLine{}}
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.lines = append(*h.lines, logLine{r.Level, r.Message})
	return nil
}

func (h *captureHandler) WithAttrs(a []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), a...)
	return &c
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

func (h *captureHandler) snapshot() []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logLine(nil), *h.lines...)
}

// noDNS is the tests' resolver: no name resolves (granted hosts are IP
// literals), so no test can reach real DNS.
type noDNS struct{}

func (noDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, fmt.Errorf("stub resolver: no address for %q", host)
}

// reefHost is the plugin under reef's engine with the http module.
type reefHost struct {
	plug *engine.Plugin
	logh *captureHandler
}

// newReef loads the plugin with httpHosts both requested by the manifest
// and granted.
func newReef(t *testing.T, config map[string]string, httpHosts []string) *reefHost {
	t.Helper()
	return newReefWith(t, config, httpHosts, httpHosts)
}

func newReefWith(t *testing.T, config map[string]string, requested, granted []string) *reefHost {
	t.Helper()
	ctx := context.Background()
	logh := newCapture()
	mod := hosthttp.New(hosthttp.Options{Dialer: netguard.New(t).Dialer(), Resolver: noDNS{}})
	eng, err := engine.New(ctx, engine.NewConfig().WithLogger(slog.New(logh)).WithModules(mod))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(ctx) })
	fns := make([]skill.Function, len(functions))
	for i, f := range functions {
		fns[i] = skill.Function{Name: f}
	}
	s := &skill.Skill{
		Name:   "extism-as",
		Bare:   false,
		Wasm:   pluginWasm,
		Digest: digest(pluginWasm),
		Manifest: skill.Manifest{
			Functions: fns,
		},
	}
	if requested != nil {
		s.Manifest.Capabilities.HTTP = &skill.HTTPRequest{Hosts: requested}
	}
	g := &policy.Grant{}
	if granted != nil {
		g.HTTP = &policy.HostGrant{Hosts: granted}
	}
	pol, err := policy.Compute(s, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	plug, err := eng.Load(ctx, s, pol, engine.LoadOptions{Config: config})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plug.Close(ctx) })
	return &reefHost{plug: plug, logh: logh}
}

func (h *reefHost) call(t *testing.T, fn, input string) (string, error) {
	t.Helper()
	out, err := h.plug.Call(context.Background(), fn, []byte(input))
	return string(out), err
}

func (h *reefHost) logs() []logLine { return h.logh.snapshot() }

// extismHost is the plugin under the Extism Go SDK.
type extismHost struct {
	plug *extism.Plugin
	mu   sync.Mutex
	log  []logLine
}

var extismLevels = map[extism.LogLevel]slog.Level{
	extism.LogLevelTrace: slog.LevelDebug - 4, extism.LogLevelDebug: slog.LevelDebug,
	extism.LogLevelInfo: slog.LevelInfo, extism.LogLevelWarn: slog.LevelWarn, extism.LogLevelError: slog.LevelError,
}

func newExtism(t *testing.T, config map[string]string, allowedHosts []string) *extismHost {
	t.Helper()
	ctx := context.Background()
	extism.SetLogLevel(extism.LogLevelInfo) // reef's default guest log level
	m := extism.Manifest{
		Wasm:         []extism.Wasm{extism.WasmData{Data: pluginWasm}},
		Config:       config,
		AllowedHosts: allowedHosts,
	}
	plug, err := extism.NewPlugin(ctx, m, extism.PluginConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plug.Close(ctx) })
	h := &extismHost{plug: plug}
	plug.SetLogger(func(l extism.LogLevel, msg string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.log = append(h.log, logLine{extismLevels[l], msg})
	})
	return h
}

func (h *extismHost) call(t *testing.T, fn, input string) (string, error) {
	t.Helper()
	_, out, err := h.plug.Call(fn, []byte(input))
	return string(out), err
}

func (h *extismHost) logs() []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logLine(nil), h.log...)
}

type step struct {
	fn, input string
	want      string // output when wantErr is empty
	wantErr   string // substring of the error
}

// run plays steps in order on one plugin per host and checks each host
// against the expectation and against the other host.
func run(t *testing.T, hosts map[string]host, steps []step) {
	t.Helper()
	for i, st := range steps {
		outs := map[string]string{}
		errs := map[string]error{}
		for name, h := range hosts {
			out, err := h.call(t, st.fn, st.input)
			outs[name], errs[name] = out, err
			switch {
			case st.wantErr == "" && err != nil:
				t.Errorf("step %d %s(%q) under %s: unexpected error %v", i, st.fn, st.input, name, err)
			case st.wantErr == "" && out != st.want:
				t.Errorf("step %d %s(%q) under %s: output %q, want %q", i, st.fn, st.input, name, out, st.want)
			case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)):
				t.Errorf("step %d %s(%q) under %s: error %v, want one containing %q", i, st.fn, st.input, name, err, st.wantErr)
			}
		}
		if len(hosts) < 2 {
			continue
		}
		if outs["reef"] != outs["extism"] || (errs["reef"] == nil) != (errs["extism"] == nil) {
			t.Errorf("step %d %s(%q): hosts disagree: reef (%q, %v), extism (%q, %v)", i, st.fn, st.input, outs["reef"], errs["reef"], outs["extism"], errs["extism"])
		}
		if st.wantErr != "" {
			if k := engine.KindOf(errs["reef"]); k != engine.KindGuest {
				t.Errorf("step %d %s: reef error kind %v, want %v", i, st.fn, k, engine.KindGuest)
			}
		}
	}
}

func TestAgree(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]string
		steps  []step
	}{
		{
			name:   "with config",
			config: map[string]string{"greeting": "Ahoy"},
			steps: []step{
				{fn: "greet", input: "reef", want: "Hello, reef!"},
				{fn: "greet", input: "", want: "Hello, !"},
				{fn: "config", want: "Ahoy"},
				{fn: "count", want: "1"},
				{fn: "count", want: "2"},
				{fn: "fail", input: "x", wantErr: "failed on purpose: x"},
				{fn: "count", want: "3"}, // vars survive a failed call
				{fn: "greet", input: "again", want: "Hello, again!"},
				{fn: "config", want: "Ahoy"},
			},
		},
		{
			name:   "without config",
			config: nil,
			steps: []step{
				{fn: "config", wantErr: "config key greeting is not set"},
				{fn: "count", want: "1"},
			},
		},
		{
			name:   "other config key only",
			config: map[string]string{"other": "x"},
			steps: []step{
				{fn: "config", wantErr: "config key greeting is not set"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, map[string]host{
				"reef":   newReef(t, tt.config, nil),
				"extism": newExtism(t, tt.config, nil),
			}, tt.steps)
		})
	}
}

// TestNonASCIIOutput: @extism/as-pdk 1.0.0's Host.outputString allocates
// s.length (UTF-16 code units) bytes but stores the longer UTF-8 encoding.
// Extism hosts let the store run past the block and return the truncated
// output (invalid UTF-8 here); reef's kernel tolerates the same overrun
// into its arena's spare capacity, so both return the same bytes.
func TestNonASCIIOutput(t *testing.T) {
	reef, ext := newReef(t, nil, nil), newExtism(t, nil, nil)
	want := "Hello, w\u00f6rld \xe2"
	out, err := ext.call(t, "greet", "wörld ✓")
	if err != nil || out != want {
		t.Errorf("extism: (%q, %v), want the truncated %q (as-pdk bug); if as-pdk was fixed, move this case to TestAgree", out, err, want)
	}
	out, err = reef.call(t, "greet", "wörld ✓")
	if err != nil || out != want {
		t.Errorf("reef: (%q, %v), want what extism returns, %q", out, err, want)
	}
	run(t, map[string]host{"reef": reef, "extism": ext}, []step{{fn: "greet", input: "again", want: "Hello, again!"}})
}

// TestVarsPerPlugin checks that vars belong to one loaded plugin: a
// second plugin of the same module starts from scratch in both hosts.
func TestVarsPerPlugin(t *testing.T) {
	for range 2 {
		run(t, map[string]host{"reef": newReef(t, nil, nil), "extism": newExtism(t, nil, nil)}, []step{
			{fn: "count", want: "1"},
			{fn: "count", want: "2"},
		})
	}
}

func TestLogging(t *testing.T) {
	hosts := map[string]host{"reef": newReef(t, nil, nil), "extism": newExtism(t, nil, nil)}
	run(t, hosts, []step{{fn: "log", input: "hï ✓", want: "logged"}})
	want := []logLine{{slog.LevelInfo, "info: hï ✓"}, {slog.LevelWarn, "warn: hï ✓"}}
	for name, h := range hosts {
		got := h.logs()
		if len(got) != len(want) {
			t.Fatalf("%s logged %v, want %v", name, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s log %d = %v, want %v", name, i, got[i], want[i])
			}
		}
	}
}

// server is a loopback HTTP server that counts the requests it receives.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t *testing.T, body string) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if r.URL.Path == "/missing" {
			http.Error(w, "nope", http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, body+" "+r.Method+" "+r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestHTTPRequest(t *testing.T) {
	granted := newServer(t, "granted")
	other := newServer(t, "other")
	hosts := map[string]host{
		"reef":   newReef(t, nil, []string{granted.URL}), // http://127.0.0.1:PORT
		"extism": newExtism(t, nil, []string{"127.0.0.1"}),
	}
	run(t, hosts, []step{
		{fn: "fetch", input: granted.URL + "/hello", want: "200 granted GET /hello"},
		{fn: "fetch", input: granted.URL + "/missing", want: "404 nope\n"},
		{fn: "greet", input: "after http", want: "Hello, after http!"},
	})
	if n := granted.hits.Load(); n != 4 {
		t.Errorf("granted server got %d requests, want 4 (2 per host)", n)
	}

	// reef pins the grant to the scheme and port: another loopback port is
	// refused before any connection. (Extism's allowed_hosts name hosts
	// only, so it would allow this port; it is not asked.)
	reef := hosts["reef"]
	for _, u := range []string{
		other.URL + "/secret",
		strings.Replace(other.URL, "127.0.0.1", "localhost", 1) + "/secret",
		strings.Replace(granted.URL, "http://", "https://", 1) + "/hello",
	} {
		out, err := reef.call(t, "fetch", u)
		if err == nil {
			t.Fatalf("reef fetched non-granted %s: %q", u, out)
		}
		var d *policy.Denial
		if !errors.As(err, &d) {
			t.Errorf("fetch %s: error %v (%T) holds no *policy.Denial", u, err, err)
			continue
		}
		t.Logf("fetch %s refused: %v", u, d)
		if d.Capability != policy.CapHTTP {
			t.Errorf("fetch %s: denial capability %q, want %q", u, d.Capability, policy.CapHTTP)
		}
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("non-granted server received %d requests", n)
	}
	// The plugin keeps working after a denial.
	run(t, map[string]host{"reef": reef}, []step{
		{fn: "fetch", input: granted.URL + "/still", want: "200 granted GET /still"},
	})
}

// TestHTTPRequestNotRequested checks that the operator's grant alone does
// not open a host the skill's manifest did not request, and vice versa.
func TestHTTPRequestNotRequested(t *testing.T) {
	srv := newServer(t, "srv")
	for _, tc := range []struct {
		name             string
		requested, grant []string
	}{
		{"requested, not granted", []string{srv.URL}, nil},
		{"granted, not requested", nil, []string{srv.URL}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newReefWith(t, nil, tc.requested, tc.grant)
			_, err := h.call(t, "fetch", srv.URL+"/x")
			var d *policy.Denial
			if !errors.As(err, &d) {
				t.Fatalf("error %v holds no *policy.Denial", err)
			}
		})
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("server received %d requests", n)
	}
}
