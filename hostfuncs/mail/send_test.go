package hostmail

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/skill"
)

// sendEnv is a module with one account "work" on a real SMTP server.
func sendEnv(t testing.TB, mode string, opts Options) (*Module, *smtpServer) {
	t.Helper()
	srv := startSMTP(t, mode)
	opts.Accounts = map[string]Account{"work": {SMTP: server(t, srv.Port, mode, testPass), From: "Reports <reports@corp.example>"}}
	return newModule(t, opts), srv
}

func okSend() SendRequest {
	return SendRequest{To: []string{"alice@corp.example"}, Subject: "Weekly report", Text: "Hello"}
}

func TestSendAttachmentArrivesIntact(t *testing.T) {
	bin := make([]byte, 300<<10)
	if _, err := rand.Read(bin); err != nil {
		t.Fatal(err)
	}
	csv := []byte("a,b\r\n1,2\n3,4\n\x00tail without newline")
	for _, mode := range []string{TLSNone, TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			m, srv := sendEnv(t, mode, Options{})
			c := newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, fullGrant()))
			req := SendRequest{
				To:      []string{"alice@corp.example", "bob@corp.example"},
				Cc:      []string{"carol@corp.example"},
				Bcc:     []string{"audit@corp.example"},
				ReplyTo: "team@corp.example",
				Subject: "Rapport hebdomadaire – été ✓",
				Text:    "Bonjour,\nvoici le rapport.\n",
				HTML:    "<p>Bonjour,<br>voici le <b>rapport</b>.</p>",
				Attachments: []Attachment{
					{Name: "data.bin", ContentBase64: base64.StdEncoding.EncodeToString(bin), Type: "application/octet-stream"},
					{Name: "résumé.csv", ContentBase64: base64.StdEncoding.EncodeToString(csv), Type: "text/csv; charset=utf-8"},
				},
			}
			var resp SendResponse
			if err := invoke(t, m, c, abi.MailSend, req, &resp); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(resp.MessageID, "<") || !strings.HasSuffix(resp.MessageID, "@corp.example>") {
				t.Fatalf("message id %q", resp.MessageID)
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("server received %d messages", len(got))
			}
			rcv := got[0]
			if rcv.From != "reports@corp.example" {
				t.Fatalf("envelope from %q", rcv.From)
			}
			wantRcpt := []string{"alice@corp.example", "bob@corp.example", "carol@corp.example", "audit@corp.example"}
			if !slices.Equal(sorted(rcv.To), sorted(wantRcpt)) {
				t.Fatalf("envelope to %v", rcv.To)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(rcv.Data))
			if err != nil {
				t.Fatal(err)
			}
			dec := new(mime.WordDecoder)
			subj, err := dec.DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || subj != req.Subject {
				t.Fatalf("subject %q (%v)", subj, err)
			}
			if msg.Header.Get("Message-Id") != resp.MessageID {
				t.Fatalf("Message-ID header %q, response %q", msg.Header.Get("Message-Id"), resp.MessageID)
			}
			if msg.Header.Get("Bcc") != "" {
				t.Fatalf("Bcc header leaked: %q", msg.Header.Get("Bcc"))
			}
			if to, _ := msg.Header.AddressList("To"); len(to) != 2 {
				t.Fatalf("To: %v", to)
			}
			if rt, _ := msg.Header.AddressList("Reply-To"); len(rt) != 1 || rt[0].Address != "team@corp.example" {
				t.Fatalf("Reply-To: %v", rt)
			}
			parts := walkMIME(t, msg.Header.Get("Content-Type"), msg.Body)
			if !bytes.Equal(parts["data.bin"], bin) {
				t.Fatalf("binary attachment differs (%d bytes, want %d)", len(parts["data.bin"]), len(bin))
			}
			if !bytes.Equal(parts["résumé.csv"], csv) {
				t.Fatalf("csv attachment differs: %q", parts["résumé.csv"])
			}
			if crlf(parts["text/plain"]) != req.Text {
				t.Fatalf("text body %q", parts["text/plain"])
			}
			if crlf(parts["text/html"]) != req.HTML {
				t.Fatalf("html body %q", parts["text/html"])
			}
		})
	}
}

// crlf undoes the CRLF line endings of SMTP transport.
func crlf(b []byte) string { return strings.ReplaceAll(string(b), "\r\n", "\n") }

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// walkMIME decodes every leaf part of a message with mime/multipart:
// attachments by file name, bodies by content type.
func walkMIME(t *testing.T, ctype string, body io.Reader) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var walk func(ctype string, body io.Reader)
	walk = func(ctype string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ctype)
		if err != nil {
			t.Fatalf("content type %q: %v", ctype, err)
		}
		if !strings.HasPrefix(mt, "multipart/") {
			t.Fatalf("top level is %s", mt)
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pct := p.Header.Get("Content-Type")
			pmt, _, _ := mime.ParseMediaType(pct)
			if strings.HasPrefix(pmt, "multipart/") {
				walk(pct, p)
				continue
			}
			var r io.Reader = p
			switch strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) {
			case "base64":
				r = base64.NewDecoder(base64.StdEncoding, p)
			case "quoted-printable":
				r = quotedprintable.NewReader(p)
			}
			data, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			key := pmt
			if _, dp, err := mime.ParseMediaType(p.Header.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
				key, _ = new(mime.WordDecoder).DecodeHeader(dp["filename"])
			}
			out[key] = data
		}
	}
	walk(ctype, body)
	return out
}

func TestSendRecipientOutsideGrantRefused(t *testing.T) {
	m, srv := sendEnv(t, TLSNone, Options{})
	c := newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, fullGrant()))
	tests := []struct {
		name string
		mod  func(*SendRequest)
	}{
		{"to", func(r *SendRequest) { r.To = append(r.To, "mallory@evil.example") }},
		{"cc", func(r *SendRequest) { r.Cc = []string{"mallory@evil.example"} }},
		{"bcc", func(r *SendRequest) { r.Bcc = []string{"mallory@evil.example"} }},
		{"case and subdomain", func(r *SendRequest) { r.To = []string{"ALICE@sub.corp.example"} }},
		// Requested by the skill, not granted by the operator.
		{"requested not granted", func(r *SendRequest) { r.To = []string{"partner@other.example"} }},
		{"lookalike domain", func(r *SendRequest) { r.To = []string{"x@corp.example.evil.example"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := okSend()
			tt.mod(&req)
			err := invoke(t, m, c, abi.MailSend, req, nil)
			wantCode(t, err, abi.CodeDenied)
			if !isDenial(err) {
				t.Fatalf("not a policy denial: %v", err)
			}
		})
	}
	// Granted by the operator, but the skill's manifest did not ask for it.
	narrow := &skill.MailRequest{Send: &skill.MailSend{To: []string{"alice@corp.example"}}}
	err := invoke(t, m, newCall(t, "mailer", newPolicy(t, "mailer", narrow, fullGrant())), abi.MailSend, SendRequest{To: []string{"bob@corp.example"}, Text: "x"}, nil)
	wantCode(t, err, abi.CodeDenied, "not requested by the skill")
	// A skill with no send grant at all.
	noSend := fullGrant()
	noSend.Send = nil
	err = invoke(t, m, newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, noSend)), abi.MailSend, okSend(), nil)
	wantCode(t, err, abi.CodeDenied, "sending not granted")
	// An account that is not granted.
	req := okSend()
	req.Account = "other"
	wantCode(t, invoke(t, m, c, abi.MailSend, req, nil), abi.CodeDenied, "account not granted")
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server received %d messages after refusals", n)
	}
}

func TestSendHeaderInjectionRejected(t *testing.T) {
	m, srv := sendEnv(t, TLSNone, Options{})
	c := newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, fullGrant()))
	b64 := base64.StdEncoding.EncodeToString([]byte("x"))
	tests := []struct {
		name, field string
		mod         func(*SendRequest)
	}{
		{"subject CRLF", "subject", func(r *SendRequest) { r.Subject = "Hi\r\nBcc: mallory@evil.example" }},
		{"subject LF", "subject", func(r *SendRequest) { r.Subject = "Hi\nBcc: mallory@evil.example" }},
		{"subject CR", "subject", func(r *SendRequest) { r.Subject = "Hi\rBcc: mallory@evil.example" }},
		{"subject NUL", "subject", func(r *SendRequest) { r.Subject = "Hi\x00there" }},
		{"subject folded", "subject", func(r *SendRequest) { r.Subject = "Hi\r\n Bcc: x" }},
		{"to CRLF", "to[0]", func(r *SendRequest) { r.To = []string{"alice@corp.example\r\nBcc: mallory@evil.example"} }},
		{"to LF", "to[0]", func(r *SendRequest) { r.To = []string{"alice@corp.example\nBcc: mallory@evil.example"} }},
		{"to display name", "to[0]", func(r *SendRequest) { r.To = []string{"Alice <alice@corp.example>"} }},
		{"to list in one", "to[0]", func(r *SendRequest) { r.To = []string{"alice@corp.example, mallory@evil.example"} }},
		{"to group", "to[0]", func(r *SendRequest) { r.To = []string{"g: alice@corp.example;"} }},
		{"to comment", "to[0]", func(r *SendRequest) { r.To = []string{"alice@corp.example (x)"} }},
		{"to angle brackets", "to[0]", func(r *SendRequest) { r.To = []string{"<alice@corp.example>"} }},
		{"cc CRLF", "cc[0]", func(r *SendRequest) { r.Cc = []string{"bob@corp.example\r\nX-Evil: 1"} }},
		{"bcc NUL", "bcc[0]", func(r *SendRequest) { r.Bcc = []string{"bob@corp.example\x00"} }},
		{"reply_to CRLF", "reply_to", func(r *SendRequest) { r.ReplyTo = "team@corp.example\r\nBcc: mallory@evil.example" }},
		{"reply_to list", "reply_to", func(r *SendRequest) { r.ReplyTo = "team@corp.example, mallory@evil.example" }},
		{"attachment name CRLF", "attachments[0].name", func(r *SendRequest) {
			r.Attachments = []Attachment{{Name: "a.txt\r\nContent-Type: text/html", ContentBase64: b64}}
		}},
		{"attachment name LF", "attachments[0].name", func(r *SendRequest) {
			r.Attachments = []Attachment{{Name: "a.txt\nX: y", ContentBase64: b64}}
		}},
		{"attachment name NUL", "attachments[0].name", func(r *SendRequest) {
			r.Attachments = []Attachment{{Name: "a.txt\x00.exe", ContentBase64: b64}}
		}},
		{"attachment type CRLF", "attachments[0].type", func(r *SendRequest) {
			r.Attachments = []Attachment{{Name: "a.txt", ContentBase64: b64, Type: "text/plain\r\nBcc: mallory@evil.example"}}
		}},
		{"attachment type not a type", "attachments[0].type", func(r *SendRequest) {
			r.Attachments = []Attachment{{Name: "a.txt", ContentBase64: b64, Type: "text/plain; x=\"unterminated"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := okSend()
			tt.mod(&req)
			wantCode(t, invoke(t, m, c, abi.MailSend, req, nil), abi.CodeInvalid, tt.field)
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server received %d messages after rejected requests", n)
	}
	// The same header injection smuggled through raw JSON escapes.
	raw := `{"to":["alice@corp.example"],"subject":"Hi\u000d\u000aBcc: mallory@evil.example","text":"x"}`
	wantCode(t, invoke(t, m, c, abi.MailSend, raw, nil), abi.CodeInvalid, "line break")
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server received %d messages", n)
	}
}

func TestSendRequestErrors(t *testing.T) {
	m, srv := sendEnv(t, TLSNone, Options{MaxAttachmentBytes: 1000, MaxMessageBytes: 2500})
	c := newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, fullGrant()))
	att := func(n int) Attachment {
		return Attachment{Name: "f.bin", ContentBase64: base64.StdEncoding.EncodeToString(make([]byte, n))}
	}
	tests := []struct {
		name, code, msg string
		req             any
	}{
		{"not json", abi.CodeInvalid, "request", "{"},
		{"unknown field", abi.CodeInvalid, "attachements", `{"to":["a@corp.example"],"subject":"s","text":"x","attachements":[]}`},
		{"no recipient", abi.CodeInvalid, "recipient", SendRequest{Subject: "s", Text: "x"}},
		{"no body", abi.CodeInvalid, "body", SendRequest{To: []string{"a@corp.example"}, Subject: "s"}},
		{"bad base64", abi.CodeInvalid, "content_base64", SendRequest{To: []string{"a@corp.example"}, Text: "x", Attachments: []Attachment{{Name: "a", ContentBase64: "!!"}}}},
		{"no attachment name", abi.CodeInvalid, "name: required", SendRequest{To: []string{"a@corp.example"}, Text: "x", Attachments: []Attachment{{ContentBase64: ""}}}},
		{"attachment too large", abi.CodeLimit, "attachment limit", SendRequest{To: []string{"a@corp.example"}, Text: "x", Attachments: []Attachment{att(1001)}}},
		{"message too large", abi.CodeLimit, "2500-byte limit", SendRequest{To: []string{"a@corp.example"}, Text: "x", Attachments: []Attachment{att(1000), att(1000), att(1000)}}},
		{"subject too long", abi.CodeInvalid, "at most 2000", SendRequest{To: []string{"a@corp.example"}, Text: "x", Subject: strings.Repeat("s", 2001)}},
		{"too many recipients", abi.CodeInvalid, "at most 100", SendRequest{To: slices.Repeat([]string{"a@corp.example"}, 101), Text: "x"}},
		{"not an address", abi.CodeInvalid, "to[0]", SendRequest{To: []string{"alice"}, Text: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, invoke(t, m, c, abi.MailSend, tt.req, nil), tt.code, tt.msg)
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server received %d messages", n)
	}
	// Exactly at the limit is fine.
	req := okSend()
	req.Attachments = []Attachment{att(1000)}
	if err := invoke(t, m, c, abi.MailSend, req, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSendRateLimitPerSkill(t *testing.T) {
	m, srv := sendEnv(t, TLSNone, Options{SendRate: 2})
	a := newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, fullGrant()))
	for i := range 2 {
		if err := invoke(t, m, a, abi.MailSend, okSend(), nil); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	wantCode(t, invoke(t, m, a, abi.MailSend, okSend(), nil), abi.CodeLimit, "rate limit", `"mailer"`)
	// Another skill has its own bucket.
	b := newCall(t, "other", newPolicy(t, "other", skillRequest, fullGrant()))
	if err := invoke(t, m, b, abi.MailSend, okSend(), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 3 {
		t.Fatalf("server received %d messages, want 3", n)
	}
	// The bucket refills with time.
	now := time.Now()
	m.limiter.now = func() time.Time { return now.Add(31 * time.Second) }
	if ok, _ := m.limiter.take("mailer"); !ok {
		t.Fatal("bucket did not refill")
	}
}

func TestSendWrongPasswordNotEchoed(t *testing.T) {
	const wrong = "Wr0ng-Pa55-Zebra"
	for _, mode := range []string{TLSNone, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			srv := startSMTP(t, mode)
			m := newModule(t, Options{Accounts: map[string]Account{"work": {SMTP: server(t, srv.Port, mode, wrong), From: "reports@corp.example"}}})
			c := newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, fullGrant()))
			err := invoke(t, m, c, abi.MailSend, okSend(), nil)
			wantCode(t, err, abi.CodeUnavailable, `mail account "work"`, "smtp server 127.0.0.1", "AUTH")
			doc := abi.ToDocument("mail", err)
			if strings.Contains(doc.Message, wrong) || strings.Contains(err.Error(), wrong) || strings.Contains(string(doc.Marshal()), wrong) {
				t.Fatalf("error echoes the password: %s", doc.Marshal())
			}
			if len(srv.Messages()) != 0 {
				t.Fatal("message delivered with a wrong password")
			}
		})
	}
}

func TestSendPasswordMissing(t *testing.T) {
	srv := startSMTP(t, TLSNone)
	s := server(t, srv.Port, TLSNone, testPass)
	s.PasswordFile, s.PasswordEnv = "", "REEF_TEST_MAIL_NOT_SET"
	m := newModule(t, Options{Accounts: map[string]Account{"work": {SMTP: s, From: "reports@corp.example"}}})
	c := newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, fullGrant()))
	wantCode(t, invoke(t, m, c, abi.MailSend, okSend(), nil), abi.CodeUnavailable, "REEF_TEST_MAIL_NOT_SET is not set")
}

func TestSendServerDropsConnection(t *testing.T) {
	srv := startSMTP(t, TLSNone)
	p := startProxy(t, srv.Port)
	p.dropOn("DATA\r\n", false)
	m := newModule(t, Options{Accounts: map[string]Account{"work": {SMTP: server(t, p.Port, TLSNone, testPass), From: "reports@corp.example"}}})
	c := newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, fullGrant()))
	start := time.Now()
	err := invoke(t, m, c, abi.MailSend, okSend(), nil)
	wantCode(t, err, abi.CodeUnavailable, "smtp server 127.0.0.1")
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("took %s to notice the dropped connection", d)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("message delivered")
	}
}

func TestSendServerStallsTimesOut(t *testing.T) {
	srv := startSMTP(t, TLSNone)
	p := startProxy(t, srv.Port)
	p.dropOn("DATA\r\n", true)
	s := server(t, p.Port, TLSNone, testPass)
	s.Timeout = skill.Duration(400 * time.Millisecond)
	m := newModule(t, Options{Accounts: map[string]Account{"work": {SMTP: s, From: "reports@corp.example"}}})
	c := newCall(t, "mailer", newPolicy(t, "mailer", skillRequest, fullGrant()))
	start := time.Now()
	err := invoke(t, m, c, abi.MailSend, okSend(), nil)
	wantCode(t, err, abi.CodeTimeout)
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("stalled send took %s", d)
	}
}
