package hostmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// imapConn is one logged-in IMAP connection.
type imapConn struct {
	c   *imapclient.Client
	raw net.Conn // the TCP connection under any TLS: closing it unblocks everything
}

func (ic *imapConn) close() {
	_ = ic.c.Close()
}

// imapPool keeps up to max idle logged-in connections of one account.
type imapPool struct {
	mu     sync.Mutex
	max    int
	idle   []*imapConn
	closed bool
}

// get pops the most recently used idle connection that is still open.
func (p *imapPool) get() *imapConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		ic := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		select {
		case <-ic.c.Closed():
			// The server hung up while the connection was idle.
			go ic.close()
			continue
		default:
			return ic
		}
	}
	return nil
}

func (p *imapPool) put(ic *imapConn) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.max {
		p.idle = append(p.idle, ic)
		ic = nil
	}
	p.mu.Unlock()
	if ic != nil {
		ic.close()
	}
}

func (p *imapPool) close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, ic := range idle {
		// Best effort: LOGOUT politely, but never wait on a dead server.
		_ = ic.raw.SetDeadline(time.Now().Add(2 * time.Second))
		_ = ic.c.Logout().Wait()
		ic.close()
	}
	return nil
}

// wordDecoder decodes RFC 2047 words in any charset go-message knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// connectIMAP dials, upgrades and logs in. The connection is closed when
// ctx ends, which bounds the greeting, STARTTLS and LOGIN.
func (m *Module) connectIMAP(ctx context.Context, e *endpoint) (*imapConn, string, error) {
	pass, err := e.srv.password()
	if err != nil {
		return nil, "", err
	}
	raw, err := m.opts.Dial(ctx, "tcp", e.addr)
	if err != nil {
		return nil, pass, err
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	opts := &imapclient.Options{WordDecoder: wordDecoder}
	var c *imapclient.Client
	switch e.srv.tlsMode() {
	case TLSImplicit:
		cfg := e.tls.Clone()
		cfg.NextProtos = []string{"imap"}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, pass, fmt.Errorf("TLS handshake: %w", err)
		}
		c = imapclient.New(tc, opts)
	case TLSStartTLS:
		opts.TLSConfig = e.tls.Clone()
		c, err = imapclient.NewStartTLS(raw, opts)
		if err != nil {
			raw.Close()
			return nil, pass, fmt.Errorf("STARTTLS: %w", err)
		}
	default:
		c = imapclient.New(raw, opts)
	}
	if err := c.Login(e.srv.Username, pass).Wait(); err != nil {
		_ = c.Close()
		var ie *imap.Error
		if errors.As(err, &ie) {
			return nil, pass, fmt.Errorf("login as %q refused by the server (check the account's username and password_env/password_file): %w", e.srv.Username, err)
		}
		return nil, pass, fmt.Errorf("login as %q: %w", e.srv.Username, err)
	}
	return &imapConn{c: c, raw: raw}, pass, nil
}

// withIMAP runs fn on a logged-in connection of a's IMAP server. The whole
// call is bounded by min(ctx deadline, server timeout): when that ends the
// connection is closed under fn. A connection error on a pooled (reused)
// connection is retried once on a fresh one.
func (m *Module) withIMAP(ctx context.Context, a *account, fn func(c *imapclient.Client) error) error {
	e := a.imap
	ctx, cancel := opContext(ctx, e.srv)
	defer cancel()
	for attempt := 0; ; attempt++ {
		ic := a.pool.get()
		reused := ic != nil
		var pass string
		if ic == nil {
			var err error
			if ic, pass, err = m.connectIMAP(ctx, e); err != nil {
				return netError(ctx, e, err, pass)
			}
		}
		stop := context.AfterFunc(ctx, func() { ic.raw.Close() })
		err := fn(ic.c)
		alive := stop() // false: ctx ended and the connection was closed
		if alive && connUsable(err) {
			a.pool.put(ic)
		} else {
			ic.close()
		}
		switch {
		case err == nil:
			return nil
		case reused && attempt == 0 && !connUsable(err) && ctx.Err() == nil:
			continue // the pooled connection had died: reconnect once
		}
		return imapError(ctx, e, err, pass)
	}
}

// connUsable reports whether the connection is still good after fn
// returned err: no error, the server's own NO/BAD, or a refusal decided
// here.
func connUsable(err error) bool {
	var ie *imap.Error
	var ae *abi.Error
	return err == nil || errors.As(err, &ie) || errors.As(err, &ae)
}

// imapError maps an IMAP error: a missing mailbox is not_found, another
// server refusal "unavailable" with the server's text, anything else a
// connection error.
func imapError(ctx context.Context, e *endpoint, err error, pass string) error {
	var ae *abi.Error
	if errors.As(err, &ae) {
		return err
	}
	var ie *imap.Error
	if errors.As(err, &ie) && ctx.Err() == nil {
		if ie.Code == imap.ResponseCodeNonExistent || ie.Code == imap.ResponseCodeTryCreate {
			return &abi.Error{Code: abi.CodeNotFound, Message: fmt.Sprintf("mail account %q: %s", e.account, scrub(err, pass))}
		}
	}
	return netError(ctx, e, err, pass)
}
