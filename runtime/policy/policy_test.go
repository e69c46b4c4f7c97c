package policy

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

// decisions is a Recorder that keeps every decision.
type decisions struct {
	mu  sync.Mutex
	all []Decision
}

func (d *decisions) Record(x Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, x)
}

func (d *decisions) last() Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.all) == 0 {
		return Decision{}
	}
	return d.all[len(d.all)-1]
}

func (d *decisions) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.all)
}

func newSkill(caps skill.Capabilities) *skill.Skill {
	return &skill.Skill{Name: "probe", Digest: digestA, Manifest: skill.Manifest{Capabilities: caps}}
}

func compute(t *testing.T, caps skill.Capabilities, g *Grant) (*Policy, *decisions) {
	t.Helper()
	rec := &decisions{}
	p, err := Compute(newSkill(caps), g, rec)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return p, rec
}

// checkDecision asserts err matches want (allowed or not) and that the
// decision was recorded, with a denial ID equal to the error's.
func checkDecision(t *testing.T, rec *decisions, what string, err error, wantAllow bool) {
	t.Helper()
	d := rec.last()
	if wantAllow {
		if err != nil {
			t.Fatalf("%s: denied: %v", what, err)
		}
		if !d.Allowed {
			t.Fatalf("%s: allowed but last decision is %+v", what, d)
		}
		return
	}
	var den *Denial
	if !errors.As(err, &den) {
		t.Fatalf("%s: want a *Denial, got %v", what, err)
	}
	if den.ID == "" || den.Skill == "" || den.Capability == "" || den.Reason == "" {
		t.Fatalf("%s: denial lacks fields: %+v", what, den)
	}
	if d.Allowed || d.ID != den.ID || d.Capability != den.Capability || d.Value != den.Value {
		t.Fatalf("%s: recorded %+v, denial %+v", what, d, den)
	}
}

func TestNilPolicyDeniesEverything(t *testing.T) {
	var p *Policy
	checks := map[string]error{
		"http":      p.CheckHTTP("GET", "https", "example.org", 0),
		"browser":   p.CheckBrowser("https", "example.org", 0),
		"eval":      p.CheckEval(),
		"secret":    p.CheckSecret("T", "https", "example.org", 0),
		"recipient": p.CheckRecipient("a@example.org"),
		"mailbox":   p.CheckMailbox("INBOX", false),
		"deny":      p.Deny(CapHTTP, "x", "because"),
	}
	_, checks["mount"] = p.Mount("/data/x", false)
	_, checks["kv"] = p.CheckKV("k")
	_, checks["account"] = p.MailAccount("")
	_, _, checks["resolve"] = p.Resolve("/", false)
	for name, err := range checks {
		var den *Denial
		if !errors.As(err, &den) || den.ID == "" {
			t.Errorf("%s on nil policy: %v, want a *Denial with an ID", name, err)
		}
	}
	p.Allow(CapHTTP, "x") // must not panic

	// WithRecorder on nil still denies, and records.
	rec := &decisions{}
	q := p.WithRecorder(rec)
	err := q.CheckHTTP("GET", "https", "example.org", 0)
	var den *Denial
	if !errors.As(err, &den) || rec.len() != 1 || rec.last().ID != den.ID || rec.last().Allowed {
		t.Fatalf("WithRecorder(nil policy): %v, recorded %+v", err, rec.all)
	}
	var zero Policy
	if err := zero.CheckHTTP("GET", "https", "example.org", 0); err == nil {
		t.Fatal("zero Policy allowed http")
	}
}

func TestComputeNilSkill(t *testing.T) {
	if _, err := Compute(nil, &Grant{}, nil); err == nil {
		t.Fatal("Compute(nil) succeeded")
	}
}

func TestNoGrantNothingAllowed(t *testing.T) {
	caps := skill.Capabilities{
		FS:      map[string]skill.Access{"/data": skill.ReadWrite},
		HTTP:    &skill.HTTPRequest{Hosts: []string{"*"}},
		Browser: &skill.BrowserRequest{Hosts: []string{"*"}, Eval: true},
		Mail:    &skill.MailRequest{Send: &skill.MailSend{To: []string{"*@example.org"}}, Read: &skill.MailRead{Mailboxes: []string{"INBOX"}, Modify: true}},
		KV:      &skill.KVRequest{Quota: 1 << 20},
		Secrets: []string{"T"},
	}
	for name, g := range map[string]*Grant{"nil grant": nil, "empty grant": {}} {
		t.Run(name, func(t *testing.T) {
			p, rec := compute(t, caps, g)
			checkDecision(t, rec, "http", p.CheckHTTP("GET", "https", "example.org", 0), false)
			checkDecision(t, rec, "browser", p.CheckBrowser("https", "example.org", 0), false)
			checkDecision(t, rec, "eval", p.CheckEval(), false)
			_, err := p.Mount("/data/x", false)
			checkDecision(t, rec, "fs", err, false)
			_, err = p.CheckKV("k")
			checkDecision(t, rec, "kv", err, false)
			checkDecision(t, rec, "send", p.CheckRecipient("a@example.org"), false)
			checkDecision(t, rec, "mailbox", p.CheckMailbox("INBOX", false), false)
			checkDecision(t, rec, "secret", p.CheckSecret("T", "https", "example.org", 0), false)
			if len(p.Notes) == 0 {
				t.Fatal("no notes explain the missing grant")
			}
		})
	}
}

func TestGrantWithoutRequestGivesNothing(t *testing.T) {
	g := &Grant{
		FS:      map[string]string{"/data": "/srv/data:rw"},
		HTTP:    &HostGrant{Hosts: []string{"*"}},
		Browser: &BrowserGrant{Hosts: []string{"*"}, Eval: true},
		Mail:    &MailGrant{Accounts: []string{"work"}, Send: []string{"*@example.org"}, Read: []string{"INBOX"}, Modify: true},
		KV:      &KVGrant{Quota: 1 << 20},
		Secrets: []string{"T"},
	}
	p, rec := compute(t, skill.Capabilities{}, g)
	checkDecision(t, rec, "http", p.CheckHTTP("GET", "https", "example.org", 0), false)
	checkDecision(t, rec, "browser", p.CheckBrowser("https", "example.org", 0), false)
	checkDecision(t, rec, "eval", p.CheckEval(), false)
	_, err := p.Mount("/data/x", false)
	checkDecision(t, rec, "fs", err, false)
	_, err = p.CheckKV("k")
	checkDecision(t, rec, "kv", err, false)
	checkDecision(t, rec, "send", p.CheckRecipient("a@example.org"), false)
	checkDecision(t, rec, "mailbox", p.CheckMailbox("INBOX", false), false)
	checkDecision(t, rec, "secret", p.CheckSecret("T", "https", "example.org", 0), false)
}

func TestDigestPin(t *testing.T) {
	caps := skill.Capabilities{HTTP: &skill.HTTPRequest{Hosts: []string{"example.org"}}}
	grant := func(d string) *Grant {
		return &Grant{Digest: d, HTTP: &HostGrant{Hosts: []string{"example.org"}}, Limits: skill.Limits{Timeout: skill.Duration(1)}, Isolation: skill.IsolationCall}
	}
	p, rec := compute(t, caps, grant(digestA))
	checkDecision(t, rec, "matching pin", p.CheckHTTP("GET", "https", "example.org", 0), true)

	p, rec = compute(t, caps, grant(digestB))
	checkDecision(t, rec, "mismatched pin", p.CheckHTTP("GET", "https", "example.org", 0), false)
	if p.Isolation != skill.IsolationPooled || p.Limits.Timeout == 1 {
		t.Fatalf("mismatched pin still applied isolation/limits: %+v", p)
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "pinned") {
		t.Fatalf("notes %q do not explain the pin", p.Notes)
	}
	// A pin that differs only in case is a different digest.
	p, rec = compute(t, caps, grant(strings.ToUpper(digestA)))
	checkDecision(t, rec, "upper-case pin", p.CheckHTTP("GET", "https", "example.org", 0), false)
}

func TestHTTPIntersection(t *testing.T) {
	tests := []struct {
		name                string
		reqHosts, reqMeth   []string
		grantHosts, grantMe []string
		method, host        string
		port                int
		allow               bool
	}{
		{"both", []string{"api.example.org"}, nil, []string{"api.example.org"}, nil, "GET", "api.example.org", 0, true},
		{"requested not granted", []string{"api.example.org", "other.example"}, nil, []string{"api.example.org"}, nil, "GET", "other.example", 0, false},
		{"granted not requested", []string{"api.example.org"}, nil, []string{"*"}, nil, "GET", "other.example", 0, false},
		{"wildcard grant narrows to request", []string{"api.example.org"}, nil, []string{"*.example.org"}, nil, "GET", "api.example.org", 0, true},
		{"wildcard request narrowed by grant", []string{"*.example.org"}, nil, []string{"api.example.org"}, nil, "GET", "www.example.org", 0, false},
		{"default methods GET", []string{"a.example"}, nil, []string{"a.example"}, nil, "GET", "a.example", 0, true},
		{"default methods no POST", []string{"a.example"}, nil, []string{"a.example"}, nil, "POST", "a.example", 0, false},
		{"POST requested not granted", []string{"a.example"}, []string{"GET", "POST"}, []string{"a.example"}, nil, "POST", "a.example", 0, false},
		{"POST granted not requested", []string{"a.example"}, nil, []string{"a.example"}, []string{"POST", "GET"}, "POST", "a.example", 0, false},
		{"POST both, lower case", []string{"a.example"}, []string{"post"}, []string{"a.example"}, []string{"POST"}, "post", "a.example", 0, true},
		{"port not granted", []string{"a.example:8443"}, nil, []string{"a.example"}, nil, "GET", "a.example", 8443, false},
		{"suffix trick", []string{"*.example.org"}, nil, []string{"*.example.org"}, nil, "GET", "evil-example.org", 0, false},
		{"IP literal vs *", []string{"*"}, nil, []string{"*"}, nil, "GET", "127.0.0.1", 0, false},
		{"IP literal granted", []string{"http://127.0.0.1:8080"}, nil, []string{"http://127.0.0.1:8080"}, nil, "GET", "127.0.0.1", 8080, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps := skill.Capabilities{HTTP: &skill.HTTPRequest{Hosts: tt.reqHosts, Methods: tt.reqMeth}}
			p, rec := compute(t, caps, &Grant{HTTP: &HostGrant{Hosts: tt.grantHosts, Methods: tt.grantMe}})
			scheme := "https"
			if tt.port == 8080 {
				scheme = "http"
			}
			checkDecision(t, rec, tt.name, p.CheckHTTP(tt.method, scheme, tt.host, tt.port), tt.allow)
		})
	}
}

func TestBrowserAndEval(t *testing.T) {
	tests := []struct {
		name            string
		reqEval, grEval bool
		wantEval        bool
	}{
		{"neither", false, false, false},
		{"requested only", true, false, false},
		{"granted only", false, true, false},
		{"both", true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps := skill.Capabilities{Browser: &skill.BrowserRequest{Hosts: []string{"*.example.org"}, Eval: tt.reqEval}}
			p, rec := compute(t, caps, &Grant{Browser: &BrowserGrant{Hosts: []string{"docs.example.org", "example.net"}, Eval: tt.grEval}})
			checkDecision(t, rec, "eval", p.CheckEval(), tt.wantEval)
			checkDecision(t, rec, "granted+requested", p.CheckBrowser("https", "docs.example.org", 0), true)
			checkDecision(t, rec, "granted only", p.CheckBrowser("https", "example.net", 0), false)
			checkDecision(t, rec, "requested only", p.CheckBrowser("https", "www.example.org", 0), false)
			checkDecision(t, rec, "file scheme", p.CheckBrowser("file", "docs.example.org", 0), false)
			checkDecision(t, rec, "chrome scheme", p.CheckBrowser("chrome", "docs.example.org", 0), false)
		})
	}
}

func TestFSModes(t *testing.T) {
	tests := []struct {
		name  string
		req   skill.Access
		spec  string
		want  skill.Access
		write bool
		allow bool
	}{
		{"ro req rw grant stays ro: read", skill.ReadOnly, "/srv/d:rw", skill.ReadOnly, false, true},
		{"ro req rw grant stays ro: write", skill.ReadOnly, "/srv/d:rw", skill.ReadOnly, true, false},
		{"rw req ro grant: write", skill.ReadWrite, "/srv/d:ro", skill.ReadOnly, true, false},
		{"rw req default grant is ro", skill.ReadWrite, "/srv/d", skill.ReadOnly, true, false},
		{"rw both", skill.ReadWrite, "/srv/d:rw", skill.ReadWrite, true, true},
		{"garbage request mode never rw", skill.Access("RW"), "/srv/d:rw", skill.ReadOnly, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec := compute(t, skill.Capabilities{FS: map[string]skill.Access{"/data": tt.req}}, &Grant{FS: map[string]string{"/data": tt.spec}})
			if len(p.Mounts) != 1 || p.Mounts[0].Mode != tt.want || p.Mounts[0].Host != "/srv/d" {
				t.Fatalf("mounts %+v, want one /srv/d %s", p.Mounts, tt.want)
			}
			_, err := p.Mount("/data/f", tt.write)
			checkDecision(t, rec, tt.name, err, tt.allow)
		})
	}
}

func TestMountLongestPrefix(t *testing.T) {
	caps := skill.Capabilities{FS: map[string]skill.Access{
		"/data": skill.ReadOnly, "/data/out": skill.ReadWrite, "/database": skill.ReadWrite, "/dat": skill.ReadWrite,
	}}
	g := &Grant{FS: map[string]string{"/data": "/h/data:ro", "/data/out": "/h/out:rw", "/database": "/h/db:rw", "/dat": "/h/dat:rw"}}
	p, rec := compute(t, caps, g)
	tests := []struct {
		path      string
		write     bool
		wantHost  string // "" = denied
		wantRel   string
		wantGuest string
	}{
		{"/data", false, "/h/data", ".", "/data"},
		{"/data/", false, "/h/data", ".", "/data"},
		{"/data/a.txt", false, "/h/data", "a.txt", "/data"},
		{"/data/a.txt", true, "", "", ""},
		{"/data/out/x", true, "/h/out", "x", "/data/out"},
		{"/data/outside", true, "", "", ""}, // "/data/out" is not a prefix of "/data/outside"
		{"/data/outside", false, "/h/data", "outside", "/data"},
		{"/database/t", true, "/h/db", "t", "/database"},
		{"/databasex", false, "", "", ""},
		{"/dat/x", true, "/h/dat", "x", "/dat"},
		{"/da", false, "", "", ""},
		{"/data/../database/t", true, "/h/db", "t", "/database"},
		{"/data/../etc/passwd", false, "", "", ""},
		{"/data/../../../etc/passwd", false, "", "", ""},
		{"/data/out/../../etc", false, "", "", ""},
		{"/data/out/../x", true, "", "", ""}, // lands in ro /data
		{"../data/a", false, "/h/data", "a", "/data"},
		{"data/a", false, "/h/data", "a", "/data"},
		{"//data//a//", false, "/h/data", "a", "/data"},
		{"/data/./a/./b", false, "/h/data", "a/b", "/data"},
		{"/data/a\x00/../b", false, "", "", ""},
		{"/", false, "", "", ""},
		{"", false, "", "", ""},
		{"/etc/passwd", false, "", "", ""},
	}
	for _, tt := range tests {
		m, rel, err := p.Resolve(tt.path, tt.write)
		if tt.wantHost == "" {
			checkDecision(t, rec, tt.path, err, false)
			continue
		}
		checkDecision(t, rec, tt.path, err, true)
		if m.Host != tt.wantHost || rel != tt.wantRel || m.Guest != tt.wantGuest {
			t.Errorf("Resolve(%q) = %+v, %q; want host %s rel %q guest %s", tt.path, m, rel, tt.wantHost, tt.wantRel, tt.wantGuest)
		}
		if strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, "..") {
			t.Errorf("Resolve(%q) rel %q escapes", tt.path, rel)
		}
		m2, err := p.Mount(tt.path, tt.write)
		if err != nil || m2 != m {
			t.Errorf("Mount(%q) = %+v, %v; Resolve gave %+v", tt.path, m2, err, m)
		}
	}
}

func TestMountRoot(t *testing.T) {
	p, rec := compute(t, skill.Capabilities{FS: map[string]skill.Access{"/": skill.ReadOnly}}, &Grant{FS: map[string]string{"/": "/h/root:ro"}})
	m, rel, err := p.Resolve("/a/b", false)
	checkDecision(t, rec, "/a/b under /", err, true)
	if m.Host != "/h/root" || rel != "a/b" {
		t.Fatalf("got %+v %q", m, rel)
	}
	if _, rel, _ := p.Resolve("/../..", false); rel != "." {
		t.Fatalf("/../.. rel = %q, want .", rel)
	}
}

func TestFSGrantedNotRequestedAndViceVersa(t *testing.T) {
	p, rec := compute(t, skill.Capabilities{FS: map[string]skill.Access{"/in": skill.ReadOnly}}, &Grant{FS: map[string]string{"/out": "/h/out:rw", "/in/sub": "/h/sub:rw"}})
	if len(p.Mounts) != 0 {
		t.Fatalf("mounts %+v from paths the skill did not request", p.Mounts)
	}
	_, err := p.Mount("/out/x", true)
	checkDecision(t, rec, "/out", err, false)
	_, err = p.Mount("/in/x", false)
	checkDecision(t, rec, "/in", err, false)
}

func TestComputeBadGrantSpec(t *testing.T) {
	_, err := Compute(newSkill(skill.Capabilities{FS: map[string]skill.Access{"/d": skill.ReadOnly}}), &Grant{FS: map[string]string{"/d": "relative/dir:ro"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("relative host dir: %v", err)
	}
	_, err = Compute(newSkill(skill.Capabilities{HTTP: &skill.HTTPRequest{Hosts: []string{"a.example"}}}), &Grant{HTTP: &HostGrant{Hosts: []string{"user@a.example"}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "http") {
		t.Fatalf("bad host pattern: %v", err)
	}
}

func TestKV(t *testing.T) {
	tests := []struct {
		req, grant skill.Size
		want       skill.Size
	}{
		{1 << 20, 1 << 10, 1 << 10},
		{1 << 10, 1 << 20, 1 << 10},
		{1 << 20, 1 << 20, 1 << 20},
	}
	for _, tt := range tests {
		p, rec := compute(t, skill.Capabilities{KV: &skill.KVRequest{Quota: tt.req}}, &Grant{KV: &KVGrant{Quota: tt.grant}})
		q, err := p.CheckKV("key")
		checkDecision(t, rec, "kv", err, true)
		if q != tt.want {
			t.Errorf("quota(req %d, grant %d) = %d, want %d", tt.req, tt.grant, q, tt.want)
		}
	}
	p, rec := compute(t, skill.Capabilities{KV: &skill.KVRequest{Quota: 0}}, &Grant{KV: &KVGrant{Quota: 1 << 20}})
	_, err := p.CheckKV("key")
	checkDecision(t, rec, "zero requested quota", err, false)
}

func TestRecipients(t *testing.T) {
	caps := skill.Capabilities{Mail: &skill.MailRequest{Send: &skill.MailSend{To: []string{"*@corp.example", "*@*.partner.example", "ceo@other.example"}}}}
	g := &Grant{Mail: &MailGrant{Accounts: []string{"work"}, Send: []string{"*@corp.example", "*@*.partner.example", "CEO@Other.Example", "*@notrequested.example"}}}
	p, rec := compute(t, caps, g)
	tests := []struct {
		addr  string
		allow bool
	}{
		{"alice@corp.example", true},
		{"Alice@CORP.example", true},
		{"  alice@corp.example  ", true},
		{"alice@corp.example.", true},
		{"x@corp.example.evil.com", false},
		{"x@evilcorp.example", false},
		{"x@sub.corp.example", false}, // *@corp.example is not *@*.corp.example
		{"x@eu.partner.example", true},
		{"x@partner.example", false},
		{"x@evilpartner.example", false},
		{"ceo@other.example", true},
		{"cfo@other.example", false},
		{"x@notrequested.example", false},
		{"x@evil.com@corp.example", false},
		{"x@corp.example@evil.com", false},
		{`"x@evil.com"@corp.example`, false},
		{"x%evil.com@corp.example", false},
		{"evil.com!x@corp.example", false},
		{"@evil.com:x@corp.example", false},
		{"x@corp.example\r\nBcc: y@evil.com", false},
		{"x <x@corp.example>", false},
		{"x@corp.example,y@evil.com", false},
		{"x@[10.0.0.1]", false},
		{"x@10.0.0.1", false},
		{"@corp.example", false},
		{"x@", false},
		{"x", false},
		{"", false},
		{".x@corp.example", false},
		{"x..y@corp.example", false},
		{"x@corp..example", false},
		{"x@-corp.example", false},
		{"x@\u212Aorp.example", false},
	}
	for _, tt := range tests {
		checkDecision(t, rec, tt.addr, p.CheckRecipient(tt.addr), tt.allow)
	}
}

func TestRecipientPatternsMustBeWellFormed(t *testing.T) {
	caps := skill.Capabilities{Mail: &skill.MailRequest{Send: &skill.MailSend{To: []string{"*", "*@corp.example"}}}}
	// A malformed requested pattern admits nothing, even with a broad grant,
	// and "*@*" is never a grant (only a request).
	p, rec := compute(t, caps, &Grant{Mail: &MailGrant{Accounts: []string{"w"}, Send: []string{"*@*", "x@evil.example"}}})
	checkDecision(t, rec, "malformed request", p.CheckRecipient("x@evil.example"), false)
	checkDecision(t, rec, "*@* grant never matches", p.CheckRecipient("x@corp.example"), false)
}

func TestMailboxes(t *testing.T) {
	caps := skill.Capabilities{Mail: &skill.MailRequest{Read: &skill.MailRead{Mailboxes: []string{"INBOX", "Archive", "Sent"}, Modify: true}}}
	tests := []struct {
		name     string
		grant    *MailGrant
		mailbox  string
		modify   bool
		allow    bool
		accounts []string
	}{
		{"read granted", &MailGrant{Accounts: []string{"w"}, Read: []string{"INBOX"}}, "INBOX", false, true, nil},
		{"INBOX any case", &MailGrant{Accounts: []string{"w"}, Read: []string{"inbox"}}, "Inbox", false, true, nil},
		{"other mailboxes are case-sensitive", &MailGrant{Accounts: []string{"w"}, Read: []string{"Archive"}}, "archive", false, false, nil},
		{"child of granted", &MailGrant{Accounts: []string{"w"}, Read: []string{"Archive"}}, "Archive/2024", false, false, nil},
		{"not granted", &MailGrant{Accounts: []string{"w"}, Read: []string{"INBOX"}}, "Sent", false, false, nil},
		{"granted not requested", &MailGrant{Accounts: []string{"w"}, Read: []string{"Trash"}}, "Trash", false, false, nil},
		{"modify not granted", &MailGrant{Accounts: []string{"w"}, Read: []string{"INBOX"}}, "INBOX", true, false, nil},
		{"modify granted", &MailGrant{Accounts: []string{"w"}, Read: []string{"INBOX"}, Modify: true}, "INBOX", true, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rec := compute(t, caps, &Grant{Mail: tt.grant})
			checkDecision(t, rec, tt.name, p.CheckMailbox(tt.mailbox, tt.modify), tt.allow)
		})
	}
	// modify requested=false, granted=true => no modify.
	caps.Mail.Read.Modify = false
	p, rec := compute(t, caps, &Grant{Mail: &MailGrant{Accounts: []string{"w"}, Read: []string{"INBOX"}, Modify: true}})
	checkDecision(t, rec, "modify not requested", p.CheckMailbox("INBOX", true), false)
}

func TestMailAccount(t *testing.T) {
	caps := skill.Capabilities{Mail: &skill.MailRequest{Send: &skill.MailSend{To: []string{"*@x.example"}}}}
	p, rec := compute(t, caps, &Grant{Mail: &MailGrant{Accounts: []string{"work"}, Send: []string{"*@x.example"}}})
	if a, err := p.MailAccount(""); err != nil || a != "work" {
		t.Fatalf("only account: %q %v", a, err)
	}
	_, err := p.MailAccount("personal")
	checkDecision(t, rec, "other account", err, false)
	p, rec = compute(t, caps, &Grant{Mail: &MailGrant{Accounts: []string{"work", "home"}, Send: []string{"*@x.example"}}})
	_, err = p.MailAccount("")
	checkDecision(t, rec, "ambiguous account", err, false)
	if a, err := p.MailAccount("home"); err != nil || a != "home" {
		t.Fatalf("named account: %q %v", a, err)
	}
}

func TestSecretsOnlyToGrantedHosts(t *testing.T) {
	caps := skill.Capabilities{
		HTTP:    &skill.HTTPRequest{Hosts: []string{"api.github.com", "evil.example"}},
		Secrets: []string{"GITHUB_TOKEN", "OTHER"},
	}
	g := &Grant{HTTP: &HostGrant{Hosts: []string{"api.github.com"}}, Secrets: []string{"GITHUB_TOKEN", "NOT_REQUESTED"}}
	p, rec := compute(t, caps, g)
	tests := []struct {
		name, secret, host string
		port               int
		allow              bool
	}{
		{"granted host", "GITHUB_TOKEN", "api.github.com", 0, true},
		{"requested but not granted host", "GITHUB_TOKEN", "evil.example", 0, false},
		{"unrelated host", "GITHUB_TOKEN", "attacker.example", 0, false},
		{"granted host other port", "GITHUB_TOKEN", "api.github.com", 8443, false},
		{"look-alike", "GITHUB_TOKEN", "api.github.com.evil.example", 0, false},
		{"secret not granted", "OTHER", "api.github.com", 0, false},
		{"secret granted not requested", "NOT_REQUESTED", "api.github.com", 0, false},
		{"case differs", "github_token", "api.github.com", 0, false},
	}
	for _, tt := range tests {
		checkDecision(t, rec, tt.name, p.CheckSecret(tt.secret, "https", tt.host, tt.port), tt.allow)
	}
	// Secrets without any http grant go nowhere.
	p, rec = compute(t, skill.Capabilities{Secrets: []string{"T"}}, &Grant{Secrets: []string{"T"}})
	checkDecision(t, rec, "no http", p.CheckSecret("T", "https", "api.github.com", 0), false)
}

func TestLimitsOnlyLowered(t *testing.T) {
	s := newSkill(skill.Capabilities{})
	s.Manifest.Limits = skill.Limits{Memory: 32 << 20, Timeout: skill.Duration(5e9), Output: 1 << 20}
	p, err := Compute(s, &Grant{Limits: skill.Limits{Memory: 1 << 30, Timeout: skill.Duration(1e9), Output: 2 << 20}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := skill.Limits{Memory: 32 << 20, Timeout: skill.Duration(1e9), Output: 1 << 20}
	if p.Limits != want {
		t.Fatalf("limits %+v, want %+v", p.Limits, want)
	}
}

func TestDenyAllowRecorded(t *testing.T) {
	p, rec := compute(t, skill.Capabilities{}, &Grant{})
	err := p.Deny(CapHTTP, "http://10.0.0.1", "private address")
	checkDecision(t, rec, "Deny", err, false)
	var den *Denial
	errors.As(err, &den)
	if !strings.Contains(den.Error(), den.ID) || !strings.Contains(den.Error(), "probe") || !strings.Contains(den.Error(), "10.0.0.1") {
		t.Fatalf("denial text %q lacks skill, value or id", den.Error())
	}
	p.Allow(CapHTTP, "x")
	if d := rec.last(); !d.Allowed || d.ID != "" || d.Skill != "probe" {
		t.Fatalf("allow recorded as %+v", d)
	}
	// Every denial gets its own ID.
	seen := map[string]bool{}
	for range 100 {
		var d *Denial
		errors.As(p.CheckEval(), &d)
		if seen[d.ID] {
			t.Fatalf("denial id %s repeated", d.ID)
		}
		seen[d.ID] = true
	}
	if rec.len() != 102 {
		t.Fatalf("%d decisions recorded, want 102", rec.len())
	}
}

func TestWithRecorderCopies(t *testing.T) {
	p, rec := compute(t, skill.Capabilities{}, &Grant{})
	rec2 := &decisions{}
	q := p.WithRecorder(rec2)
	_ = q.CheckEval()
	if rec.len() != 0 || rec2.len() != 1 {
		t.Fatalf("recorders got %d and %d decisions, want 0 and 1", rec.len(), rec2.len())
	}
}

func BenchmarkCheckHTTP(b *testing.B) {
	caps := skill.Capabilities{HTTP: &skill.HTTPRequest{Hosts: []string{"*.example.org"}}}
	p, err := Compute(newSkill(caps), &Grant{HTTP: &HostGrant{Hosts: []string{"api.example.org"}}}, RecorderFunc(func(Decision) {}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.CheckHTTP("GET", "https", "api.example.org", 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMount(b *testing.B) {
	caps := skill.Capabilities{FS: map[string]skill.Access{"/data": skill.ReadOnly, "/out": skill.ReadWrite}}
	p, err := Compute(newSkill(caps), &Grant{FS: map[string]string{"/data": "/h/d:ro", "/out": "/h/o:rw"}}, RecorderFunc(func(Decision) {}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Mount("/out/dir/file.txt", true); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAnyRecipientRequest: a manifest may request "*@*" (whoever the
// operator grants); the grant still decides, and "*@*" is never a grant.
func TestAnyRecipientRequest(t *testing.T) {
	s := &skill.Skill{Name: "mailer", Manifest: skill.Manifest{Capabilities: skill.Capabilities{
		Mail: &skill.MailRequest{Send: &skill.MailSend{To: []string{AnyRecipient}}}}}}
	p, err := Compute(s, &Grant{Mail: &MailGrant{Accounts: []string{"work"}, Send: []string{"*@corp.example"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for addr, ok := range map[string]bool{
		"alice@corp.example":          true,
		"alice@evil.example":          false,
		"x@evil.com@corp.example":     false,
		"alice@corp.example.evil.com": false,
		"\"a b\"@corp.example":        false,
	} {
		if err := p.CheckRecipient(addr); (err == nil) != ok {
			t.Errorf("%s: got %v, want allowed=%v", addr, err, ok)
		}
	}
	pAny, _ := Compute(s, &Grant{Mail: &MailGrant{Accounts: []string{"work"}, Send: []string{AnyRecipient}}}, nil)
	if err := pAny.CheckRecipient("alice@corp.example"); err == nil {
		t.Fatal("a *@* grant allowed a recipient")
	}
}
