package hostmail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// Request limits of reef_mail_send.
const (
	maxRecipients   = 100
	maxSubjectBytes = 2000
	maxNameBytes    = 255
	maxAttachments  = 50
	maxAddressBytes = 254
)

// SendRequest is the JSON request of reef_mail_send.
type SendRequest struct {
	Account     string       `json:"account,omitempty"`
	To          []string     `json:"to"`
	Cc          []string     `json:"cc,omitempty"`
	Bcc         []string     `json:"bcc,omitempty"`
	ReplyTo     string       `json:"reply_to,omitempty"`
	Subject     string       `json:"subject"`
	Text        string       `json:"text,omitempty"`
	HTML        string       `json:"html,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is one attachment of a SendRequest.
type Attachment struct {
	Name string `json:"name"`
	// ContentBase64 is the content, standard base64.
	ContentBase64 string `json:"content_base64"`
	// Type is a MIME type ("application/pdf"); default
	// application/octet-stream.
	Type string `json:"type,omitempty"`
}

// SendResponse is the JSON response of reef_mail_send.
type SendResponse struct {
	MessageID string `json:"message_id"`
}

// outgoing is a validated send request.
type outgoing struct {
	to, cc, bcc []string
	replyTo     string
	subject     string
	text, html  string
	files       []outFile
	size        int64
}

type outFile struct {
	name, ctype string
	data        []byte
}

func (m *Module) send(c abi.Call, req, _ []byte) ([]byte, error) {
	var r SendRequest
	if err := decodeStrict(req, &r); err != nil {
		return nil, err
	}
	a, err := m.account(c, r.Account, false)
	if err != nil {
		return nil, err
	}
	out, err := m.validateSend(&r)
	if err != nil {
		return nil, err
	}
	// Every recipient is decided before anything is sent: one refusal
	// refuses the whole message.
	for _, list := range [][]string{out.to, out.cc, out.bcc} {
		for _, addr := range list {
			if err := c.Policy().CheckRecipient(addr); err != nil {
				return nil, err
			}
		}
	}
	if ok, wait := m.limiter.take(c.Skill()); !ok {
		return nil, abi.Errorf(abi.CodeLimit, "send rate limit of %d messages per minute reached for skill %q: retry in %s", m.opts.SendRate, c.Skill(), wait.Round(time.Second))
	}
	from, err := a.cfg.sender()
	if err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "mail account %q: %v", a.name, err)
	}
	msg, id, err := buildMessage(from, out)
	if err != nil {
		return nil, err
	}
	if err := m.deliver(c.Context(), a.smtp, msg); err != nil {
		return nil, err
	}
	c.Logger().Info("mail sent", "account", a.name, "message_id", id, "recipients", len(out.to)+len(out.cc)+len(out.bcc), "bytes", out.size)
	return json.Marshal(SendResponse{MessageID: id})
}

// decodeStrict decodes a JSON request, refusing unknown fields so a typo
// ("attachements") is an error instead of a silently dropped part.
func decodeStrict(req []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(req))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return abi.Errorf(abi.CodeInvalid, "request: %v", err)
	}
	if dec.More() {
		return abi.Errorf(abi.CodeInvalid, "request: trailing data after the JSON object")
	}
	return nil
}

func (m *Module) validateSend(r *SendRequest) (*outgoing, error) {
	out := &outgoing{}
	var err error
	if out.to, err = bareAddresses("to", r.To); err != nil {
		return nil, err
	}
	if out.cc, err = bareAddresses("cc", r.Cc); err != nil {
		return nil, err
	}
	if out.bcc, err = bareAddresses("bcc", r.Bcc); err != nil {
		return nil, err
	}
	if len(out.to)+len(out.cc)+len(out.bcc) == 0 {
		return nil, abi.Errorf(abi.CodeInvalid, "to: at least one recipient is required")
	}
	if n := len(out.to) + len(out.cc) + len(out.bcc); n > maxRecipients {
		return nil, abi.Errorf(abi.CodeInvalid, "%d recipients: at most %d per message", n, maxRecipients)
	}
	if r.ReplyTo != "" {
		if out.replyTo, err = bareAddress("reply_to", r.ReplyTo); err != nil {
			return nil, err
		}
	}
	if err := headerText("subject", r.Subject, maxSubjectBytes); err != nil {
		return nil, err
	}
	out.subject = r.Subject
	if r.Text == "" && r.HTML == "" {
		return nil, abi.Errorf(abi.CodeInvalid, "text or html: a message needs a body")
	}
	for _, b := range []struct{ field, body string }{{"text", r.Text}, {"html", r.HTML}} {
		if !utf8.ValidString(b.body) {
			return nil, abi.Errorf(abi.CodeInvalid, "%s: not valid UTF-8", b.field)
		}
		if strings.IndexByte(b.body, 0) >= 0 {
			return nil, abi.Errorf(abi.CodeInvalid, "%s: contains NUL", b.field)
		}
	}
	out.text, out.html = r.Text, r.HTML
	out.size = int64(len(r.Text) + len(r.HTML))
	if len(r.Attachments) > maxAttachments {
		return nil, abi.Errorf(abi.CodeInvalid, "%d attachments: at most %d", len(r.Attachments), maxAttachments)
	}
	for i, at := range r.Attachments {
		f, err := m.attachment(i, at)
		if err != nil {
			return nil, err
		}
		out.size += int64(len(f.data))
		if out.size > m.opts.MaxMessageBytes {
			return nil, abi.Errorf(abi.CodeLimit, "message exceeds the %d-byte limit", m.opts.MaxMessageBytes)
		}
		out.files = append(out.files, f)
	}
	if out.size > m.opts.MaxMessageBytes {
		return nil, abi.Errorf(abi.CodeLimit, "message exceeds the %d-byte limit", m.opts.MaxMessageBytes)
	}
	return out, nil
}

func (m *Module) attachment(i int, at Attachment) (outFile, error) {
	field := fmt.Sprintf("attachments[%d]", i)
	if at.Name == "" {
		return outFile{}, abi.Errorf(abi.CodeInvalid, "%s.name: required", field)
	}
	if err := headerText(field+".name", at.Name, maxNameBytes); err != nil {
		return outFile{}, err
	}
	ctype := "application/octet-stream"
	if at.Type != "" {
		if hasControl(at.Type) {
			return outFile{}, abi.Errorf(abi.CodeInvalid, "%s.type %q: contains a line break or control character", field, at.Type)
		}
		mt, params, err := mime.ParseMediaType(at.Type)
		if err != nil || !strings.Contains(mt, "/") {
			return outFile{}, abi.Errorf(abi.CodeInvalid, "%s.type %q: not a MIME type (e.g. application/pdf)", field, at.Type)
		}
		// Re-formatted by mime, never copied: only a well-formed type
		// reaches the header.
		ctype = mime.FormatMediaType(mt, params)
		if ctype == "" {
			return outFile{}, abi.Errorf(abi.CodeInvalid, "%s.type %q: not a MIME type", field, at.Type)
		}
	}
	if int64(base64.StdEncoding.DecodedLen(len(at.ContentBase64))) > m.opts.MaxAttachmentBytes+3 {
		return outFile{}, abi.Errorf(abi.CodeLimit, "%s %q: larger than the %d-byte attachment limit", field, at.Name, m.opts.MaxAttachmentBytes)
	}
	data, err := base64.StdEncoding.DecodeString(at.ContentBase64)
	if err != nil {
		return outFile{}, abi.Errorf(abi.CodeInvalid, "%s.content_base64: %v", field, err)
	}
	if int64(len(data)) > m.opts.MaxAttachmentBytes {
		return outFile{}, abi.Errorf(abi.CodeLimit, "%s %q: %d bytes, larger than the %d-byte attachment limit", field, at.Name, len(data), m.opts.MaxAttachmentBytes)
	}
	return outFile{name: at.Name, ctype: ctype, data: data}, nil
}

// headerText refuses what must never reach a header: line breaks, NUL and
// other controls, invalid UTF-8, oversize values.
func headerText(field, v string, maxLen int) error {
	switch {
	case strings.ContainsAny(v, "\r\n"):
		return abi.Errorf(abi.CodeInvalid, "%s %q: contains a line break (CR or LF)", field, v)
	case strings.IndexByte(v, 0) >= 0:
		return abi.Errorf(abi.CodeInvalid, "%s %q: contains NUL", field, v)
	case hasControl(v):
		return abi.Errorf(abi.CodeInvalid, "%s %q: contains a control character", field, v)
	case !utf8.ValidString(v):
		return abi.Errorf(abi.CodeInvalid, "%s: not valid UTF-8", field)
	case len(v) > maxLen:
		return abi.Errorf(abi.CodeInvalid, "%s: %d bytes, at most %d", field, len(v), maxLen)
	}
	return nil
}

func bareAddresses(field string, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for i, s := range in {
		a, err := bareAddress(fmt.Sprintf("%s[%d]", field, i), s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// bareAddress accepts exactly one addr-spec ("user@example.org"): no
// display name, no angle brackets, no group, no comment, no list.
func bareAddress(field, s string) (string, error) {
	if err := headerText(field, s, maxAddressBytes); err != nil {
		return "", err
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", abi.Errorf(abi.CodeInvalid, "%s %q: not an e-mail address: %v", field, s, err)
	}
	if a.Name != "" || a.Address != s {
		return "", abi.Errorf(abi.CodeInvalid, "%s %q: want a single bare address like user@example.org (no name, brackets or list)", field, s)
	}
	if at := strings.LastIndexByte(s, '@'); at <= 0 || at == len(s)-1 {
		return "", abi.Errorf(abi.CodeInvalid, "%s %q: not an e-mail address", field, s)
	}
	return s, nil
}

// buildMessage assembles the message with go-mail, which encodes every
// header itself. The Message-ID uses the sender's domain, not the host
// name of the machine running reef.
func buildMessage(from *mail.Address, o *outgoing) (*gomail.Msg, string, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(from)
	if err := addRecipients(msg.To, o.to); err != nil {
		return nil, "", err
	}
	if err := addRecipients(msg.Cc, o.cc); err != nil {
		return nil, "", err
	}
	if err := addRecipients(msg.Bcc, o.bcc); err != nil {
		return nil, "", err
	}
	if o.replyTo != "" {
		if err := msg.ReplyTo(o.replyTo); err != nil {
			return nil, "", abi.Errorf(abi.CodeInvalid, "reply_to: %v", err)
		}
	}
	msg.Subject(o.subject)
	msg.SetDate()
	id := newMessageID(from.Address)
	msg.SetMessageIDWithValue(id)
	switch {
	case o.text != "" && o.html != "":
		msg.SetBodyString(gomail.TypeTextPlain, o.text)
		msg.AddAlternativeString(gomail.TypeTextHTML, o.html)
	case o.html != "":
		msg.SetBodyString(gomail.TypeTextHTML, o.html)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, o.text)
	}
	for _, f := range o.files {
		msg.AttachReadSeeker(f.name, bytes.NewReader(f.data), gomail.WithFileContentType(gomail.ContentType(f.ctype)))
	}
	return msg, "<" + id + ">", nil
}

func addRecipients(set func(...string) error, addrs []string) error {
	if len(addrs) == 0 {
		return nil
	}
	if err := set(addrs...); err != nil {
		return abi.Errorf(abi.CodeInvalid, "recipients: %v", err)
	}
	return nil
}

func newMessageID(from string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	domain := "reef.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	return hex.EncodeToString(b[:]) + "@" + domain
}

// deliver sends msg through e with a fresh connection, bounded by the call
// context and the server timeout.
func (m *Module) deliver(ctx context.Context, e *endpoint, msg *gomail.Msg) error {
	ctx, cancel := opContext(ctx, e.srv)
	defer cancel()
	client, pass, err := m.smtpClient(ctx, e)
	if err != nil {
		return netError(ctx, e, err, "")
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return netError(ctx, e, err, pass)
	}
	return nil
}

// smtpClient configures a go-mail client for e. The password is read
// here, at use time.
func (m *Module) smtpClient(ctx context.Context, e *endpoint) (*gomail.Client, string, error) {
	pass, err := e.srv.password()
	if err != nil {
		return nil, "", err
	}
	timeout := e.srv.timeout()
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	opts := []gomail.Option{
		gomail.WithPort(e.srv.port(true)),
		gomail.WithTimeout(max(timeout, time.Millisecond)),
		// The dialer closes the connection when ctx ends: go-mail only
		// uses the context for the dial itself.
		gomail.WithDialContextFunc(func(dctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := m.dial(dctx, e)
			if err != nil {
				return nil, err
			}
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			return &afterConn{Conn: conn, stop: stop}, nil
		}),
	}
	switch e.srv.tlsMode() {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(e.tls))
	default:
		// TLSNone, or TLSImplicit where the dialer already did the
		// handshake.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if e.srv.Username != "" {
		// PLAIN and LOGIN refuse to send the password over a connection
		// that is neither TLS nor to localhost.
		opts = append(opts, gomail.WithUsername(e.srv.Username), gomail.WithPassword(pass),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	client, err := gomail.NewClient(e.srv.Host, opts...)
	if err != nil {
		return nil, "", err
	}
	return client, pass, nil
}

// afterConn stops the context watcher when the connection is closed
// normally.
type afterConn struct {
	net.Conn
	stop func() bool
}

func (c *afterConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// netError turns a connection or protocol error into the guest's error
// document: timeout (ctx ended: the connection was closed under the
// client) or unavailable, naming the account and server, with the password
// scrubbed.
func netError(ctx context.Context, e *endpoint, err error, pass string) error {
	var ae *abi.Error
	if errors.As(err, &ae) {
		return err
	}
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		// The error under it is only the consequence of closing the
		// connection when the deadline passed.
		return &abi.Error{Code: abi.CodeTimeout, Message: fmt.Sprintf("mail account %q: %s server %s: no answer in time (server timeout %s, or the call's deadline)", e.account, e.proto, e.addr, e.srv.timeout())}
	}
	msg := scrub(err, pass).Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "connection closed by the server (" + msg + ")"
	}
	return &abi.Error{Code: abi.CodeUnavailable, Message: fmt.Sprintf("mail account %q: %s server %s: %s", e.account, e.proto, e.addr, msg)}
}
