package hosthttp

import (
	"testing"
	"time"
)

// TestPoolIsolation: the connection pool is shared by all skills (see
// RATIONALE.md), so it must never hand one skill a connection its own
// policy would not have let it open. Skill "owner" is granted the
// loopback server literally and leaves a keep-alive connection in the
// pool; every other skill below tries to ride that connection — by the
// same address spelt differently, a name resolving to it, a wildcard, a
// grant on another port, a request without a grant — and must be refused
// before any byte reaches the server.
func TestPoolIsolation(t *testing.T) {
	srv := newTestServer(t)
	port := srv.port()
	dns := newStub(map[string][]string{"alias.test": {"127.0.0.1"}})
	m := newTestModule(t, dns, nil)
	lit := "http://127.0.0.1:" + port

	owner := grantSpec{requested: []string{lit}, granted: []string{lit}}.policy(t, nil)
	c := newCall(t, owner, 5*time.Second)
	for range 2 {
		if _, e := doFetch(c, m, FetchRequest{URL: lit + "/hello"}, nil); e != nil {
			t.Fatalf("owner: %+v", e)
		}
	}
	recs := srv.records()
	if len(recs) != 2 || recs[0].Remote != recs[1].Remote {
		t.Fatalf("the pool did not keep the owner's connection (remotes %v): the test would prove nothing", recs)
	}

	for _, c := range []struct {
		name               string
		requested, granted []string
		url                string
		headers            map[string]string
	}{
		{"name resolving to the pooled address", []string{"http://alias.test:" + port}, []string{"http://alias.test:" + port}, "http://alias.test:" + port + "/hello", nil},
		{"name with a Host header naming the address", []string{"http://alias.test:" + port}, []string{"http://alias.test:" + port}, "http://alias.test:" + port + "/hello", map[string]string{"Host": "127.0.0.1:" + port}},
		{"wildcard grant", []string{"*", "http://*.test:" + port}, []string{"*", "http://*.test:" + port}, lit + "/hello", nil},
		{"decimal spelling", []string{"*"}, []string{"*"}, "http://2130706433:" + port + "/hello", nil},
		{"hex spelling", []string{"http://alias.test:" + port}, []string{"http://alias.test:" + port}, "http://0x7f.1:" + port + "/hello", nil},
		{"IPv4-mapped IPv6", []string{"http://alias.test:" + port}, []string{"http://alias.test:" + port}, "http://[::ffff:127.0.0.1]:" + port + "/hello", nil},
		{"literal on another port", []string{"http://127.0.0.1:1"}, []string{"http://127.0.0.1:1"}, lit + "/hello", nil},
		{"requested, not granted", []string{lit}, []string{"http://alias.test:" + port}, lit + "/hello", nil},
		{"granted, not requested", []string{"http://alias.test:" + port}, []string{lit}, lit + "/hello", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := grantSpec{requested: c.requested, granted: c.granted}.policy(t, nil)
			call := newCall(t, p, 5*time.Second)
			_, e := doFetch(call, m, FetchRequest{URL: c.url, Headers: c.headers}, nil)
			if e == nil {
				t.Fatal("fetch through the owner's pooled connection succeeded")
			}
			if e.Code != "denied" && e.Code != "invalid" {
				t.Fatalf("want a denial before any request, got %+v", e)
			}
			if n := len(srv.records()); n != 2 {
				t.Fatalf("the server saw %d requests, want the owner's 2", n)
			}
		})
	}

	// The owner still uses its connection: nothing above closed the pool.
	if _, e := doFetch(newCall(t, owner, 5*time.Second), m, FetchRequest{URL: lit + "/hello"}, nil); e != nil {
		t.Fatalf("owner after the attempts: %+v", e)
	}
}
