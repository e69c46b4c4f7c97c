package hostmail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// Defaults of Options.
const (
	DefaultMaxAttachmentBytes = 10 << 20
	DefaultMaxMessageBytes    = 25 << 20
	DefaultMaxTextBytes       = 1 << 20
	DefaultSendRate           = 60
	DefaultIMAPIdle           = 2
)

// Options configure the mail module. Zero fields take the defaults above.
type Options struct {
	// Accounts are the operator's accounts by name (config.yaml
	// mail.accounts). Each is validated by New.
	Accounts map[string]Account
	// MaxAttachmentBytes caps one attachment (decoded), on send and on
	// fetch with content.
	MaxAttachmentBytes int64
	// MaxMessageBytes caps a whole outgoing message (bodies plus decoded
	// attachments) and how much of a stored message fetch downloads.
	MaxMessageBytes int64
	// MaxTextBytes caps the text and the HTML body returned by fetch (the
	// rest is cut, with text_truncated/html_truncated set).
	MaxTextBytes int64
	// SendRate is the number of messages each skill may send per minute
	// (token bucket, burst SendBurst). Negative: unlimited.
	SendRate int
	// SendBurst is the bucket size (default SendRate).
	SendBurst int
	// IMAPIdle is how many idle logged-in IMAP connections are kept per
	// account. Negative: none (a fresh connection per call).
	IMAPIdle int
	// Logger logs module events; nil discards. Per-call events go to the
	// call's logger.
	Logger *slog.Logger
	// Dial opens TCP connections (tests pass a netguard dialer's
	// DialContext). Nil: a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Module is the mail capability. It is safe for concurrent use.
type Module struct {
	opts     Options
	log      *slog.Logger
	accounts map[string]*account
	limiter  *limiter
}

// account is an Account with what New prepared for it.
type account struct {
	name string
	cfg  Account
	smtp *endpoint
	imap *endpoint
	pool *imapPool
}

// endpoint is a Server with its TLS configuration and address resolved.
type endpoint struct {
	srv     *Server
	account string
	proto   string // "smtp" or "imap"
	addr    string
	tls     *tls.Config // nil for TLSNone
}

// New validates the accounts, loads their CA files and returns the module.
// It does not connect, and it does not read passwords.
func New(opts Options) (*Module, error) {
	if opts.MaxAttachmentBytes <= 0 {
		opts.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.MaxTextBytes <= 0 {
		opts.MaxTextBytes = DefaultMaxTextBytes
	}
	if opts.SendRate == 0 {
		opts.SendRate = DefaultSendRate
	}
	if opts.SendBurst <= 0 {
		opts.SendBurst = max(opts.SendRate, 1)
	}
	if opts.IMAPIdle == 0 {
		opts.IMAPIdle = DefaultIMAPIdle
	}
	if opts.Dial == nil {
		d := &net.Dialer{}
		opts.Dial = d.DialContext
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Module{opts: opts, log: log, accounts: map[string]*account{}, limiter: newLimiter(opts.SendRate, opts.SendBurst)}
	for _, name := range slices.Sorted(maps.Keys(opts.Accounts)) {
		cfg := opts.Accounts[name]
		if err := cfg.Validate(name); err != nil {
			return nil, err
		}
		a := &account{name: name, cfg: cfg}
		var err error
		if cfg.SMTP != nil {
			if a.smtp, err = newEndpoint(name, "smtp", cfg.SMTP); err != nil {
				return nil, err
			}
		}
		if cfg.IMAP != nil {
			if a.imap, err = newEndpoint(name, "imap", cfg.IMAP); err != nil {
				return nil, err
			}
			a.pool = &imapPool{max: max(opts.IMAPIdle, 0)}
		}
		for _, e := range []*endpoint{a.smtp, a.imap} {
			if e != nil && e.srv.InsecureSkipVerify && e.srv.tlsMode() != TLSNone {
				log.Warn("mail: TLS certificate verification is OFF for this server (insecure_skip_verify)", "account", name, "protocol", e.proto, "server", e.addr)
			}
		}
		m.accounts[name] = a
	}
	return m, nil
}

func newEndpoint(account, proto string, s *Server) (*endpoint, error) {
	e := &endpoint{srv: s, account: account, proto: proto, addr: net.JoinHostPort(s.Host, strconv.Itoa(s.port(proto == "smtp")))}
	if s.tlsMode() == TLSNone {
		return e, nil
	}
	cfg := &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.InsecureSkipVerify} //nolint:gosec // explicit, logged opt-out
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mail account %q: %s: ca_file: %w", account, proto, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail account %q: %s: ca_file %s holds no PEM certificate", account, proto, s.CAFile)
		}
		cfg.RootCAs = pool
	}
	e.tls = cfg
	return e, nil
}

// Name implements abi.Module.
func (m *Module) Name() string { return "mail" }

// Funcs implements abi.Module.
func (m *Module) Funcs() []abi.Func {
	return []abi.Func{
		{Name: abi.MailSend, Handler: m.send},
		{Name: abi.MailList, Handler: m.mailboxes},
		{Name: abi.MailSearch, Handler: m.search},
		{Name: abi.MailFetch, Handler: m.fetch},
		{Name: abi.MailMark, Handler: m.markSeen},
		{Name: abi.MailMove, Handler: m.move},
	}
}

// Close logs out and closes the pooled IMAP connections. Calls running
// concurrently finish on their own connections, which are then closed
// instead of pooled.
func (m *Module) Close() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(m.accounts)) {
		if p := m.accounts[name].pool; p != nil {
			errs = append(errs, p.close())
		}
	}
	return errors.Join(errs...)
}

var _ abi.Module = (*Module)(nil)
var _ abi.Closer = (*Module)(nil)

// account returns the account a call may use: granted by the policy and
// configured by the operator.
func (m *Module) account(c abi.Call, name string, wantIMAP bool) (*account, error) {
	if hasControl(name) || len(name) > 256 {
		return nil, abi.Errorf(abi.CodeInvalid, "account %q: invalid name", name)
	}
	granted, err := c.Policy().MailAccount(name)
	if err != nil {
		return nil, err
	}
	a, ok := m.accounts[granted]
	if !ok {
		return nil, abi.Errorf(abi.CodeUnavailable, "mail account %q is granted but not configured by the operator (config.yaml mail.accounts)", granted)
	}
	if wantIMAP && a.imap == nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "mail account %q has no imap server configured", granted)
	}
	if !wantIMAP && a.smtp == nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "mail account %q has no smtp server configured", granted)
	}
	return a, nil
}

// opContext bounds a call's network operations by min(call deadline,
// server timeout).
func opContext(ctx context.Context, s *Server) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout())
}

// dial opens a TCP connection (and, for implicit TLS, completes the
// handshake) within ctx.
func (m *Module) dial(ctx context.Context, e *endpoint) (net.Conn, error) {
	conn, err := m.opts.Dial(ctx, "tcp", e.addr)
	if err != nil {
		return nil, err
	}
	if e.srv.tlsMode() != TLSImplicit {
		return conn, nil
	}
	cfg := e.tls.Clone()
	if e.proto == "imap" {
		cfg.NextProtos = []string{"imap"}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// limiter is a token bucket per skill.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second; <= 0: unlimited
	burst   float64
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, burst int) *limiter {
	return &limiter{rate: float64(perMinute) / 60, burst: float64(burst), buckets: map[string]*bucket{}, now: time.Now}
}

// take consumes one token of key's bucket; it returns how long until the
// next token when none is left.
func (l *limiter) take(key string) (ok bool, wait time.Duration) {
	if l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// scrub removes secret from err's text: a server may echo what it got, and
// the error ends up in a guest-visible document and in logs.
func scrub(err error, secret string) error {
	if err == nil || len(secret) < 3 {
		return err
	}
	return &scrubbed{err: err, secret: secret}
}

type scrubbed struct {
	err    error
	secret string
}

func (s *scrubbed) Error() string { return strings.ReplaceAll(s.err.Error(), s.secret, "[redacted]") }
func (s *scrubbed) Unwrap() error { return s.err }
