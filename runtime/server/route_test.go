package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// muxInvoke reports what the mux routes a POST of target to: the invoke
// pattern's name and fn, or ok false.
func muxInvoke(t testing.TB, target string) (name, fn string, ok bool) {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/skills/{name}/functions/{fn}", func(w http.ResponseWriter, r *http.Request) {
		name, fn, ok = r.PathValue("name"), r.PathValue("fn"), true
	})
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1"+target, nil)
	mux.ServeHTTP(httptest.NewRecorder(), r)
	return name, fn, ok
}

// TestInvokePathMatchesMux: the hot-path router never accepts a path the
// mux would route elsewhere, redirect, or split differently.
func TestInvokePathMatchesMux(t *testing.T) {
	for _, target := range []string{
		"/v1/skills/greet/functions/greet",
		"/v1/skills/web-text/functions/run",
		"/v1/skills/a/functions/b/",
		"/v1/skills/a/functions/",
		"/v1/skills//functions/b",
		"/v1/skills/./functions/b",
		"/v1/skills/../functions/b",
		"/v1/skills/a/functions/..",
		"/v1/skills/a/functions/.",
		"/v1/skills/a/../a/functions/b",
		"/v1/skills/a%2Fb/functions/c",
		"/v1/skills/a%20b/functions/c",
		"/v1/skills/a/functions/b%2F..",
		"/v1/skills/a/functionsx/b",
		"/v1/skills/a/b/functions/c",
		"/v1/skills/a/functions/b?x=1",
		"//v1/skills/a/functions/b",
		"/v1/skills/a/functions//b",
		"/v1/skills/ä/functions/b",
	} {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1"+target, nil)
		name, fn, ok := invokePath(r)
		if !ok {
			continue // the mux decides
		}
		mname, mfn, mok := muxInvoke(t, target)
		if !mok || mname != name || mfn != fn {
			t.Errorf("%s: fast path (%q, %q), mux (%q, %q, routed %v)", target, name, fn, mname, mfn, mok)
		}
	}
	if _, _, ok := invokePath(httptest.NewRequest(http.MethodGet, "/v1/skills/a/functions/b", nil)); ok {
		t.Error("GET took the invoke fast path")
	}
}

func FuzzInvokePath(f *testing.F) {
	f.Add("/v1/skills/greet/functions/greet")
	f.Add("/v1/skills/a/../b/functions/c")
	f.Add("/v1/skills/%2e%2e/functions/c")
	f.Fuzz(func(t *testing.T, target string) {
		if len(target) == 0 || target[0] != '/' {
			return
		}
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1"+target, nil)
		if err != nil {
			return
		}
		name, fn, ok := invokePath(r)
		if !ok {
			return
		}
		mname, mfn, mok := muxInvoke(t, r.URL.RequestURI())
		if !mok || mname != name || mfn != fn {
			t.Fatalf("%s: fast path (%q, %q), mux (%q, %q, routed %v)", target, name, fn, mname, mfn, mok)
		}
	})
}
