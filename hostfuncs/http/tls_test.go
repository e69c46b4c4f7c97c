package hosthttp

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHTTPSAndHTTP2: TLS and HTTP/2 go through the guarded dialer too.
func TestHTTPSAndHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	m := newTestModule(t, newStub(nil), func(o *Options) { o.TLSConfig = &tls.Config{RootCAs: roots} })
	lit := srv.URL // https://127.0.0.1:PORT
	c := newCall(t, grantSpec{requested: []string{lit}, granted: []string{lit}}.policy(t, nil), 10*time.Second)
	r, e := doFetch(c, m, FetchRequest{URL: lit + "/"}, nil)
	if e != nil {
		t.Fatalf("fetch: %s %s", e.Code, e.Message)
	}
	if got := string(r.body); got != "HTTP/2.0" {
		t.Errorf("protocol %q, want HTTP/2.0", got)
	}
	// The same address over plain http is another grant.
	_, e = doFetch(c, m, FetchRequest{URL: strings.Replace(lit, "https://", "http://", 1) + "/"}, nil)
	if e == nil || e.Code != "denied" {
		t.Errorf("http:// to an https-only grant: %+v", e)
	}
}
