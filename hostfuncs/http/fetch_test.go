package hosthttp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// testDNS is the stub zone every fetch case uses. Names under .test
// resolve to loopback ("the public internet" of these tests, opened with
// TrustedNets) or to addresses that must never be dialed.
var testDNS = map[string][]string{
	"api.test":       {"127.0.0.1"},
	"other.test":     {"127.0.0.1"},
	"internal.test":  {"10.0.0.1"},
	"metadata.test":  {"169.254.169.254"},
	"alibaba.test":   {"100.100.100.200"},
	"mapped.test":    {"::ffff:127.0.0.1"},
	"nat64.test":     {"64:ff9b::7f00:1"},
	"sixtofour.test": {"2002:7f00:1::1"},
	"teredo.test":    {"2001:0:4136:e378:8000:63bf:3fff:fdd2"},
	"ula.test":       {"fd00::1"},
	"v6lo.test":      {"::1"},
	"mixed.test":     {"127.0.0.1", "10.0.0.1"},
	"zero.test":      {"0.0.0.0"},
	"cgnat.test":     {"100.64.0.1"},
}

type fetchCase struct {
	name string
	req  FetchRequest
	// raw, when set, is sent instead of req.
	raw         string
	body        string
	grant       grantSpec
	trusted     []string
	tune        func(*Options)
	callTimeout time.Duration
	// wantCode is the abi error code, "" for success.
	wantCode string
	// wantIn must appear in the error message (or in the body on success).
	wantIn     string
	wantStatus int
	check      func(t *testing.T, r response, a, b *testServer)
}

func TestFetch(t *testing.T) {
	a, b := newTestServer(t), newTestServer(t)
	subst := strings.NewReplacer("{A}", a.hostPort(), "{AP}", a.port(), "{B}", b.hostPort(), "{BP}", b.port())
	substAll := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = subst.Replace(s)
		}
		return out
	}

	litA := grantSpec{requested: []string{"http://{A}"}, granted: []string{"http://{A}"}}
	litAB := grantSpec{requested: []string{"http://{A}", "http://{B}"}, granted: []string{"http://{A}", "http://{B}"}}
	names := grantSpec{requested: []string{"*.test:{AP}"}, granted: []string{"*.test:{AP}"}}
	loop := []string{"127.0.0.0/8"}
	withSecrets := func(g grantSpec, req, granted []string) grantSpec {
		g.reqSecrets, g.grantSecrets = req, granted
		return g
	}
	methods := func(g grantSpec, ms ...string) grantSpec { g.methods = ms; return g }
	get := func(url string) FetchRequest { return FetchRequest{URL: url} }
	withHeader := func(url, k, v string) FetchRequest {
		return FetchRequest{URL: url, Headers: map[string]string{k: v}}
	}
	secretHeaders := func(url string) FetchRequest {
		return FetchRequest{URL: url, Headers: map[string]string{"X-Api-Key": "{{secret:TOKEN}}", "Authorization": "Bearer {{secret:TOKEN}}"}}
	}
	noRequests := func(srv func(a, b *testServer) *testServer) func(t *testing.T, _ response, a, b *testServer) {
		return func(t *testing.T, _ response, a, b *testServer) {
			if r := srv(a, b).records(); len(r) != 0 {
				t.Errorf("server saw %d requests, want none: %+v", len(r), r)
			}
		}
	}
	serverB := func(a, b *testServer) *testServer { return b }
	tok := testSecrets["TOKEN"]

	cases := []fetchCase{
		// --- allowed requests -------------------------------------------------
		{name: "GET literal grant", req: get("http://{A}/hello"), grant: litA, wantStatus: 200, wantIn: "hello"},
		{name: "POST with body", req: FetchRequest{Method: "POST", URL: "http://{A}/echo"}, body: "payload-123", grant: methods(litA, "GET", "POST"),
			wantStatus: 200, wantIn: `"body":"payload-123"`},
		{name: "lower-case method is normalised", req: FetchRequest{Method: "post", URL: "http://{A}/echo"}, grant: methods(litA, "POST"), wantStatus: 200, wantIn: `"method":"POST"`},
		{name: "granted name inside TrustedNets", req: get("http://api.test:{AP}/echo"), grant: names, trusted: loop, wantStatus: 200, wantIn: `"host":"api.test:`},
		{name: "HEAD of a large resource has no body", req: FetchRequest{Method: "HEAD", URL: "http://{A}/big?n=100000", MaxBytes: 10}, grant: litA, wantStatus: 200},
		{name: "body exactly at the cap", req: FetchRequest{URL: "http://{A}/big?n=1000", MaxBytes: 1000}, grant: litA, wantStatus: 200,
			check: func(t *testing.T, r response, _, _ *testServer) {
				if len(r.body) != 1000 {
					t.Errorf("body %d bytes, want 1000", len(r.body))
				}
			}},

		// --- policy: method, host, port ---------------------------------------
		{name: "method not granted", req: FetchRequest{Method: "POST", URL: "http://{A}/echo"}, grant: litA, wantCode: abi.CodeDenied, wantIn: "method not allowed", check: noRequests(func(a, _ *testServer) *testServer { return a })},
		{name: "host not requested by the skill", req: get("http://{A}/hello"), grant: grantSpec{requested: []string{"http://{B}"}, granted: []string{"http://{A}"}}, wantCode: abi.CodeDenied, wantIn: "not requested"},
		{name: "host requested but not granted", req: get("http://{A}/hello"), grant: grantSpec{requested: []string{"http://{A}"}, granted: []string{"http://{B}"}}, wantCode: abi.CodeDenied, wantIn: "host not granted"},
		{name: "http not granted at all", req: get("http://{A}/hello"), grant: grantSpec{requested: []string{"http://{A}"}, noHTTPGranted: true}, wantCode: abi.CodeDenied, wantIn: "http not granted"},
		{name: "other loopback port not granted", req: get("http://{B}/hello"), grant: litA, wantCode: abi.CodeDenied, check: noRequests(serverB)},
		{name: "https grant does not admit http", req: get("http://{A}/hello"), grant: grantSpec{requested: []string{"https://{A}"}, granted: []string{"https://{A}"}}, wantCode: abi.CodeDenied},

		// --- resolved addresses -----------------------------------------------
		{name: "name resolving to loopback without TrustedNets", req: get("http://api.test:{AP}/hello"), grant: names, wantCode: abi.CodeDenied, wantIn: "loopback"},
		{name: "name resolving to 10.0.0.1", req: get("http://internal.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "private address (10.0.0.0/8)"},
		{name: "name resolving to metadata, even inside TrustedNets", req: get("http://metadata.test:{AP}/"), grant: names, trusted: []string{"127.0.0.0/8", "169.254.0.0/16"}, wantCode: abi.CodeDenied, wantIn: "metadata"},
		{name: "name resolving to Alibaba metadata inside CGNAT TrustedNets", req: get("http://alibaba.test:{AP}/"), grant: names, trusted: []string{"100.64.0.0/10"}, wantCode: abi.CodeDenied, wantIn: "Alibaba"},
		{name: "name resolving to CGNAT", req: get("http://cgnat.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "carrier-grade NAT"},
		{name: "one private answer among good ones", req: get("http://mixed.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "10.0.0.0/8"},
		{name: "IPv4-mapped answer", req: get("http://mapped.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "IPv4-mapped"},
		{name: "NAT64 answer", req: get("http://nat64.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "NAT64"},
		{name: "6to4 answer", req: get("http://sixtofour.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "6to4"},
		{name: "Teredo answer", req: get("http://teredo.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "Teredo"},
		{name: "unique-local answer", req: get("http://ula.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "unique local"},
		{name: "IPv6 loopback answer", req: get("http://v6lo.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "loopback address (::1)"},
		{name: "0.0.0.0 answer", req: get("http://zero.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "unspecified"},

		// --- IP spellings (only names are granted) ------------------------------
		{name: "decimal 2130706433", req: get("http://2130706433:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: `http://127.0.0.1:`},
		{name: "octal 0177.0.0.1", req: get("http://0177.0.0.1:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: `http://127.0.0.1:`},
		{name: "hex 0x7f.1", req: get("http://0x7f.1:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: `http://127.0.0.1:`},
		{name: "hex 0x7F000001", req: get("http://0x7F000001:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: `http://127.0.0.1:`},
		{name: "short 127.1", req: get("http://127.1:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: `http://127.0.0.1:`},
		{name: "mixed 127.0.0x0.01", req: get("http://127.0.0x0.01:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: `http://127.0.0.1:`},
		{name: "trailing dot 127.0.0.1.", req: get("http://127.0.0.1.:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: `http://127.0.0.1:`},
		{name: "IPv4-mapped [::ffff:127.0.0.1]", req: get("http://[::ffff:127.0.0.1]:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: `http://127.0.0.1:`},
		{name: "IPv4-mapped hex [::ffff:7f00:1]", req: get("http://[::ffff:7f00:1]:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: `http://127.0.0.1:`},
		{name: "IPv6 loopback [::1]", req: get("http://[::1]:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied},
		{name: "0.0.0.0", req: get("http://0.0.0.0:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied},
		{name: "metadata 169.254.169.254", req: get("http://169.254.169.254/latest/meta-data/"), grant: names, wantCode: abi.CodeDenied},
		{name: "metadata decimal 2852039166", req: get("http://2852039166/latest/meta-data/"), grant: names, wantCode: abi.CodeDenied, wantIn: "169.254.169.254"},
		{name: "metadata IPv6 fd00:ec2::254", req: get("http://[fd00:ec2::254]/latest/meta-data/"), grant: names, wantCode: abi.CodeDenied},
		{name: "private 10.0.0.1", req: get("http://10.0.0.1/"), grant: names, wantCode: abi.CodeDenied},
		{name: "NAT64 literal of loopback", req: get("http://[64:ff9b::7f00:1]:{AP}/"), grant: names, wantCode: abi.CodeDenied},
		{name: "IPv6 zone refused", req: get("http://[fe80::1%25eth0]:{AP}/"), grant: names, wantCode: abi.CodeInvalid, wantIn: "zone"},
		{name: "five-part numeric host", req: get("http://1.2.3.4.5/"), grant: names, wantCode: abi.CodeInvalid, wantIn: "more than 4 parts"},
		{name: "name ending in a hex number", req: get("http://foo.0x1/"), grant: names, wantCode: abi.CodeInvalid},
		{name: "octet above 255", req: get("http://127.0.0.256/"), grant: names, wantCode: abi.CodeInvalid},
		{name: "percent-encoded host", req: get("http://%31%32%37.0.0.1:{AP}/"), grant: names, wantCode: abi.CodeInvalid},
		{name: "non-ASCII host", req: get("http://exämple.test:{AP}/"), grant: names, wantCode: abi.CodeInvalid, wantIn: "xn--"},
		{name: "decimal spelling of a literal grant is that address", req: get("http://2130706433:{AP}/echo"), grant: litA, wantStatus: 200, wantIn: `"host":"127.0.0.1:`},
		{name: "mapped spelling of a literal grant is that address", req: get("http://[::ffff:127.0.0.1]:{AP}/hello"), grant: litA, wantStatus: 200, wantIn: "hello"},

		// --- redirects ----------------------------------------------------------
		{name: "redirect within the granted host", req: get("http://{A}/redirect?/hello"), grant: litA, wantStatus: 200, wantIn: "hello",
			check: func(t *testing.T, r response, _, _ *testServer) {
				if !strings.HasSuffix(r.meta.URL, "/hello") {
					t.Errorf("final url %q", r.meta.URL)
				}
			}},
		{name: "redirect to a second granted server", req: get("http://{A}/redirect?http://{B}/hello"), grant: litAB, wantStatus: 200, wantIn: "hello"},
		{name: "redirect to a non-granted host", req: get("http://{A}/redirect?http://evil.test/x"), grant: litA, wantCode: abi.CodeDenied, wantIn: "evil.test"},
		{name: "redirect to a loopback port not granted", req: get("http://{A}/redirect?http://{B}/hello"), grant: litA, wantCode: abi.CodeDenied, check: noRequests(serverB)},
		{name: "redirect name -> 169.254.169.254", req: get("http://api.test:{AP}/redirect?http://169.254.169.254/latest/meta-data/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "169.254.169.254"},
		{name: "redirect name -> 10.0.0.1", req: get("http://api.test:{AP}/redirect?http://10.0.0.1:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "10.0.0.1"},
		{name: "redirect name -> [::ffff:127.0.0.1]", req: get("http://api.test:{AP}/redirect?http://[::ffff:127.0.0.1]:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "127.0.0.1"},
		{name: "redirect name -> decimal loopback", req: get("http://api.test:{AP}/redirect?http://2130706433:{AP}/hello"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "127.0.0.1"},
		{name: "redirect name -> granted name resolving to 10.0.0.1", req: get("http://api.test:{AP}/redirect?http://internal.test:{AP}/"), grant: names, trusted: loop, wantCode: abi.CodeDenied, wantIn: "private address"},
		{name: "redirect name -> granted name resolving to metadata", req: get("http://api.test:{AP}/redirect?http://metadata.test:{AP}/"), grant: names, trusted: []string{"127.0.0.0/8", "169.254.0.0/16"}, wantCode: abi.CodeDenied, wantIn: "metadata"},
		{name: "redirect to file:", req: get("http://{A}/redirect?file:///etc/passwd"), grant: litA, wantCode: abi.CodeInvalid, wantIn: "redirect refused"},
		{name: "redirect to ftp:", req: get("http://{A}/redirect?ftp://{A}/x"), grant: litA, wantCode: abi.CodeInvalid, wantIn: "scheme"},
		{name: "redirect loop stops", req: get("http://{A}/loop"), grant: litA, wantCode: abi.CodeLimit, wantIn: "redirects"},
		{name: "follow_redirects false returns the 3xx", req: FetchRequest{URL: "http://{A}/redirect?http://evil.test/", FollowRedirects: new(false)}, grant: litA, wantStatus: 302,
			check: func(t *testing.T, r response, _, _ *testServer) {
				if r.meta.Headers["Location"] != "http://evil.test/" {
					t.Errorf("Location %q", r.meta.Headers["Location"])
				}
			}},

		// --- request sanitising -------------------------------------------------
		{name: "CRLF in header value", req: withHeader("http://{A}/echo", "X-A", "v\r\nX-Injected: 1"), grant: litA, wantCode: abi.CodeInvalid, wantIn: "control character"},
		{name: "LF in header value", req: withHeader("http://{A}/echo", "X-A", "v\nX-Injected: 1"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "NUL in header value", req: withHeader("http://{A}/echo", "X-A", "v\x00w"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "CRLF in header name", req: withHeader("http://{A}/echo", "X-A\r\nX-Injected", "1"), grant: litA, wantCode: abi.CodeInvalid, wantIn: "not a token"},
		{name: "colon in header name", req: withHeader("http://{A}/echo", "X-A: b", "1"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "empty header name", req: withHeader("http://{A}/echo", "", "1"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "CRLF in method", req: FetchRequest{Method: "GET /x HTTP/1.1\r\nHost: evil\r\n\r\nGET", URL: "http://{A}/echo"}, grant: litA, wantCode: abi.CodeInvalid, wantIn: "method"},
		{name: "CRLF in URL", req: get("http://{A}/echo\r\nX-Injected: 1"), grant: litA, wantCode: abi.CodeInvalid, wantIn: "control character"},
		{name: "space in URL", req: get("http://{A}/echo HTTP/1.1"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "Host header", req: withHeader("http://{A}/echo", "host", "evil.test"), grant: litA, wantCode: abi.CodeInvalid, wantIn: "Host"},
		{name: "Content-Length header", req: withHeader("http://{A}/echo", "Content-Length", "0"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "Transfer-Encoding header", req: withHeader("http://{A}/echo", "Transfer-Encoding", "chunked"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "Connection header", req: withHeader("http://{A}/echo", "Connection", "close"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "Proxy-Authorization header", req: withHeader("http://{A}/echo", "Proxy-Authorization", "x"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "Proxy-* header", req: withHeader("http://{A}/echo", "Proxy-Whatever", "x"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "duplicate header names", raw: `{"url":"http://{A}/echo","headers":{"x-a":"1","X-A":"2"}}`, grant: litA, wantCode: abi.CodeInvalid, wantIn: "twice"},
		{name: "TRACE even if granted", req: FetchRequest{Method: "TRACE", URL: "http://{A}/echo"}, grant: methods(litA, "TRACE"), wantCode: abi.CodeInvalid},
		{name: "CONNECT", req: FetchRequest{Method: "CONNECT", URL: "http://{A}/"}, grant: methods(litA, "CONNECT"), wantCode: abi.CodeInvalid},
		{name: "userinfo in URL", req: get("http://user:pw@{A}/hello"), grant: litA, wantCode: abi.CodeInvalid, wantIn: "user:password"},
		{name: "file scheme", req: get("file:///etc/passwd"), grant: litA, wantCode: abi.CodeInvalid, wantIn: "scheme"},
		{name: "gopher scheme", req: get("gopher://{A}/"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "relative URL", req: get("/hello"), grant: litA, wantCode: abi.CodeInvalid},
		{name: "unknown request field", raw: `{"url":"http://{A}/hello","max_byte":1}`, grant: litA, wantCode: abi.CodeInvalid, wantIn: "max_byte"},
		{name: "negative max_bytes", raw: `{"url":"http://{A}/hello","max_bytes":-1}`, grant: litA, wantCode: abi.CodeInvalid},

		// --- limits -------------------------------------------------------------
		{name: "server streaming forever", req: FetchRequest{URL: "http://{A}/stream", MaxBytes: 64 << 10}, grant: litA, wantCode: abi.CodeLimit, wantIn: "65536",
			check: func(t *testing.T, _ response, a, _ *testServer) {
				// The connection is dropped at the cap: the server's writes
				// stop within socket-buffer distance of it.
				time.Sleep(50 * time.Millisecond)
				if n := a.streamed.Load(); n > 64<<20 {
					t.Errorf("server wrote %d bytes before the client gave up", n)
				}
			}},
		{name: "Content-Length over the cap", req: get("http://{A}/big?n=5000"), grant: litA, tune: func(o *Options) { o.MaxResponseBytes = 1000 }, wantCode: abi.CodeLimit},
		{name: "max_bytes cannot raise the cap", req: FetchRequest{URL: "http://{A}/big?n=5000", MaxBytes: 1 << 30}, grant: litA, tune: func(o *Options) { o.MaxResponseBytes = 1000 }, wantCode: abi.CodeLimit, wantIn: "1000"},
		{name: "gzip bomb is capped after decoding", req: FetchRequest{URL: "http://{A}/gzip", MaxBytes: 1 << 20}, grant: litA, wantCode: abi.CodeLimit},
		{name: "slow server times out", req: FetchRequest{URL: "http://{A}/slow", TimeoutMS: 200}, grant: litA, wantCode: abi.CodeTimeout},
		{name: "timeout_ms cannot raise the cap", req: FetchRequest{URL: "http://{A}/slow", TimeoutMS: 60000}, grant: litA, tune: func(o *Options) { o.Timeout = 200 * time.Millisecond }, wantCode: abi.CodeTimeout},
		{name: "call deadline bounds the request", req: get("http://{A}/slow"), grant: litA, callTimeout: 300 * time.Millisecond, wantCode: abi.CodeTimeout, wantIn: "deadline"},
		{name: "request body over the cap", req: FetchRequest{Method: "POST", URL: "http://{A}/echo"}, body: "0123456789A", grant: methods(litA, "POST"), tune: func(o *Options) { o.MaxRequestBytes = 10 }, wantCode: abi.CodeLimit},
		{name: "redirect hops count as requests", req: get("http://{A}/loop"), grant: litA, tune: func(o *Options) { o.MaxRequestsPerCall = 3 }, wantCode: abi.CodeLimit, wantIn: "3 HTTP requests"},

		// --- secrets ------------------------------------------------------------
		{name: "secret injected to the granted host, echo redacted", req: secretHeaders("http://{A}/echo"), grant: withSecrets(litA, []string{"TOKEN"}, []string{"TOKEN"}), wantStatus: 200, wantIn: "Bearer [REDACTED]",
			check: func(t *testing.T, r response, a, _ *testServer) {
				recs := a.records()
				if len(recs) != 1 || recs[0].Header.Get("X-Api-Key") != tok || recs[0].Header.Get("Authorization") != "Bearer "+tok {
					t.Errorf("server did not receive the secret: %+v", recs)
				}
				for k, v := range r.meta.Headers {
					if strings.Contains(v, tok) {
						t.Errorf("response header %s leaks the secret", k)
					}
				}
				if r.meta.Headers["X-Echo-Key"] != redactedMark || r.meta.Headers["X-Echo-B64"] != redactedMark {
					t.Errorf("echo headers not redacted: %v", r.meta.Headers)
				}
				if strings.Contains(string(r.body), tok) {
					t.Errorf("body leaks the secret: %s", r.body)
				}
			}},
		{name: "secret requested but not granted", req: secretHeaders("http://{A}/echo"), grant: withSecrets(litA, []string{"TOKEN"}, nil), wantCode: abi.CodeDenied, wantIn: "secret not granted", check: noRequests(func(a, _ *testServer) *testServer { return a })},
		{name: "secret granted but not requested", req: secretHeaders("http://{A}/echo"), grant: withSecrets(litA, nil, []string{"TOKEN"}), wantCode: abi.CodeDenied, wantIn: "secret not granted"},
		{name: "other secret name", req: withHeader("http://{A}/echo", "X-Api-Key", "{{secret:OTHER}}"), grant: withSecrets(litA, []string{"TOKEN"}, []string{"TOKEN"}), wantCode: abi.CodeDenied, wantIn: "OTHER"},
		{name: "secret template aimed at a non-granted host", req: secretHeaders("http://{B}/echo"), grant: withSecrets(litA, []string{"TOKEN"}, []string{"TOKEN"}), wantCode: abi.CodeDenied, check: noRequests(serverB)},
		{name: "redirect to another origin drops the secret", req: secretHeaders("http://{A}/redirect?http://{B}/echo"), grant: withSecrets(litAB, []string{"TOKEN"}, []string{"TOKEN"}), wantStatus: 200,
			check: func(t *testing.T, _ response, a, b *testServer) {
				ra, rb := a.records(), b.records()
				if len(ra) != 1 || ra[0].Header.Get("X-Api-Key") != tok {
					t.Errorf("first hop did not carry the secret: %+v", ra)
				}
				if len(rb) != 1 {
					t.Fatalf("second hop: %d requests", len(rb))
				}
				for k, vs := range rb[0].Header {
					for _, v := range vs {
						if strings.Contains(v, tok) {
							t.Errorf("secret followed the redirect in %s", k)
						}
					}
				}
			}},
		{name: "redirect within the origin keeps the secret", req: secretHeaders("http://{A}/redirect?/echo"), grant: withSecrets(litA, []string{"TOKEN"}, []string{"TOKEN"}), wantStatus: 200,
			check: func(t *testing.T, _ response, a, _ *testServer) {
				ra := a.records()
				if len(ra) != 2 || ra[1].Path != "/echo" || ra[1].Header.Get("X-Api-Key") != tok {
					t.Errorf("second hop lost the secret: %+v", ra)
				}
			}},
		{name: "redirect carrying the secret in its URL to another origin", req: secretHeaders("http://{A}/secret-redirect?http://{B}/echo"), grant: withSecrets(litAB, []string{"TOKEN"}, []string{"TOKEN"}),
			wantCode: abi.CodeDenied, wantIn: "carry an injected secret", check: noRequests(serverB)},
		{name: "secret value with CRLF is never sent", req: withHeader("http://{A}/echo", "X-Api-Key", "{{secret:CRLF}}"), grant: withSecrets(litA, []string{"CRLF"}, []string{"CRLF"}), wantCode: abi.CodeUnavailable, wantIn: "control characters"},
		{name: "granted secret not configured", req: withHeader("http://{A}/echo", "X-Api-Key", "{{secret:MISSING}}"), grant: withSecrets(litA, []string{"MISSING"}, []string{"MISSING"}), wantCode: abi.CodeUnavailable, wantIn: "not configured"},
		{name: "unterminated template", req: withHeader("http://{A}/echo", "X-Api-Key", "{{secret:TOKEN"), grant: withSecrets(litA, []string{"TOKEN"}, []string{"TOKEN"}), wantCode: abi.CodeInvalid, wantIn: "unterminated"},
		{name: "template with a bad name", req: withHeader("http://{A}/echo", "X-Api-Key", "{{secret:../TOKEN}}"), grant: withSecrets(litA, []string{"TOKEN"}, []string{"TOKEN"}), wantCode: abi.CodeInvalid},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.reset()
			b.reset()
			var nets []netip.Prefix
			for _, n := range tc.trusted {
				nets = append(nets, netip.MustParsePrefix(n))
			}
			m := newTestModule(t, newStub(testDNS), func(o *Options) {
				o.TrustedNets = nets
				if tc.tune != nil {
					tc.tune(o)
				}
			})
			g := tc.grant
			g.requested, g.granted = substAll(g.requested), substAll(g.granted)
			rec := &recorder{}
			p := g.policy(t, rec)
			timeout := tc.callTimeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			c := newCall(t, p, timeout)

			var r response
			var e *abi.Error
			if tc.raw != "" {
				r, e = doFetchRaw(c, m, []byte(subst.Replace(tc.raw)), []byte(tc.body))
			} else {
				fr := tc.req
				fr.URL = subst.Replace(fr.URL)
				if fr.Headers != nil {
					h := map[string]string{}
					for k, v := range fr.Headers {
						h[k] = subst.Replace(v)
					}
					fr.Headers = h
				}
				var body []byte
				if tc.body != "" {
					body = []byte(tc.body)
				}
				r, e = doFetch(c, m, fr, body)
			}
			if tc.wantCode != "" {
				if e == nil {
					t.Fatalf("want error %s, got status %d body %.200q", tc.wantCode, r.meta.Status, r.body)
				}
				if e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantIn) {
					t.Fatalf("error = %s %q, want code %s containing %q", e.Code, e.Message, tc.wantCode, tc.wantIn)
				}
				if e.Code == abi.CodeDenied {
					if e.ID == "" {
						t.Errorf("denial without audit id")
					}
					if !rec.denied(e.ID) {
						t.Errorf("denial %s not recorded", e.ID)
					}
				}
			} else {
				if e != nil {
					t.Fatalf("unexpected error %s: %s", e.Code, e.Message)
				}
				if r.meta.Status != tc.wantStatus {
					t.Fatalf("status %d, want %d (body %.200q)", r.meta.Status, tc.wantStatus, r.body)
				}
				if !strings.Contains(string(r.body), tc.wantIn) {
					t.Fatalf("body %.300q does not contain %q", r.body, tc.wantIn)
				}
			}
			if tc.check != nil {
				tc.check(t, r, a, b)
			}
		})
	}
}
