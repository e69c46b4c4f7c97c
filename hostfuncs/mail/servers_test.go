package hostmail

// Real servers on 127.0.0.1 for the tests: go-smtp (a complete SMTP server
// whose backend keeps what it received) and go-imap's imapserver with the
// in-memory backend, plus a TCP proxy that drops or stalls a session on
// cue. Nothing here mocks a client.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"

	"github.com/reefhq/reef/internal/mailtest"
	"github.com/reefhq/reef/internal/netguard"
)

const (
	testUser = "robot@corp.example"
	testPass = "s3cret-Pa55word!"
)

// testCert is a self-signed certificate for 127.0.0.1 and its PEM file.
type testCert struct {
	tls    tls.Certificate
	caFile string
}

var (
	certOnce sync.Once
	certVal  testCert
	certDir  string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hostmail-cert-")
	if err != nil {
		log.Fatal(err)
	}
	certDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serverCert generates (once per test binary) a self-signed ECDSA
// certificate valid for 127.0.0.1 and localhost.
func serverCert(t testing.TB) testCert {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "reef mail test"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:              []string{"localhost"},
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		caFile := filepath.Join(certDir, "ca.pem")
		if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		certVal = testCert{tls: c, caFile: caFile}
	})
	if certVal.caFile == "" {
		t.Fatal("test certificate generation failed")
	}
	return certVal
}

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func portOf(t testing.TB, addr net.Addr) int {
	_, p, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// smtpServer is a real go-smtp server on 127.0.0.1.
type smtpServer struct {
	Port int
	*mailtest.SMTPBackend
}

// startSMTP runs a go-smtp server in the given TLS mode.
func startSMTP(t testing.TB, mode string) *smtpServer {
	t.Helper()
	st := &smtpServer{SMTPBackend: &mailtest.SMTPBackend{User: testUser, Pass: testPass}}
	s := smtp.NewServer(st.SMTPBackend)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.MaxMessageBytes = 64 << 20
	s.ErrorLog = log.New(io.Discard, "", 0)
	ln := listenLoopback(t)
	switch mode {
	case TLSNone:
		s.AllowInsecureAuth = true
	case TLSStartTLS:
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{serverCert(t).tls}}
	case TLSImplicit:
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{serverCert(t).tls}}
		ln = tls.NewListener(ln, s.TLSConfig)
	}
	st.Port = portOf(t, ln.Addr())
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return st
}

// imapServer is a real go-imap server with the in-memory backend.
type imapServer struct {
	Port int
	User *imapmemserver.User
}

func startIMAP(t testing.TB, mode string, mailboxes ...string) *imapServer {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(testUser, testPass)
	for _, mb := range append([]string{"INBOX"}, mailboxes...) {
		if err := user.Create(mb, nil); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(user)
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger: log.New(io.Discard, "", 0),
	}
	ln := listenLoopback(t)
	switch mode {
	case TLSNone:
		opts.InsecureAuth = true
	case TLSStartTLS:
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{serverCert(t).tls}}
	case TLSImplicit:
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{serverCert(t).tls}})
	}
	s := imapserver.New(opts)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return &imapServer{Port: portOf(t, ln.Addr()), User: user}
}

// literal adapts bytes to imap.LiteralReader.
type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return int64(l.Len()) }

// seed appends a raw message to mailbox with an internal date and flags.
func (s *imapServer) seed(t testing.TB, mailbox string, raw []byte, date time.Time, flags ...imap.Flag) imap.UID {
	t.Helper()
	data, err := s.User.Append(mailbox, literal{bytes.NewReader(raw)}, &imap.AppendOptions{Time: date, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	return data.UID
}

// proxy forwards 127.0.0.1 TCP connections to a target and can drop or
// stall a session when the client sends a trigger string, or kill every
// open session.
type proxy struct {
	Port    int
	target  string
	mu      sync.Mutex
	trigger []byte
	stall   bool
	conns   []net.Conn
	accepts int
}

func startProxy(t testing.TB, targetPort int) *proxy {
	t.Helper()
	ln := listenLoopback(t)
	p := &proxy{Port: portOf(t, ln.Addr()), target: "127.0.0.1:" + strconv.Itoa(targetPort)}
	t.Cleanup(func() { ln.Close(); p.killAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

// dropOn makes sessions end abruptly (or stall, never answering) once the
// client has sent trigger.
func (p *proxy) dropOn(trigger string, stall bool) {
	p.mu.Lock()
	p.trigger, p.stall = []byte(trigger), stall
	p.mu.Unlock()
}

func (p *proxy) killAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (p *proxy) Accepts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

func (p *proxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.accepts++
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	var stalled atomic.Bool
	go func() {
		_, _ = io.Copy(c, up)
		if !stalled.Load() {
			c.Close()
		}
	}()
	var seen []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			seen = append(seen, buf[:n]...)
			p.mu.Lock()
			trig, stall := p.trigger, p.stall
			p.mu.Unlock()
			if len(trig) > 0 && bytes.Contains(seen, trig) {
				stalled.Store(stall)
				up.Close()
				if stall {
					// Swallow everything, answer nothing.
					_, _ = io.Copy(io.Discard, c)
				}
				c.Close()
				return
			}
			if len(seen) > 4096 {
				seen = seen[len(seen)-1024:]
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				c.Close()
				return
			}
		}
		if err != nil {
			up.Close()
			return
		}
	}
}

// guardedDial is a netguard dialer's DialContext: any non-loopback dial
// fails the test.
func guardedDial(t testing.TB) func(ctx context.Context, network, addr string) (net.Conn, error) {
	g := netguard.New(t)
	return g.Dialer().DialContext
}
