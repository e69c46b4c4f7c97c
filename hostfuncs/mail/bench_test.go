package hostmail

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	gomail "github.com/wneessen/go-mail"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// BenchmarkSend compares messages per second to a loopback go-smtp server
// through the reef_mail_send handler (JSON decode, validation, grant
// checks, rate limiter, message build) against go-mail called directly
// with the same message and connection settings. Both open a fresh
// connection per message, as the handler does.
func BenchmarkSend(b *testing.B) {
	srv := startSMTP(b, TLSNone)
	m := newModule(b, Options{SendRate: -1, Accounts: map[string]Account{"work": {SMTP: server(b, srv.Port, TLSNone, testPass), From: "reports@corp.example"}}})
	c := newCall(b, "mailer", newPolicy(b, "mailer", skillRequest, fullGrant()))
	body := strings.Repeat("The quarterly numbers are in. ", 40)
	req := []byte(fmt.Sprintf(`{"to":["alice@corp.example","bob@corp.example"],"subject":"Weekly report","text":%q}`, body))
	send := handler(b, m, abi.MailSend)

	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := send(c, req, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("go-mail-direct", func(b *testing.B) {
		b.ReportAllocs()
		dial := guardedDial(b)
		from := &mail.Address{Address: "reports@corp.example"}
		for b.Loop() {
			msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
			msg.FromMailAddress(from)
			if err := msg.To("alice@corp.example", "bob@corp.example"); err != nil {
				b.Fatal(err)
			}
			msg.Subject("Weekly report")
			msg.SetDate()
			msg.SetMessageIDWithValue(newMessageID(from.Address))
			msg.SetBodyString(gomail.TypeTextPlain, body)
			client, err := gomail.NewClient("127.0.0.1", gomail.WithPort(srv.Port), gomail.WithTimeout(5*time.Second),
				gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithDialContextFunc(dial),
				gomail.WithUsername(testUser), gomail.WithPassword(testPass), gomail.WithSMTPAuth(gomail.SMTPAuthPlain))
			if err != nil {
				b.Fatal(err)
			}
			if err := client.DialAndSendWithContext(context.Background(), msg); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkDigest is what a digest skill does over a mailbox of 1,000
// messages (500 unseen): list everything (envelopes only), one search of
// the unseen with previews, or a search followed by one fetch per unseen
// message. Allocation figures include the in-process
// IMAP server's own allocations (same process).
func BenchmarkDigest(b *testing.B) {
	srv := startIMAP(b, TLSNone)
	base := day("2026-01-01")
	for i := range 1000 {
		d := base.Add(time.Duration(i) * time.Minute)
		body := fmt.Sprintf("Hello,\r\n\r\nthis is update number %d about the project.\r\n%s\r\nRegards\r\n", i, strings.Repeat("Details follow in the next lines. ", 30))
		raw := rawMessage(fmt.Sprintf("Sender %d <s%d@corp.example>", i%37, i%37), "robot@corp.example", fmt.Sprintf("Update %d", i), d, body)
		var flags []imap.Flag
		if i%2 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		srv.seed(b, "INBOX", raw, d, flags...)
	}
	m := newModule(b, Options{Accounts: map[string]Account{"work": {IMAP: server(b, srv.Port, TLSNone, testPass)}}})
	c := newCall(b, "digest", newPolicy(b, "digest", skillRequest, fullGrant()))
	search, fetch := handler(b, m, abi.MailSearch), handler(b, m, abi.MailFetch)

	for _, bc := range []struct{ name, req string }{
		{"search-all-1000", `{"mailbox":"INBOX","limit":1000}`},
		{"search-unseen-preview", `{"mailbox":"INBOX","limit":1000,"unseen":true,"preview":true}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := search(c, []byte(bc.req), nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(resp) < 500*100 {
					b.Fatalf("short response: %d bytes", len(resp))
				}
			}
		})
	}
	b.Run("search-unseen-then-fetch-each", func(b *testing.B) {
		b.ReportAllocs()
		req := []byte(`{"mailbox":"INBOX","limit":1000,"unseen":true}`)
		for b.Loop() {
			var s SearchResponse
			if err := invoke(b, m, c, abi.MailSearch, req, &s); err != nil {
				b.Fatal(err)
			}
			if len(s.Messages) != 500 {
				b.Fatalf("%d unseen", len(s.Messages))
			}
			for _, msg := range s.Messages {
				if _, err := fetch(c, []byte(fmt.Sprintf(`{"mailbox":"INBOX","uid":%d}`, msg.UID)), nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
