//go:build !wasip1

package webmail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/reefhq/reef/runtime/policy"
)

func sendGrant() *policy.Grant {
	return &policy.Grant{Mail: &policy.MailGrant{Accounts: []string{"work"}, Send: []string{"*@corp.example", "partner@other.example"}}}
}

func TestMailSend(t *testing.T) {
	s, pl := loadSkill(t, "mail-send", sendGrant(), nil)

	payload := make([]byte, 3000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	before := len(w.smtp.Messages())
	var out struct {
		MessageID string `json:"message_id"`
	}
	must(t, callJSON(t, s, pl, "send", map[string]any{
		"to":      []string{"alice@corp.example"},
		"cc":      []string{"partner@other.example"},
		"bcc":     []string{"audit@corp.example"},
		"subject": "Weekly report — Grüße",
		"text":    "Hello,\nthe report is attached.",
		"html":    "<p>Hello,<br>the report is attached.</p>",
		"attachments": []map[string]string{
			{"name": "data.bin", "content_base64": base64.StdEncoding.EncodeToString(payload), "type": "application/octet-stream"},
			{"name": "notes.txt", "content_base64": base64.StdEncoding.EncodeToString([]byte("plain notes\n")), "type": "text/plain"},
		},
	}, &out))
	if !strings.HasPrefix(out.MessageID, "<") || !strings.HasSuffix(out.MessageID, "@corp.example>") {
		t.Fatalf("message_id %q", out.MessageID)
	}
	msgs := w.smtp.Messages()
	if len(msgs) != before+1 {
		t.Fatalf("server received %d messages, want 1", len(msgs)-before)
	}
	got := msgs[len(msgs)-1]
	if got.From != mailUser || strings.Join(got.To, ",") != "alice@corp.example,partner@other.example,audit@corp.example" {
		t.Fatalf("envelope from %q to %v", got.From, got.To)
	}
	m, err := mail.ReadMessage(bytes.NewReader(got.Data))
	must(t, err)
	if id := m.Header.Get("Message-Id"); id != out.MessageID {
		t.Fatalf("Message-Id header %q, skill returned %q", id, out.MessageID)
	}
	if subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); subj != "Weekly report — Grüße" {
		t.Fatalf("subject %q", subj)
	}
	if m.Header.Get("Bcc") != "" {
		t.Fatal("Bcc header written into the message")
	}
	atts := attachments(t, m)
	if !bytes.Equal(atts["data.bin"], payload) || string(atts["notes.txt"]) != "plain notes\n" {
		t.Fatalf("attachments did not arrive intact: %d bytes of data.bin, notes %q", len(atts["data.bin"]), atts["notes.txt"])
	}

	t.Run("recipient outside the grant", func(t *testing.T) {
		before := len(w.smtp.Messages())
		// evil.example is requested but not granted; one refused
		// recipient refuses the whole message.
		_, err := call(t, s, pl, "send", map[string]any{"to": []string{"alice@corp.example"}, "bcc": []string{"eve@evil.example"}, "subject": "x", "text": "x"})
		wantDenied(t, err, "mail-send", policy.CapMail, "eve@evil.example")
		if n := len(w.smtp.Messages()); n != before {
			t.Fatalf("a message was sent anyway (%d)", n-before)
		}
	})
	t.Run("account not granted", func(t *testing.T) {
		_, err := call(t, s, pl, "send", map[string]any{"account": "other", "to": []string{"alice@corp.example"}, "subject": "x", "text": "x"})
		wantDenied(t, err, "mail-send", policy.CapMail, "other")
	})
	t.Run("header injection", func(t *testing.T) {
		before := len(w.smtp.Messages())
		for _, in := range []map[string]any{
			{"to": []string{"alice@corp.example"}, "subject": "hi\r\nBcc: eve@evil.example", "text": "x"},
			{"to": []string{"alice@corp.example\r\nBcc: eve@evil.example"}, "subject": "hi", "text": "x"},
			{"to": []string{"alice@corp.example"}, "subject": "hi", "text": "x",
				"attachments": []map[string]string{{"name": "a\r\nX-Evil: 1", "content_base64": "aGk="}}},
		} {
			if _, err := call(t, s, pl, "send", in); err == nil {
				t.Fatalf("accepted %v", in)
			}
		}
		if n := len(w.smtp.Messages()); n != before {
			t.Fatalf("%d messages sent", n-before)
		}
	})
	t.Run("bad base64", func(t *testing.T) {
		_, err := call(t, s, pl, "send", map[string]any{"to": []string{"alice@corp.example"}, "subject": "x", "text": "x",
			"attachments": []map[string]string{{"name": "a.bin", "content_base64": "**nope**"}}})
		if err == nil || !strings.Contains(err.Error(), "attachments[0] (a.bin): content_base64: not valid base64") {
			t.Fatalf("bad base64: %v", err)
		}
	})
	runGoldens(t, s, pl)
}

// attachments returns the decoded parts of m that have a file name.
func attachments(t *testing.T, m *mail.Message) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var walk func(ct string, body io.Reader)
	walk = func(ct string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		must(t, err)
		if !strings.HasPrefix(mt, "multipart/") {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			must(t, err)
			if name := p.FileName(); name != "" {
				var r io.Reader = p
				if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
					r = base64.NewDecoder(base64.StdEncoding, p)
				}
				b, err := io.ReadAll(r)
				must(t, err)
				out[name] = b
				continue
			}
			walk(p.Header.Get("Content-Type"), p)
		}
	}
	walk(m.Header.Get("Content-Type"), m.Body)
	return out
}

func rawMail(from, subject, body string, date time.Time) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d@corp.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		from, mailUser, subject, date.Format(time.RFC1123Z), date.UnixNano(), body))
}

type digestOut struct {
	Mailbox  string `json:"mailbox"`
	Unseen   int    `json:"unseen"`
	Total    *int   `json:"total"`
	Listed   int    `json:"listed"`
	More     bool   `json:"more"`
	Messages []struct {
		UID      uint32 `json:"uid"`
		From     string `json:"from"`
		FromName string `json:"from_name"`
		Subject  string `json:"subject"`
		Date     string `json:"date"`
		Preview  string `json:"preview"`
	} `json:"messages"`
	Senders []struct {
		Address string `json:"address"`
		Name    string `json:"name"`
		Count   int    `json:"count"`
	} `json:"senders"`
}

func TestMailDigest(t *testing.T) {
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	seed := func(from, subject, body string, day int, flags ...imap.Flag) {
		t.Helper()
		_, err := w.imap.seed("INBOX", rawMail(from, subject, body, base.AddDate(0, 0, day)), base.AddDate(0, 0, day), flags...)
		must(t, err)
	}
	seed("Old <old@corp.example>", "Already read", "seen body", 0, imap.FlagSeen)
	seed("Alice <alice@corp.example>", "Invoice 42", "Hi,\r\n\r\n   the invoice for December is attached.  \r\nPay by Friday.\r\nFourth line not shown.", 1)
	seed("Bob <bob@partner.example>", "Lunch?", "Tomorrow at noon?", 2)
	seed("Alice <alice@corp.example>", "Re: Invoice 42", "One more thing.", 3)
	_, err := w.imap.seed("Archive", rawMail("carol@corp.example", "archived", "x", base), base)
	must(t, err)

	g := &policy.Grant{Mail: &policy.MailGrant{Accounts: []string{"work"}, Read: []string{"INBOX"}}}
	s, pl := loadSkill(t, "mail-digest", g, nil)

	var out digestOut
	must(t, callJSON(t, s, pl, "digest", map[string]any{}, &out))
	if out.Mailbox != "INBOX" || out.Unseen != 3 || out.Listed != 3 || out.More || out.Total == nil || *out.Total != 4 {
		t.Fatalf("counts: %+v", out)
	}
	if len(out.Messages) != 3 {
		t.Fatalf("messages: %+v", out.Messages)
	}
	// Newest first.
	m0, m2 := out.Messages[0], out.Messages[2]
	if m0.Subject != "Re: Invoice 42" || m0.From != "alice@corp.example" || m0.FromName != "Alice" || m0.Preview != "One more thing." {
		t.Errorf("newest: %+v", m0)
	}
	if m2.Subject != "Invoice 42" || m2.Preview != "Hi, the invoice for December is attached. Pay by Friday. Fourth line not shown." {
		t.Errorf("oldest unseen: %+v", m2)
	}
	if !strings.HasPrefix(m2.Date, "2026-03-03") {
		t.Errorf("date %q", m2.Date)
	}
	if len(out.Senders) != 2 || out.Senders[0].Address != "alice@corp.example" || out.Senders[0].Count != 2 ||
		out.Senders[1].Address != "bob@partner.example" || out.Senders[1].Count != 1 || out.Senders[0].Name != "Alice" {
		t.Errorf("senders: %+v", out.Senders)
	}

	// Reading changed no flag: the same three are still unseen.
	var again digestOut
	must(t, callJSON(t, s, pl, "digest", map[string]any{"limit": 2, "since": "2026-03-04"}, &again))
	if again.Unseen != 2 || again.Listed != 2 || again.More || again.Messages[0].Subject != "Re: Invoice 42" {
		t.Fatalf("since: %+v", again)
	}
	must(t, callJSON(t, s, pl, "digest", map[string]any{"limit": 1}, &again))
	if again.Unseen != 3 || again.Listed != 1 || !again.More {
		t.Fatalf("limit 1 after reading: %+v", again)
	}

	t.Run("mailbox outside the grant", func(t *testing.T) {
		// Archive is requested by the manifest but not granted.
		_, err := call(t, s, pl, "digest", map[string]any{"mailbox": "Archive"})
		wantDenied(t, err, "mail-digest", policy.CapMail, "Archive")
	})
	t.Run("account not granted", func(t *testing.T) {
		_, err := call(t, s, pl, "digest", map[string]any{"account": "other"})
		wantDenied(t, err, "mail-digest", policy.CapMail, "other")
	})
	runGoldens(t, s, pl)
}
