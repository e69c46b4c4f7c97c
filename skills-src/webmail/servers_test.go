//go:build !wasip1

package webmail

// Real servers on 127.0.0.1, one of each per test binary: a web site the
// skills are granted ("good"), one they never are ("bad", every hit
// recorded), a go-smtp server that keeps what it received and a go-imap v2
// server with the in-memory backend. The patterns follow the tests of
// hostfuncs/browser and hostfuncs/mail; nothing here mocks a client.

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"

	"github.com/reefhq/reef/internal/mailtest"
)

const (
	mailUser = "robot@corp.example"
	mailPass = "Webmail-s3cret!"
)

// stubResolver answers from a fixed table and never touches real DNS.
type stubResolver map[string][]netip.Addr

func (s stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := s[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("stub resolver: no such host %q", host)
}

// site is a loopback web server that records the requests it got.
type site struct {
	*httptest.Server
	mu   sync.Mutex
	hits []string
}

func (s *site) record(r *http.Request) {
	s.mu.Lock()
	s.hits = append(s.hits, r.Method+" "+r.URL.String())
	s.mu.Unlock()
}

func (s *site) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.hits...)
}

// origin is the server's http://127.0.0.1:PORT, also the grant pattern.
func (s *site) origin() string { return s.URL }

func page(w http.ResponseWriter, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, "<!doctype html><html><head><meta charset=utf-8><title>"+title+"</title></head><body>"+body+"</body></html>")
}

// newGoodSite serves the pages the skills read. bad is the origin of the
// never-granted server, for pages that try to reach it.
func newGoodSite(bad string) *site {
	s := &site{}
	mux := http.NewServeMux()
	mux.HandleFunc("/article", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Reef &amp; Coral — field notes", `<h1>Field notes</h1>
<p>   Coral reefs   cover less than 1% of the ocean floor.   </p>


<p>They host about a quarter of all marine species: Grüße from the reef.</p>
<p style="display:none">hidden text never shown</p>
<script>document.write("<p>written by script</p>")</script>`)
	})
	mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		for i := range 200 {
			fmt.Fprintf(&b, "<p>line %03d of a long page</p>", i)
		}
		page(w, "long", b.String())
	})
	mux.HandleFunc("/box", func(w http.ResponseWriter, r *http.Request) {
		page(w, "box", `<style>body{margin:0;background:#fff}</style><div id="box" style="width:120px;height:60px;background:#0a0;margin:10px"></div>`)
	})
	mux.HandleFunc("/tall", func(w http.ResponseWriter, r *http.Request) {
		page(w, "tall", `<style>body{margin:0}</style><div style="width:200px;height:1500px;background:linear-gradient(#fff,#00f)">tall</div>`)
	})
	mux.HandleFunc("/to-bad", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, bad+"/landing", http.StatusFound)
	})
	mux.HandleFunc("/form", func(w http.ResponseWriter, r *http.Request) {
		page(w, "search", `<form action="/search" method="post">
<input id="q" name="q"><input id="city" name="city"><input id="n" name="n" value="1">
<button id="go" type="submit">Search</button></form>`)
	})
	mux.HandleFunc("/search", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "post only", http.StatusMethodNotAllowed)
			return
		}
		// A slow answer: a read that does not wait for the result would
		// still see the form.
		time.Sleep(300 * time.Millisecond)
		page(w, "results", `<h1>Results</h1><div id="results"><p>query=`+html.EscapeString(r.FormValue("q"))+
			` city=`+html.EscapeString(r.FormValue("city"))+` n=`+html.EscapeString(r.FormValue("n"))+`</p></div>`)
	})
	mux.HandleFunc("/form-to-bad", func(w http.ResponseWriter, r *http.Request) {
		page(w, "exfil", `<form action="`+bad+`/collect" method="post"><input id="q" name="q"><button id="go" type="submit">Go</button></form>`)
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		mux.ServeHTTP(w, r)
	}))
	return s
}

// newBadSite is the server no skill is granted.
func newBadSite() *site {
	s := &site{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		page(w, "bad", "<p>SECRET-FROM-BAD</p>")
	}))
	return s
}

// smtpServer is a real go-smtp server on 127.0.0.1 (no TLS: the account
// is a loopback one, which hostmail allows with a password).
type smtpServer struct {
	port int
	srv  *smtp.Server
	*mailtest.SMTPBackend
}

func startSMTP() (*smtpServer, error) {
	st := &smtpServer{SMTPBackend: &mailtest.SMTPBackend{User: mailUser, Pass: mailPass}}
	s := smtp.NewServer(st.SMTPBackend)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.MaxMessageBytes = 32 << 20
	s.AllowInsecureAuth = true
	s.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	st.port = ln.Addr().(*net.TCPAddr).Port
	st.srv = s
	go func() { _ = s.Serve(ln) }()
	return st, nil
}

// imapServer is a real go-imap v2 server with the in-memory backend.
type imapServer struct {
	port int
	srv  *imapserver.Server
	user *imapmemserver.User
}

func startIMAP(mailboxes ...string) (*imapServer, error) {
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(mailUser, mailPass)
	for _, mb := range append([]string{"INBOX"}, mailboxes...) {
		if err := user.Create(mb, nil); err != nil {
			return nil, err
		}
	}
	mem.AddUser(user)
	s := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger:       log.New(io.Discard, "", 0),
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = s.Serve(ln) }()
	return &imapServer{port: ln.Addr().(*net.TCPAddr).Port, srv: s, user: user}, nil
}

// literal adapts bytes to imap.LiteralReader.
type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return int64(l.Len()) }

// seed appends a raw message to mailbox with an internal date and flags.
func (s *imapServer) seed(mailbox string, raw []byte, date time.Time, flags ...imap.Flag) (imap.UID, error) {
	data, err := s.user.Append(mailbox, literal{bytes.NewReader(raw)}, &imap.AppendOptions{Time: date, Flags: flags})
	if err != nil {
		return 0, err
	}
	return data.UID, nil
}
