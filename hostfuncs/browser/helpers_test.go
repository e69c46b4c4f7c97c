package hostbrowser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
	hosthttp "github.com/reefhq/reef/hostfuncs/http"
	"github.com/reefhq/reef/internal/netguard"
	"github.com/reefhq/reef/runtime/hostmatch"
	"github.com/reefhq/reef/runtime/policy"
)

// stubResolver answers from a fixed table and never touches real DNS.
type stubResolver map[string][]netip.Addr

func (s stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := s[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("stub resolver: no such host %q", host)
}

// testResolver maps test names: metadata.test and rebind.test point at
// addresses names must never reach.
var testResolver = stubResolver{
	"metadata.test": {netip.MustParseAddr("169.254.169.254")},
	"rebind.test":   {netip.MustParseAddr("127.0.0.1")},
	"localhost":     {netip.MustParseAddr("127.0.0.1")},
}

// env is the state shared by every test of the binary: one browser, two
// loopback servers. A is granted, B ("other") is never granted and
// records every hit.
type env struct {
	mod   *Module
	guard *netguard.Guard
	a     *httptest.Server
	b     *httptest.Server
	bHits atomic.Int64
	// beacons counts requests of A's /beacon page (one every 20 ms
	// while the page lives and can reach A).
	beacons atomic.Int64
	mu      sync.Mutex
	bLog    []string
}

var shared *env

// TestMain starts the shared servers; the browser itself starts lazily
// on the first call (one per test binary).
func TestMain(m *testing.M) {
	e := &env{guard: &netguard.Guard{}}
	e.b = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.bHits.Add(1)
		e.mu.Lock()
		e.bLog = append(e.bLog, r.Method+" "+r.URL.String())
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><body><p>SECRET-FROM-B</p></body></html>")
	}))
	e.a = httptest.NewServer(pagesA(e))
	guard := &hosthttp.Guard{Resolver: testResolver, Dialer: e.guard.Dialer()}
	e.mod = New(Options{Dial: guard.DialContext, CallTimeout: 20 * time.Second, SelectorTimeout: time.Second})
	shared = e
	code := m.Run()
	if err := e.mod.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
	}
	e.a.Close()
	e.b.Close()
	if r := e.guard.Refused(); len(r) > 0 {
		fmt.Fprintln(os.Stderr, "netguard: tests attempted non-loopback connections:", r)
		code = 1
	}
	os.Exit(code)
}

func (e *env) portA() string { return e.a.Listener.Addr().String()[len("127.0.0.1:"):] }
func (e *env) portB() string { return e.b.Listener.Addr().String()[len("127.0.0.1:"):] }

// urlA returns a URL on the granted server.
func (e *env) urlA(path string) string { return e.a.URL + path }

// urlB returns a URL on the other server.
func (e *env) urlB(path string) string { return e.b.URL + path }

// hitsB runs f and returns how many requests B saw meanwhile.
func (e *env) hitsB(f func()) (int64, []string) {
	e.mu.Lock()
	start := len(e.bLog)
	e.mu.Unlock()
	before := e.bHits.Load()
	f()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bHits.Load() - before, append([]string(nil), e.bLog[start:]...)
}

// pagesA is the granted server's site.
func pagesA(e *env) http.Handler {
	mux := http.NewServeMux()
	html := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><html><head><meta charset=utf-8><title>t</title></head><body>"+body+"</body></html>")
	}
	b := func(path string) string { return e.b.URL + path }
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<h1>Hello reef</h1><p id="x" data-k="v">Grüße, <b>world</b></p><p style="display:none">hidden text</p>`)
	})
	mux.HandleFunc("/box", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<style>body{margin:0}</style><div id="box" style="width:100px;height:50px;background:#c00;margin:20px"></div>`)
	})
	mux.HandleFunc("/tall", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<style>body{margin:0}</style><div style="width:300px;height:2000px;background:linear-gradient(#fff,#00f)">tall</div>`)
	})
	mux.HandleFunc("/subres", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<p>page with foreign subresources</p><img src="`+b("/img.png")+`"><script src="`+b("/x.js")+`"></script>
<link rel="stylesheet" href="`+b("/x.css")+`"><script>fetch("`+b("/xhr")+`").catch(()=>{});</script>`)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, b("/landing"), http.StatusFound)
	})
	mux.HandleFunc("/redirect-local", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hello", http.StatusFound)
	})
	mux.HandleFunc("/iframe", func(w http.ResponseWriter, r *http.Request) {
		lh := strings.Replace(b("/frame2"), "127.0.0.1", "localhost", 1)
		html(w, `<p>frames</p><iframe src="`+b("/frame")+`"></iframe><iframe src="`+lh+`"></iframe>`)
	})
	mux.HandleFunc("/popup", func(w http.ResponseWriter, r *http.Request) {
		lh := strings.Replace(b("/popup2"), "127.0.0.1", "localhost", 1)
		html(w, `<button id="open" onclick="window.open('`+b("/popup")+`'); window.open('`+lh+`'); setTimeout(()=>{document.getElementById('done').style.display='block'}, 500)">open</button>
<p id="done" style="display:none">done</p>`)
	})
	mux.HandleFunc("/tofile", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<p id="t">stayed</p><a id="l" href="file:///etc/passwd">passwd</a><iframe src="file:///etc/passwd"></iframe><script>try{location.href="file:///etc/passwd"}catch(e){}</script>`)
	})
	mux.HandleFunc("/metadata", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<p id="m">probing</p><img src="http://169.254.169.254/latest/meta-data/x.png"><img src="http://metadata.test/latest/meta-data/y.png">
<script>Promise.allSettled([fetch("http://169.254.169.254/latest/meta-data/"), fetch("http://metadata.test/latest/meta-data/"), fetch("http://rebind.test:`+e.portA()+`/hello")]).then(()=>{document.getElementById("m").id="mdone"})</script>`)
	})
	mux.HandleFunc("/setcookie", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s3cr3t", Path: "/", MaxAge: 3600})
		html(w, `<p>cookie set</p><script>localStorage.setItem("k","stored-value")</script>`)
	})
	mux.HandleFunc("/showcookie", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<p>cookie=[`+r.Header.Get("Cookie")+`]</p><p id="ls"></p><script>document.getElementById("ls").textContent="ls=["+(localStorage.getItem("k")||"")+"]"</script>`)
	})
	mux.HandleFunc("/form", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<form action="/submit" method="post"><input id="q" name="q"><input id="n" name="n" value="1"><button id="go" type="submit">go</button></form>`)
	})
	mux.HandleFunc("/submit", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "post only", http.StatusMethodNotAllowed)
			return
		}
		html(w, `<p id="result" data-method="`+r.Method+`">got: `+template(r.FormValue("q"))+` n=`+template(r.FormValue("n"))+`</p>`)
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="evil.sh"`)
		_, _ = io.WriteString(w, "#!/bin/sh\necho pwned\n")
	})
	mux.HandleFunc("/beacon", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<p>beacon</p><img src="/beacon-hit?load"><script>setInterval(()=>fetch("/beacon-hit?"+Date.now()).catch(()=>{}), 20)</script>`)
	})
	mux.HandleFunc("/beacon-hit", func(w http.ResponseWriter, r *http.Request) {
		e.beacons.Add(1)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><body><p>loading forever")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	})
	return mux
}

// template escapes text for HTML.
func template(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

// decisions records policy decisions of a test.
type decisions struct {
	mu sync.Mutex
	l  []policy.Decision
}

func (d *decisions) Record(x policy.Decision) {
	d.mu.Lock()
	d.l = append(d.l, x)
	d.mu.Unlock()
}

// denied returns the denied values that contain substr.
func (d *decisions) denied(substr string) []policy.Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []policy.Decision
	for _, x := range d.l {
		if !x.Allowed && strings.Contains(x.Value, substr) {
			out = append(out, x)
		}
	}
	return out
}

// testPolicy grants the browser the given host patterns (requested and
// granted alike).
func testPolicy(t testing.TB, eval bool, hosts ...string) (*policy.Policy, *decisions) {
	t.Helper()
	l, err := hostmatch.ParseList(hosts)
	if err != nil {
		t.Fatal(err)
	}
	p := &policy.Policy{Skill: "browser-test", Browser: &policy.HostRule{Requested: l, Granted: l}, Eval: eval}
	d := &decisions{}
	return p.WithRecorder(d), d
}

// testModule is a module of its own (its own browser) with the tests'
// loopback-only dialer and stub resolver; opts.Dial is set here.
func testModule(opts Options) *Module {
	guard := &hosthttp.Guard{Resolver: testResolver, Dialer: shared.guard.Dialer()}
	opts.Dial = guard.DialContext
	return New(opts)
}

// grantA is the pattern that grants server A literally.
func (e *env) grantA() string { return "http://127.0.0.1:" + e.portA() }

// call runs one operation with a fresh call.
func call(t testing.TB, fn string, p *policy.Policy, timeout time.Duration, req string) ([]byte, error) {
	t.Helper()
	return callOn(t, shared.mod, fn, p, timeout, req)
}

// callOn runs one operation on module m with a fresh call.
func callOn(t testing.TB, m *Module, fn string, p *policy.Policy, timeout time.Duration, req string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return callCtx(t, ctx, m, fn, p, req)
}

// hangOn starts a call of text() on a page that never loads, on module
// m, and returns its result channel and the function that ends it (as a
// client going away would). Tests that need a call to hold a context
// while others run end it themselves rather than by a timer, so a slow
// machine cannot end it too early.
func hangOn(t testing.TB, m *Module, p *policy.Policy) (<-chan error, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	hung := make(chan error, 1)
	go func() {
		_, err := callCtx(t, ctx, m, abi.BrowserText, p, `{"url":"`+shared.urlA("/hang")+`"}`)
		hung <- err
	}()
	t.Cleanup(cancel)
	return hung, cancel
}

// callCtx runs one operation on module m with a fresh call under ctx.
func callCtx(t testing.TB, ctx context.Context, m *Module, fn string, p *policy.Policy, req string) ([]byte, error) {
	t.Helper()
	c := abitest.New(ctx, "browser-test", p)
	for _, f := range m.Funcs() {
		if f.Name == fn {
			return f.Handler(c, []byte(req), nil)
		}
	}
	t.Fatalf("no function %s", fn)
	return nil, nil
}

// code returns the guest error code of err.
func code(err error) string {
	if err == nil {
		return ""
	}
	return abi.ToDocument(policy.CapBrowser, err).Code
}

// wantCode fails unless err maps to the guest error code want.
func wantCode(t testing.TB, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

// jsonStr quotes s as a JSON string.
func jsonStr(s string) string {
	b := strings.Builder{}
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var errNoDenial = errors.New("no denial")

// asDenial extracts the policy denial of err.
func asDenial(err error) (*policy.Denial, error) {
	var d *policy.Denial
	if errors.As(err, &d) {
		return d, nil
	}
	return nil, errNoDenial
}
