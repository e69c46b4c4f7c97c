package hostmail

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// skillRequest is what the test skill asks for in its manifest.
var skillRequest = &skill.MailRequest{
	Send: &skill.MailSend{To: []string{"*@corp.example", "partner@other.example"}},
	Read: &skill.MailRead{Mailboxes: []string{"INBOX", "Archive", "Secret"}, Modify: true},
}

// fullGrant is the operator's grant used unless a test narrows it.
func fullGrant() *policy.MailGrant {
	return &policy.MailGrant{
		Accounts: []string{"work"},
		Send:     []string{"*@corp.example"},
		Read:     []string{"INBOX", "Archive"},
		Modify:   true,
	}
}

// newPolicy computes a real effective policy for a small skill.
func newPolicy(t testing.TB, name string, req *skill.MailRequest, g *policy.MailGrant) *policy.Policy {
	t.Helper()
	s := &skill.Skill{Name: name, Manifest: skill.Manifest{Capabilities: skill.Capabilities{Mail: req}}}
	p, err := policy.Compute(s, &policy.Grant{Mail: g}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// passwordFile writes pass to a 0600 file and returns its path.
func passwordFile(t testing.TB, pass string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(p, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// server returns a Server config for a test server on 127.0.0.1.
func server(t testing.TB, port int, mode, pass string) *Server {
	s := &Server{Host: "127.0.0.1", Port: port, TLS: mode, Username: testUser, PasswordFile: passwordFile(t, pass), Timeout: skill.Duration(5 * time.Second)}
	if mode != TLSNone {
		s.CAFile = serverCert(t).caFile
	}
	return s
}

// newModule builds a module whose dials go through netguard.
func newModule(t testing.TB, opts Options) *Module {
	t.Helper()
	opts.Dial = guardedDial(t)
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func newCall(t testing.TB, skillName string, p *policy.Policy) *abitest.Call {
	// A call's deadline; benchmarks run for as long as they need (each
	// network operation is still bounded by the account timeout).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	if _, bench := t.(*testing.B); bench {
		ctx, cancel = context.WithCancel(context.Background())
	}
	t.Cleanup(cancel)
	c := abitest.New(ctx, skillName, p)
	c.Log = slog.New(slog.DiscardHandler)
	return c
}

// handler returns the module's handler for an export name.
func handler(t testing.TB, m *Module, name string) abi.Handler {
	t.Helper()
	for _, f := range m.Funcs() {
		if f.Name == name {
			return f.Handler
		}
	}
	t.Fatalf("no handler %s", name)
	return nil
}

// invoke marshals req, calls the handler and decodes the response into
// out (when non-nil).
func invoke(t testing.TB, m *Module, c abi.Call, name string, req any, out any) error {
	t.Helper()
	var b []byte
	switch r := req.(type) {
	case string:
		b = []byte(r)
	case []byte:
		b = r
	default:
		var err error
		if b, err = json.Marshal(req); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := handler(t, m, name)(c, b, nil)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			t.Fatalf("%s response %s: %v", name, resp, err)
		}
	}
	return nil
}

func wantCode(t testing.TB, err error, want string, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error code %q, got success", want)
	}
	doc := abi.ToDocument("mail", err)
	if doc.Code != want {
		t.Fatalf("want code %q, got %q: %v", want, doc.Code, err)
	}
	for _, s := range contains {
		if !strings.Contains(doc.Message, s) {
			t.Fatalf("error %q does not mention %q", doc.Message, s)
		}
	}
}

func isDenial(err error) bool {
	var d *policy.Denial
	return errors.As(err, &d)
}

type (
	grantT = policy.MailGrant
	callT  = abitest.Call
)
