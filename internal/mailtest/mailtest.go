// Package mailtest is a real go-smtp backend for tests: it accepts PLAIN
// auth for one user and keeps every message it receives, so tests can
// assert what a mail server really got (and that refused sends delivered
// nothing).
package mailtest

import (
	"io"
	"sync"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the server accepted.
type Received struct {
	From string
	To   []string
	Data []byte
}

// SMTPBackend is an smtp.Backend that requires User/Pass and records
// messages. Safe for concurrent sessions.
type SMTPBackend struct {
	User, Pass string

	mu   sync.Mutex
	msgs []Received
}

// NewSession implements smtp.Backend.
func (b *SMTPBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{b: b}, nil
}

// Messages returns a copy of the messages received so far.
func (b *SMTPBackend) Messages() []Received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Received(nil), b.msgs...)
}

type session struct {
	b      *SMTPBackend
	authed bool
	cur    Received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.User || pass != s.b.Pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur = Received{From: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = Received{} }
func (s *session) Logout() error { return nil }

var _ smtp.Backend = (*SMTPBackend)(nil)
