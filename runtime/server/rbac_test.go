package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/config"
	"github.com/reefhq/reef/runtime/server"
)

// TestRBACMatrix runs every role (and no/unknown token) against every
// endpoint. The expectations are written out by hand, independent of the
// server's matrix, so a change to the matrix must change this table too.
func TestRBACMatrix(t *testing.T) {
	h := startServer(t, harnessOpts{grants: "skills: {}\n"})
	type ep struct {
		name, method, path, body string
	}
	eps := []ep{
		{"invoke hello", "POST", "/v1/skills/hello/functions/echo", `{"x":1}`},
		{"invoke greet", "POST", "/v1/skills/greet/functions/greet", `x`},
		{"invoke slow", "POST", "/v1/skills/slow/functions/ok", ``},
		{"list", "GET", "/v1/skills", ``},
		{"inspect hello", "GET", "/v1/skills/hello", ``},
		{"inspect slow", "GET", "/v1/skills/slow", ``},
		{"reload", "POST", "/v1/reload", ``},
		{"grants get", "GET", "/v1/grants", ``},
		{"grants put", "PUT", "/v1/grants", "skills: {}\n"},
		{"metrics", "GET", "/metrics", ``},
		{"healthz", "GET", "/healthz", ``},
		{"readyz", "GET", "/readyz", ``},
		{"unknown path", "GET", "/v2/nothing", ``},
	}
	const (
		ok  = 200
		u   = 401
		f   = 403
		nf  = 404
		bad = -1
	)
	// roles: admin, operator, invoker (hello, gre*), viewer (hello), none, unknown token
	want := map[string][6]int{
		"invoke hello":  {ok, ok, ok, f, u, u},
		"invoke greet":  {ok, ok, ok, f, u, u},
		"invoke slow":   {ok, ok, f, f, u, u},
		"list":          {ok, ok, ok, ok, u, u},
		"inspect hello": {ok, ok, ok, ok, u, u},
		"inspect slow":  {ok, ok, f, f, u, u},
		"reload":        {ok, ok, f, f, u, u},
		"grants get":    {ok, ok, f, f, u, u},
		"grants put":    {ok, ok, f, f, u, u},
		"metrics":       {ok, ok, f, ok, u, u},
		"healthz":       {ok, ok, ok, ok, ok, ok},
		"readyz":        {ok, ok, ok, ok, ok, ok},
		"unknown path":  {nf, nf, nf, nf, u, u},
	}
	roles := []struct{ name, tok string }{
		{"admin", tokAdmin}, {"operator", tokOperator}, {"invoker", tokInvoker}, {"viewer", tokViewer}, {"none", ""}, {"unknown", "not-a-token"},
	}
	for _, e := range eps {
		for i, role := range roles {
			t.Run(fmt.Sprintf("%s/%s", e.name, role.name), func(t *testing.T) {
				r := h.do(e.method, e.path, role.tok, []byte(e.body))
				if r.Status != want[e.name][i] {
					t.Fatalf("status %d, want %d: %s", r.Status, want[e.name][i], r.Body)
				}
				switch r.Status {
				case u:
					p := r.problem(t)
					if p.Code != server.CodeUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
						t.Fatalf("401 without code unauthorized / WWW-Authenticate: %s", r.Body)
					}
				case f:
					if p := r.problem(t); p.Code != server.CodeForbidden {
						t.Fatalf("403 with code %q", p.Code)
					}
				}
			})
		}
	}
	// The list a scoped token sees holds only its skills.
	r := h.do("GET", "/v1/skills", tokViewer, nil)
	if r.Status != http.StatusOK || !containsAll(string(r.Body), `"name": "hello"`) || containsAll(string(r.Body), `"name": "slow"`) {
		t.Fatalf("viewer list: %s", r.Body)
	}
}

func TestAuthHeaderForms(t *testing.T) {
	h := startServer(t, harnessOpts{})
	cases := []struct {
		header string
		status int
	}{
		{"Bearer " + tokAdmin, 200},
		{"bearer " + tokAdmin, 200},
		{"Bearer  " + tokAdmin + " ", 200},
		{"Basic " + tokAdmin, 401},
		{"Bearer " + tokAdmin[:len(tokAdmin)-1], 401}, // a prefix of a real token
		{"Bearer " + tokAdmin + "x", 401},
		{"Bearer", 401},
		{tokAdmin, 401},
		{"Bearer " + server.HashToken(tokAdmin), 401}, // the stored hash is not a credential
	}
	for _, c := range cases {
		r := h.do("GET", "/v1/skills", "", nil, "Authorization", c.header)
		if r.Status != c.status {
			t.Errorf("Authorization %q: status %d, want %d", c.header, r.Status, c.status)
		}
	}
}

// TestNoTokensRefusesEverything: a server without any token configured
// answers only the probes.
func TestNoTokensRefusesEverything(t *testing.T) {
	h := startServer(t, harnessOpts{noTokens: true})
	for _, p := range []string{"/v1/skills", "/metrics", "/v1/grants"} {
		if r := h.do("GET", p, "anything", nil); r.Status != 401 {
			t.Errorf("%s: %d", p, r.Status)
		}
	}
	if r := h.do("GET", "/healthz", "", nil); r.Status != 200 {
		t.Errorf("healthz: %d", r.Status)
	}
}

func TestHostAndOrigin(t *testing.T) {
	h := startServer(t, harnessOpts{cfg: func(c *configT) {
		c.Server.AllowedHosts = []string{"reef.internal", "*.corp.example"}
		c.Server.AllowedOrigins = []string{"https://console.corp.example"}
	}})
	port := h.URL[len("http://127.0.0.1:"):]
	cases := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"ip literal", []string{"Host", "127.0.0.1:" + port}, 200},
		{"localhost", []string{"Host", "localhost:" + port}, 200},
		{"ipv6 loopback", []string{"Host", "[::1]:" + port}, 200},
		{"allowed name", []string{"Host", "reef.internal"}, 200},
		{"allowed wildcard", []string{"Host", "api.corp.example:443"}, 200},
		{"wildcard needs a label", []string{"Host", "corp.example"}, 403},
		{"dns rebinding", []string{"Host", "evil.example:" + port}, 403},
		{"rebinding lookalike", []string{"Host", "localhost.evil.example"}, 403},
		{"same origin", []string{"Origin", "http://127.0.0.1:" + port}, 200},
		{"cross origin", []string{"Origin", "https://evil.example"}, 403},
		{"null origin", []string{"Origin", "null"}, 403},
		{"allowed origin", []string{"Origin", "https://console.corp.example"}, 200},
		{"cross-site fetch without origin", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"same-site fetch", []string{"Sec-Fetch-Site", "same-origin"}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", "/v1/skills/hello/functions/echo", tokAdmin, []byte(`1`), c.hdr...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status == 403 && r.problem(t).Code != server.CodeForbidden {
				t.Fatalf("code: %s", r.Body)
			}
		})
	}
	// The probes are host-checked too, and a preflight from an allowed
	// origin is answered without a token.
	if r := h.do("GET", "/healthz", "", nil, "Host", "evil.example"); r.Status != 403 {
		t.Fatalf("healthz with rebinding host: %d", r.Status)
	}
	r := h.do("OPTIONS", "/v1/skills", "", nil, "Origin", "https://console.corp.example", "Access-Control-Request-Method", "GET")
	if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://console.corp.example" {
		t.Fatalf("preflight: %d %v", r.Status, r.Header)
	}
	r = h.do("OPTIONS", "/v1/skills", "", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "GET")
	if r.Status != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from a foreign origin: %d %v", r.Status, r.Header)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// TestEmptyHost: HTTP/1.0 requests may omit Host; they are refused (the
// client library always sends one, so this goes to the handler directly).
func TestEmptyHost(t *testing.T) {
	srv, err := server.New(server.WithConfig(&config.Config{Auth: config.Auth{Tokens: testTokens()}}))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/skills", nil)
	req.Host = ""
	req.Header.Set("Authorization", "Bearer "+tokAdmin)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != 403 {
		t.Fatalf("empty Host: %d", w.Code)
	}
}
