package hostmail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/skill"
)

var day = func(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t.Add(12 * time.Hour)
}

// rawMessage builds a simple text message.
func rawMessage(from, to, subject string, date time.Time, body string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d@corp.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		from, to, subject, date.Format(time.RFC1123Z), date.UnixNano(), body))
}

var attachmentBytes = func() []byte {
	b := make([]byte, 3000)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

// multipartMessage has text, HTML and a binary attachment.
func multipartMessage() []byte {
	enc := base64.StdEncoding.EncodeToString(attachmentBytes)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	return []byte("From: \"Carol\" <carol@corp.example>\r\n" +
		"To: robot@corp.example, Dave <dave@corp.example>\r\n" +
		"Cc: erin@corp.example\r\n" +
		"Subject: =?utf-8?q?Factures_=C3=A9t=C3=A9?=\r\n" +
		"Date: Mon, 05 Jan 2026 10:00:00 +0100\r\n" +
		"Message-ID: <multi-1@corp.example>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
		"--outer\r\n" +
		"Content-Type: multipart/alternative; boundary=inner\r\n\r\n" +
		"--inner\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nVoici les factures de l'=E9t=E9.\r\n" +
		"--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Voici les <b>factures</b></p>\r\n" +
		"--inner--\r\n" +
		"--outer\r\nContent-Type: application/pdf; name=\"facture.pdf\"\r\nContent-Disposition: attachment; filename=\"facture.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		strings.Join(lines, "\r\n") + "\r\n" +
		"--outer--\r\n")
}

// readEnv is a module with account "work" on a real IMAP server holding
// INBOX, Archive and Secret.
type readEnv struct {
	m    *Module
	srv  *imapServer
	uids map[string]imap.UID
}

func newReadEnv(t testing.TB, mode string, opts Options) *readEnv {
	t.Helper()
	srv := startIMAP(t, mode, "Archive", "Secret")
	opts.Accounts = map[string]Account{"work": {IMAP: server(t, srv.Port, mode, testPass)}}
	e := &readEnv{m: newModule(t, opts), srv: srv, uids: map[string]imap.UID{}}
	e.uids["old"] = srv.seed(t, "INBOX", rawMessage("Alice <alice@corp.example>", "robot@corp.example", "Old news", day("2025-12-01"), "Old body"), day("2025-12-01"), imap.FlagSeen)
	e.uids["invoice"] = srv.seed(t, "INBOX", rawMessage("Bob <bob@vendor.example>", "robot@corp.example", "Invoice 42", day("2026-01-03"), "Please pay.\r\nThanks"), day("2026-01-03"))
	e.uids["multi"] = srv.seed(t, "INBOX", multipartMessage(), day("2026-01-05"))
	e.uids["seen"] = srv.seed(t, "INBOX", rawMessage("Alice <alice@corp.example>", "robot@corp.example", "Lunch?", day("2026-01-06"), "At noon"), day("2026-01-06"), imap.FlagSeen)
	srv.seed(t, "Secret", rawMessage("ceo@corp.example", "robot@corp.example", "Top secret", day("2026-01-06"), "x"), day("2026-01-06"))
	return e
}

func readCall(t testing.TB, grantMod func(g *grantT)) *callT {
	g := fullGrant()
	if grantMod != nil {
		grantMod(g)
	}
	return newCall(t, "digest", newPolicy(t, "digest", skillRequest, g))
}

func uidsOf(ms []MessageSummary) []uint32 {
	var out []uint32
	for _, m := range ms {
		out = append(out, m.UID)
	}
	return out
}

func TestIMAPSearch(t *testing.T) {
	e := newReadEnv(t, TLSNone, Options{})
	c := readCall(t, nil)
	u := func(names ...string) []uint32 {
		var out []uint32
		for _, n := range names {
			out = append(out, uint32(e.uids[n]))
		}
		return out
	}
	tests := []struct {
		name  string
		req   SearchRequest
		want  []uint32 // newest first
		total int
	}{
		{"all", SearchRequest{Mailbox: "INBOX"}, u("seen", "multi", "invoice", "old"), 4},
		{"inbox any case", SearchRequest{Mailbox: "inbox"}, u("seen", "multi", "invoice", "old"), 4},
		{"unseen", SearchRequest{Mailbox: "INBOX", Unseen: true}, u("multi", "invoice"), 2},
		{"since", SearchRequest{Mailbox: "INBOX", Since: "2026-01-04"}, u("seen", "multi"), 2},
		{"since rfc3339", SearchRequest{Mailbox: "INBOX", Since: "2026-01-04T23:00:00Z"}, u("seen", "multi"), 2},
		{"from", SearchRequest{Mailbox: "INBOX", From: "alice@corp"}, u("seen", "old"), 2},
		{"from name", SearchRequest{Mailbox: "INBOX", From: "bob"}, u("invoice"), 1},
		{"subject", SearchRequest{Mailbox: "INBOX", Subject: "invoice"}, u("invoice"), 1},
		{"combined", SearchRequest{Mailbox: "INBOX", Unseen: true, From: "alice"}, nil, 0},
		{"limit keeps newest", SearchRequest{Mailbox: "INBOX", Limit: 2}, u("seen", "multi"), 4},
		{"empty mailbox", SearchRequest{Mailbox: "Archive"}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp SearchResponse
			if err := invoke(t, e.m, c, abi.MailSearch, tt.req, &resp); err != nil {
				t.Fatal(err)
			}
			if got := uidsOf(resp.Messages); !slices.Equal(got, tt.want) || resp.Total != tt.total {
				t.Fatalf("uids %v total %d, want %v total %d", got, resp.Total, tt.want, tt.total)
			}
		})
	}

	var resp SearchResponse
	if err := invoke(t, e.m, c, abi.MailSearch, SearchRequest{Mailbox: "INBOX", Subject: "Factures", Preview: true}, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Messages) != 1 {
		t.Fatalf("got %+v", resp)
	}
	got := resp.Messages[0]
	if got.Subject != "Factures été" || got.From[0] != (Address{Name: "Carol", Address: "carol@corp.example"}) || len(got.To) != 2 ||
		got.Seen || got.Size == 0 || got.Date != "2026-01-05T10:00:00+01:00" || got.Preview != "Voici les factures de l'été." {
		t.Fatalf("summary %+v", got)
	}

	bad := []struct {
		name string
		req  any
		msg  string
	}{
		{"since", SearchRequest{Mailbox: "INBOX", Since: "yesterday"}, "since"},
		{"limit", SearchRequest{Mailbox: "INBOX", Limit: 5000}, "limit"},
		{"from CRLF", SearchRequest{Mailbox: "INBOX", From: "a\r\nb"}, "line break"},
		{"mailbox wildcard", SearchRequest{Mailbox: "*"}, "wildcard"},
		{"no mailbox", SearchRequest{}, "mailbox: required"},
		{"unknown field", `{"mailbox":"INBOX","unssen":true}`, "unssen"},
	}
	for _, tt := range bad {
		t.Run("invalid "+tt.name, func(t *testing.T) {
			wantCode(t, invoke(t, e.m, c, abi.MailSearch, tt.req, nil), abi.CodeInvalid, tt.msg)
		})
	}
}

func TestIMAPFetch(t *testing.T) {
	e := newReadEnv(t, TLSNone, Options{MaxAttachmentBytes: 4000})
	c := readCall(t, nil)
	var resp FetchResponse
	if err := invoke(t, e.m, c, abi.MailFetch, FetchRequest{Mailbox: "INBOX", UID: uint32(e.uids["multi"])}, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Subject != "Factures été" || resp.MessageID != "<multi-1@corp.example>" || len(resp.Cc) != 1 || resp.Seen {
		t.Fatalf("headers %+v", resp)
	}
	if strings.TrimSpace(resp.Text) != "Voici les factures de l'été." || !strings.Contains(resp.HTML, "<b>factures</b>") {
		t.Fatalf("text %q html %q", resp.Text, resp.HTML)
	}
	if len(resp.Attachments) != 1 || resp.Attachments[0].Name != "facture.pdf" || resp.Attachments[0].Type != "application/pdf" ||
		resp.Attachments[0].Size != int64(len(attachmentBytes)) || resp.Attachments[0].ContentBase64 != "" {
		t.Fatalf("attachments %+v", resp.Attachments)
	}
	if got := resp.Headers["Message-Id"]; len(got) != 1 || got[0] != "<multi-1@corp.example>" {
		t.Fatalf("headers map %v", resp.Headers)
	}

	// Reading does not mark the message seen.
	var s SearchResponse
	if err := invoke(t, e.m, c, abi.MailSearch, SearchRequest{Mailbox: "INBOX", Unseen: true}, &s); err != nil || len(s.Messages) != 2 {
		t.Fatalf("fetch changed flags: %+v %v", s, err)
	}

	// With attachment content.
	resp = FetchResponse{}
	if err := invoke(t, e.m, c, abi.MailFetch, FetchRequest{Mailbox: "INBOX", UID: uint32(e.uids["multi"]), Attachments: true}, &resp); err != nil {
		t.Fatal(err)
	}
	if got, _ := base64.StdEncoding.DecodeString(resp.Attachments[0].ContentBase64); !bytes.Equal(got, attachmentBytes) {
		t.Fatalf("attachment content differs")
	}

	// Headers only.
	no := false
	resp = FetchResponse{}
	if err := invoke(t, e.m, c, abi.MailFetch, FetchRequest{Mailbox: "INBOX", UID: uint32(e.uids["multi"]), Body: &no}, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Text != "" || resp.HTML != "" || len(resp.Attachments) != 0 || resp.Subject == "" || len(resp.Headers["Subject"]) != 1 {
		t.Fatalf("headers-only fetch %+v", resp)
	}

	wantCode(t, invoke(t, e.m, c, abi.MailFetch, FetchRequest{Mailbox: "INBOX", UID: 9999}, nil), abi.CodeNotFound, "uid 9999")
	wantCode(t, invoke(t, e.m, c, abi.MailFetch, FetchRequest{Mailbox: "INBOX"}, nil), abi.CodeInvalid, "uid")
}

func TestIMAPFetchCaps(t *testing.T) {
	e := newReadEnv(t, TLSNone, Options{MaxAttachmentBytes: 1000, MaxTextBytes: 10})
	c := readCall(t, nil)
	var resp FetchResponse
	if err := invoke(t, e.m, c, abi.MailFetch, FetchRequest{Mailbox: "INBOX", UID: uint32(e.uids["multi"]), Attachments: true}, &resp); err != nil {
		t.Fatal(err)
	}
	if !resp.TextTruncated || len(resp.Text) > 10 || !resp.HTMLTruncated {
		t.Fatalf("text not capped: %q %v", resp.Text, resp.TextTruncated)
	}
	a := resp.Attachments[0]
	if a.ContentBase64 != "" || a.Omitted == "" || a.Size != int64(len(attachmentBytes)) {
		t.Fatalf("attachment not capped: %+v", a)
	}
}

func TestIMAPMarkSeenAndMove(t *testing.T) {
	e := newReadEnv(t, TLSNone, Options{})
	c := readCall(t, nil)
	inv, multi := uint32(e.uids["invoice"]), uint32(e.uids["multi"])

	var ms MarkSeenResponse
	if err := invoke(t, e.m, c, abi.MailMark, MarkSeenRequest{Mailbox: "INBOX", UIDs: []uint32{inv, 9999}}, &ms); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ms.UIDs, []uint32{inv}) {
		t.Fatalf("marked %v", ms.UIDs)
	}
	var s SearchResponse
	if err := invoke(t, e.m, c, abi.MailSearch, SearchRequest{Mailbox: "INBOX", Unseen: true}, &s); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(uidsOf(s.Messages), []uint32{multi}) {
		t.Fatalf("unseen after mark: %v", uidsOf(s.Messages))
	}

	var mv MoveResponse
	if err := invoke(t, e.m, c, abi.MailMove, MoveRequest{Mailbox: "INBOX", UIDs: []uint32{inv, multi}, To: "Archive"}, &mv); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mv.Moved, []uint32{inv, multi}) {
		t.Fatalf("moved %v", mv.Moved)
	}
	if err := invoke(t, e.m, c, abi.MailSearch, SearchRequest{Mailbox: "INBOX"}, &s); err != nil || s.Total != 2 {
		t.Fatalf("inbox after move: %+v %v", s, err)
	}
	if err := invoke(t, e.m, c, abi.MailSearch, SearchRequest{Mailbox: "Archive"}, &s); err != nil || s.Total != 2 || s.Messages[1].Subject != "Invoice 42" || !s.Messages[1].Seen {
		t.Fatalf("archive after move: %+v %v", s, err)
	}

	var mb MailboxesResponse
	if err := invoke(t, e.m, c, abi.MailList, MailboxesRequest{}, &mb); err != nil {
		t.Fatal(err)
	}
	want := []MailboxInfo{{Name: "INBOX", Messages: 2, Unseen: 0}, {Name: "Archive", Messages: 2, Unseen: 1}}
	if !slices.Equal(mb.Mailboxes, want) {
		t.Fatalf("mailboxes %+v, want %+v (Secret exists but is not granted)", mb.Mailboxes, want)
	}

	// Moving UIDs that no longer exist moves nothing.
	if err := invoke(t, e.m, c, abi.MailMove, MoveRequest{Mailbox: "INBOX", UIDs: []uint32{inv}, To: "Archive"}, &mv); err != nil || len(mv.Moved) != 0 {
		t.Fatalf("second move: %+v %v", mv, err)
	}
	wantCode(t, invoke(t, e.m, c, abi.MailMove, MoveRequest{Mailbox: "INBOX", UIDs: []uint32{1}, To: "INBOX"}, nil), abi.CodeInvalid, "same as mailbox")
	wantCode(t, invoke(t, e.m, c, abi.MailMark, MarkSeenRequest{Mailbox: "INBOX"}, nil), abi.CodeInvalid, "uids")
	wantCode(t, invoke(t, e.m, c, abi.MailMark, MarkSeenRequest{Mailbox: "INBOX", UIDs: []uint32{0}}, nil), abi.CodeInvalid, "0 is not")
}

func TestIMAPPolicy(t *testing.T) {
	e := newReadEnv(t, TLSNone, Options{})
	full := readCall(t, nil)
	readOnly := readCall(t, func(g *grantT) { g.Modify = false })
	inv := uint32(e.uids["invoice"])
	tests := []struct {
		name   string
		c      *callT
		fn     string
		req    any
		reason string
	}{
		{"search ungranted mailbox", full, abi.MailSearch, SearchRequest{Mailbox: "Secret"}, "mailbox not granted"},
		{"fetch ungranted mailbox", full, abi.MailFetch, FetchRequest{Mailbox: "Secret", UID: 1}, "mailbox not granted"},
		{"mark ungranted mailbox", full, abi.MailMark, MarkSeenRequest{Mailbox: "Secret", UIDs: []uint32{1}}, "mailbox not granted"},
		{"move from ungranted", full, abi.MailMove, MoveRequest{Mailbox: "Secret", UIDs: []uint32{1}, To: "INBOX"}, "mailbox not granted"},
		{"move to ungranted", full, abi.MailMove, MoveRequest{Mailbox: "INBOX", UIDs: []uint32{inv}, To: "Secret"}, "mailbox not granted"},
		{"mark without modify", readOnly, abi.MailMark, MarkSeenRequest{Mailbox: "INBOX", UIDs: []uint32{inv}}, "modify not granted"},
		{"move without modify", readOnly, abi.MailMove, MoveRequest{Mailbox: "INBOX", UIDs: []uint32{inv}, To: "Archive"}, "modify not granted"},
		{"account not granted", full, abi.MailSearch, SearchRequest{Account: "personal", Mailbox: "INBOX"}, "account not granted"},
		{"no mail grant", readCall(t, func(g *grantT) { g.Accounts = nil }), abi.MailList, MailboxesRequest{}, "mail not granted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := invoke(t, e.m, tt.c, tt.fn, tt.req, nil)
			wantCode(t, err, abi.CodeDenied, tt.reason)
			if !isDenial(err) {
				t.Fatalf("not a policy denial: %v", err)
			}
		})
	}
	// Nothing was changed by the refused calls.
	var s SearchResponse
	if err := invoke(t, e.m, full, abi.MailSearch, SearchRequest{Mailbox: "INBOX", Unseen: true}, &s); err != nil || s.Total != 2 {
		t.Fatalf("inbox changed: %+v %v", s, err)
	}
	st, err := e.srv.User.Status("Secret", &imap.StatusOptions{NumMessages: true, NumUnseen: true})
	if err != nil || *st.NumMessages != 1 || *st.NumUnseen != 1 {
		t.Fatalf("Secret changed: %+v %v", st, err)
	}
	// Read-only is enough to read.
	if err := invoke(t, e.m, readOnly, abi.MailFetch, FetchRequest{Mailbox: "INBOX", UID: inv}, nil); err != nil {
		t.Fatal(err)
	}
	// Granted by the operator but not configured.
	m := newModule(t, Options{Accounts: map[string]Account{"work": {SMTP: &Server{Host: "127.0.0.1", TLS: TLSNone}, From: "a@corp.example"}}})
	wantCode(t, invoke(t, m, full, abi.MailSearch, SearchRequest{Mailbox: "INBOX"}, nil), abi.CodeUnavailable, "no imap server")
	m = newModule(t, Options{})
	wantCode(t, invoke(t, m, full, abi.MailSearch, SearchRequest{Mailbox: "INBOX"}, nil), abi.CodeUnavailable, "not configured")
}

func TestIMAPTLSModes(t *testing.T) {
	for _, mode := range []string{TLSNone, TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			e := newReadEnv(t, mode, Options{})
			var mb MailboxesResponse
			if err := invoke(t, e.m, readCall(t, nil), abi.MailList, `{}`, &mb); err != nil {
				t.Fatal(err)
			}
			if len(mb.Mailboxes) != 2 || mb.Mailboxes[0].Messages != 4 {
				t.Fatalf("mailboxes %+v", mb)
			}
		})
	}
}

func TestTLSVerificationOnByDefault(t *testing.T) {
	for _, mode := range []string{TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			srv := startIMAP(t, mode)
			s := server(t, srv.Port, mode, testPass)
			s.CAFile = "" // the self-signed certificate is not trusted
			m := newModule(t, Options{Accounts: map[string]Account{"work": {IMAP: s}}})
			err := invoke(t, m, readCall(t, nil), abi.MailList, MailboxesRequest{}, nil)
			wantCode(t, err, abi.CodeUnavailable, "certificate")

			smtpSrv := startSMTP(t, mode)
			s = server(t, smtpSrv.Port, mode, testPass)
			s.CAFile = ""
			m = newModule(t, Options{Accounts: map[string]Account{"work": {SMTP: s, From: "a@corp.example"}}})
			wantCode(t, invoke(t, m, readCall(t, nil), abi.MailSend, okSend(), nil), abi.CodeUnavailable, "certificate")
			if len(smtpSrv.Messages()) != 0 {
				t.Fatal("sent over an unverified connection")
			}

			// The explicit opt-out works (and New logged a warning,
			// see TestInsecureSkipVerifyIsLogged).
			s = server(t, srv.Port, mode, testPass)
			s.CAFile, s.InsecureSkipVerify = "", true
			m = newModule(t, Options{Accounts: map[string]Account{"work": {IMAP: s}}, Logger: slog.New(slog.DiscardHandler)})
			if err := invoke(t, m, readCall(t, nil), abi.MailList, MailboxesRequest{}, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestIMAPWrongPasswordNotEchoed(t *testing.T) {
	const wrong = "Wr0ng-Pa55-Zebra"
	srv := startIMAP(t, TLSImplicit)
	t.Setenv("REEF_TEST_IMAP_PASS", wrong)
	s := server(t, srv.Port, TLSImplicit, "")
	s.PasswordFile, s.PasswordEnv = "", "REEF_TEST_IMAP_PASS"
	m := newModule(t, Options{Accounts: map[string]Account{"work": {IMAP: s}}})
	err := invoke(t, m, readCall(t, nil), abi.MailList, MailboxesRequest{}, nil)
	wantCode(t, err, abi.CodeUnavailable, "login as", "refused by the server", "password_env")
	if doc := abi.ToDocument("mail", err); strings.Contains(string(doc.Marshal()), wrong) || strings.Contains(err.Error(), wrong) {
		t.Fatalf("error echoes the password: %s", doc.Marshal())
	}
}

func TestScrubRemovesPassword(t *testing.T) {
	err := scrub(fmt.Errorf("server said: bad password %q", "hunter22"), "hunter22")
	if strings.Contains(err.Error(), "hunter22") || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("%v", err)
	}
}

func TestIMAPServerDropsConnection(t *testing.T) {
	e := newReadEnv(t, TLSNone, Options{})
	p := startProxy(t, e.srv.Port)
	s := server(t, p.Port, TLSNone, testPass)
	m := newModule(t, Options{Accounts: map[string]Account{"work": {IMAP: s}}, IMAPIdle: -1})
	p.dropOn("UID FETCH", false)
	start := time.Now()
	err := invoke(t, m, readCall(t, nil), abi.MailFetch, FetchRequest{Mailbox: "INBOX", UID: uint32(e.uids["invoice"])}, nil)
	wantCode(t, err, abi.CodeUnavailable, "imap server 127.0.0.1", "connection closed by the server")
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("took %s to notice the dropped connection", d)
	}
}

func TestIMAPServerStallsTimesOut(t *testing.T) {
	e := newReadEnv(t, TLSNone, Options{})
	p := startProxy(t, e.srv.Port)
	s := server(t, p.Port, TLSNone, testPass)
	s.Timeout = skill.Duration(400 * time.Millisecond)
	m := newModule(t, Options{Accounts: map[string]Account{"work": {IMAP: s}}})
	p.dropOn("UID SEARCH", true)
	start := time.Now()
	err := invoke(t, m, readCall(t, nil), abi.MailSearch, SearchRequest{Mailbox: "INBOX"}, nil)
	wantCode(t, err, abi.CodeTimeout, "no answer in time")
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("stalled search took %s", d)
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	ln := listenLoopback(t)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // accept, never greet
		}
	}()
	port := portOf(t, ln.Addr())
	si := server(t, port, TLSNone, testPass)
	si.Timeout = skill.Duration(300 * time.Millisecond)
	ss := server(t, port, TLSNone, testPass)
	ss.Timeout = skill.Duration(300 * time.Millisecond)
	m := newModule(t, Options{Accounts: map[string]Account{"work": {IMAP: si, SMTP: ss, From: "a@corp.example"}}})
	for _, fn := range []string{abi.MailList, abi.MailSend} {
		start := time.Now()
		var req any = MailboxesRequest{}
		if fn == abi.MailSend {
			req = okSend()
		}
		wantCode(t, invoke(t, m, readCall(t, nil), fn, req, nil), abi.CodeTimeout)
		if d := time.Since(start); d > 4*time.Second {
			t.Fatalf("%s against a silent server took %s", fn, d)
		}
	}
}

func TestIMAPReconnectsAfterDrop(t *testing.T) {
	e := newReadEnv(t, TLSNone, Options{})
	p := startProxy(t, e.srv.Port)
	m := newModule(t, Options{Accounts: map[string]Account{"work": {IMAP: server(t, p.Port, TLSNone, testPass)}}})
	c := readCall(t, nil)
	req := SearchRequest{Mailbox: "INBOX"}
	if err := invoke(t, m, c, abi.MailSearch, req, nil); err != nil {
		t.Fatal(err)
	}
	if err := invoke(t, m, c, abi.MailSearch, req, nil); err != nil {
		t.Fatal(err)
	}
	if n := p.Accepts(); n != 1 {
		t.Fatalf("pool not used: %d connections for 2 calls", n)
	}
	p.killAll() // the server side goes away while the connection is idle
	var s SearchResponse
	if err := invoke(t, m, c, abi.MailSearch, req, &s); err != nil {
		t.Fatalf("no reconnect: %v", err)
	}
	if s.Total != 4 || p.Accepts() != 2 {
		t.Fatalf("total %d, connections %d", s.Total, p.Accepts())
	}
}

func TestPasswordFileReadAtUseTime(t *testing.T) {
	srv := startIMAP(t, TLSNone)
	s := server(t, srv.Port, TLSNone, "wrong-at-start")
	m := newModule(t, Options{Accounts: map[string]Account{"work": {IMAP: s}}, IMAPIdle: -1})
	c := readCall(t, nil)
	wantCode(t, invoke(t, m, c, abi.MailList, MailboxesRequest{}, nil), abi.CodeUnavailable, "login")
	// The operator rotates the password file: no restart needed.
	if err := os.WriteFile(filepath.Clean(s.PasswordFile), []byte(testPass), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := invoke(t, m, c, abi.MailList, MailboxesRequest{}, nil); err != nil {
		t.Fatal(err)
	}
}
