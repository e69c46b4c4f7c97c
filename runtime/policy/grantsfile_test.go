package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestLoadGrantsMissingFile(t *testing.T) {
	g, err := LoadGrants(filepath.Join(t.TempDir(), "nope.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if g == nil || g.Skills == nil || len(g.Skills) != 0 {
		t.Fatalf("missing file gave %+v, want empty grants", g)
	}
}

func TestLoadGrantsFull(t *testing.T) {
	src := `# comment
skills:
  web-text:
    digest: sha256:` + hex64 + `
    isolation: call
    fs:
      /data: /srv/data:ro
      /out: /srv/out:rw
      /plain: /srv/plain
    http:
      hosts: ["api.example.org", "*.example.net", "http://127.0.0.1:8080"]
      methods: [GET, post]
    browser:
      hosts: [example.org]
      eval: true
    mail:
      accounts: [work]
      send: ["*@corp.example", boss@other.example]
      read: [INBOX, Archive]
      modify: false
    kv: { quota: 1MiB }
    secrets: [GITHUB_TOKEN]
    limits: { memory: 16MiB, timeout: 3s, output: 64KiB }
  empty:
  "123": {}
`
	g, err := ParseGrants("grants.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := &Grant{
		Digest:    "sha256:" + hex64,
		Isolation: skill.IsolationCall,
		FS:        map[string]string{"/data": "/srv/data:ro", "/out": "/srv/out:rw", "/plain": "/srv/plain"},
		HTTP:      &HostGrant{Hosts: []string{"api.example.org", "*.example.net", "http://127.0.0.1:8080"}, Methods: []string{"GET", "post"}},
		Browser:   &BrowserGrant{Hosts: []string{"example.org"}, Eval: true},
		Mail:      &MailGrant{Accounts: []string{"work"}, Send: []string{"*@corp.example", "boss@other.example"}, Read: []string{"INBOX", "Archive"}},
		KV:        &KVGrant{Quota: 1 << 20},
		Secrets:   []string{"GITHUB_TOKEN"},
		Limits:    skill.Limits{Memory: 16 << 20, Timeout: skill.Duration(3e9), Output: 64 << 10},
	}
	if got := g.Skills["web-text"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("web-text = %+v\nwant %+v", got, want)
	}
	if g.Skills["empty"] == nil || g.Skills["123"] == nil {
		t.Fatalf("empty entries missing: %+v", g.Skills)
	}
	if err := g.Validate(); err != nil {
		t.Fatalf("Validate of a loaded file: %v", err)
	}
}

func TestParseGrantsEmpty(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "---\n", "skills:\n", "skills: {}\n", "~\n"} {
		g, err := ParseGrants("g.yaml", []byte(src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if len(g.Skills) != 0 {
			t.Errorf("%q: %+v", src, g.Skills)
		}
	}
}

func TestParseGrantsErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // substring, including file:line and field
	}{
		{"syntax", "skills:\n  a: [\n", "g.yaml:2: YAML syntax"},
		{"tab indent", "skills:\n\ta: {}\n", "g.yaml:2: YAML syntax"},
		{"unknown top", "skill:\n  a: {}\n", "g.yaml:1: unknown key \"skill\""},
		{"top not mapping", "- a\n", "g.yaml:1: want a mapping, got a list"},
		{"skills not mapping", "skills: [a]\n", "g.yaml:1: skills: want a mapping, got a list"},
		{"bad skill name", "skills:\n  Web_Text: {}\n", "g.yaml:2: skills: skill name \"Web_Text\""},
		{"path skill name", "skills:\n  ../x: {}\n", "g.yaml:2: skills: skill name \"../x\""},
		{"double hyphen", "skills:\n  a--b: {}\n", "skill name"},
		{"long name", "skills:\n  " + strings.Repeat("a", 65) + ": {}\n", "skill name"},
		{"duplicate skill", "skills:\n  a: {}\n  a: {}\n", "g.yaml:3: skills.a: key defined twice (first at line 2)"},
		{"unknown grant key", "skills:\n  a:\n    network: {}\n", "g.yaml:3: skills.a: unknown key \"network\""},
		{"grant not mapping", "skills:\n  a: yes\n", "g.yaml:2: skills.a: want a mapping, got a string"},
		{"digest short", "skills:\n  a:\n    digest: sha256:abc\n", "g.yaml:3: skills.a.digest: digest \"sha256:abc\""},
		{"digest upper", "skills:\n  a:\n    digest: sha256:" + strings.ToUpper(hex64) + "\n", "skills.a.digest"},
		{"digest algo", "skills:\n  a:\n    digest: md5:" + hex64 + "\n", "skills.a.digest"},
		{"digest number", "skills:\n  a:\n    digest: 12\n", "skills.a.digest"},
		{"isolation", "skills:\n  a:\n    isolation: shared\n", "g.yaml:3: skills.a.isolation: isolation \"shared\""},
		{"fs relative guest", "skills:\n  a:\n    fs:\n      data: /srv:ro\n", "g.yaml:4: skills.a.fs.data: guest path \"data\" must be absolute"},
		{"fs dotdot guest", "skills:\n  a:\n    fs:\n      /data/../etc: /srv:ro\n", "g.yaml:4: skills.a.fs./data/../etc: guest path \"/data/../etc\" is not clean"},
		{"fs trailing slash", "skills:\n  a:\n    fs:\n      /data/: /srv:ro\n", "is not clean"},
		{"fs relative host", "skills:\n  a:\n    fs:\n      /data: srv:ro\n", "g.yaml:4: skills.a.fs./data: host directory \"srv\" must be an absolute path"},
		{"fs upper mode", "skills:\n  a:\n    fs:\n      /data: /srv:RW\n", "mode must be ro or rw in lower case"},
		{"fs list", "skills:\n  a:\n    fs: [/data]\n", "g.yaml:3: skills.a.fs: want a mapping, got a list"},
		{"fs spec not string", "skills:\n  a:\n    fs:\n      /data: {host: /srv}\n", "g.yaml:4: skills.a.fs./data: want a string, got a mapping"},
		{"fs control char", "skills:\n  a:\n    fs:\n      /data: \"/srv\\nx:ro\"\n", "control character"},
		{"http unknown key", "skills:\n  a:\n    http:\n      host: [x.example]\n", "g.yaml:4: skills.a.http: unknown key \"host\""},
		{"http bad host", "skills:\n  a:\n    http:\n      hosts:\n        - ok.example\n        - user@x.example\n", "g.yaml:6: skills.a.http.hosts[1]: host pattern \"user@x.example\""},
		{"http host path", "skills:\n  a:\n    http:\n      hosts: [\"x.example/path\"]\n", "skills.a.http.hosts[0]"},
		{"http host number", "skills:\n  a:\n    http:\n      hosts: [127.1]\n", "ends in a number"},
		{"http dup host", "skills:\n  a:\n    http:\n      hosts: [x.example, X.Example]\n", "skills.a.http.hosts[1]: \"X.Example\" listed twice (first at line 4)"},
		{"http hosts string", "skills:\n  a:\n    http:\n      hosts: x.example\n", "g.yaml:4: skills.a.http.hosts: want a list, got a string"},
		{"http method", "skills:\n  a:\n    http:\n      hosts: [x.example]\n      methods: [CONNECT]\n", "g.yaml:5: skills.a.http.methods[0]: method \"CONNECT\""},
		{"browser eval string", "skills:\n  a:\n    browser:\n      hosts: [x.example]\n      eval: \"yes\"\n", "g.yaml:5: skills.a.browser.eval: want true or false, got a string"},
		{"browser eval yes", "skills:\n  a:\n    browser:\n      hosts: [x.example]\n      eval: yes\n", "skills.a.browser.eval: want true or false"},
		{"mail unknown", "skills:\n  a:\n    mail:\n      to: [x@y.example]\n", "unknown key \"to\""},
		{"mail send two at", "skills:\n  a:\n    mail:\n      send: [\"x@evil@corp.example\"]\n", "g.yaml:4: skills.a.mail.send[0]: recipient pattern"},
		{"mail send any", "skills:\n  a:\n    mail:\n      send: [\"*@*\"]\n", "skills.a.mail.send[0]"},
		{"mail send no at", "skills:\n  a:\n    mail:\n      send: [corp.example]\n", "skills.a.mail.send[0]"},
		{"mail send quoted local", "skills:\n  a:\n    mail:\n      send: ['\"a b\"@corp.example']\n", "skills.a.mail.send[0]"},
		{"mail read wildcard", "skills:\n  a:\n    mail:\n      read: [\"*\"]\n", "skills.a.mail.read[0]: mailbox \"*\""},
		{"mail read dup inbox", "skills:\n  a:\n    mail:\n      read: [INBOX, inbox]\n", "listed twice"},
		{"mail account", "skills:\n  a:\n    mail:\n      accounts: [\"bad name\"]\n", "skills.a.mail.accounts[0]"},
		{"mail modify", "skills:\n  a:\n    mail:\n      modify: 1\n", "skills.a.mail.modify: want true or false, got a number"},
		{"kv quota", "skills:\n  a:\n    kv:\n      quota: lots\n", "g.yaml:4: skills.a.kv.quota: invalid size \"lots\""},
		{"kv zero", "skills:\n  a:\n    kv: {quota: 0}\n", "skills.a.kv.quota: kv quota must be positive"},
		{"kv negative", "skills:\n  a:\n    kv: {quota: -5}\n", "skills.a.kv.quota"},
		{"kv missing quota", "skills:\n  a:\n    kv: {}\n", "g.yaml:3: skills.a.kv: quota is required"},
		{"kv unknown", "skills:\n  a:\n    kv: {quota: 1MiB, ttl: 3}\n", "unknown key \"ttl\""},
		{"kv bool", "skills:\n  a:\n    kv: {quota: true}\n", "want a size"},
		{"secrets name", "skills:\n  a:\n    secrets: [\"GITHUB-TOKEN\"]\n", "g.yaml:3: skills.a.secrets[0]: secret name"},
		{"secrets map", "skills:\n  a:\n    secrets: {A: b}\n", "skills.a.secrets: want a list"},
		{"secrets null item", "skills:\n  a:\n    secrets: [~]\n", "skills.a.secrets[0]: want a string, got null"},
		{"limits unknown", "skills:\n  a:\n    limits: {cpu: 2}\n", "g.yaml:3: skills.a.limits: unknown key \"cpu\""},
		{"limits memory", "skills:\n  a:\n    limits: {memory: 8GiB}\n", "skills.a.limits.memory: memory limit"},
		{"limits timeout", "skills:\n  a:\n    limits: {timeout: forever}\n", "skills.a.limits.timeout: invalid duration"},
		{"limits negative timeout", "skills:\n  a:\n    limits: {timeout: -1s}\n", "skills.a.limits.timeout"},
		{"limits output", "skills:\n  a:\n    limits: {output: 0}\n", "skills.a.limits.output"},
		{"anchor", "skills:\n  a: &g {}\n  b: *g\n", "g.yaml:2: YAML anchors and aliases are not allowed"},
		{"merge key", "skills:\n  a:\n    <<: {kv: {quota: 1}}\n", "g.yaml:3: skills.a: merge keys (<<) are not allowed"},
		{"custom tag", "skills:\n  a:\n    digest: !secret x\n", "skills.a.digest: want a string"},
		{"binary tag", "skills:\n  a:\n    digest: !!binary aGVsbG8=\n", "skills.a.digest: want a string"},
		{"two documents", "skills: {}\n---\nskills: {}\n", "g.yaml:2: only one YAML document"},
		{"non-string key", "skills:\n  [a]: {}\n", "g.yaml:2: skills: keys must be strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseGrants("g.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("parsed: %+v", g.Skills)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "g.yaml") {
				t.Fatalf("error %q does not start with the file name", err)
			}
			var ge *GrantsError
			if !errors.As(err, &ge) {
				t.Fatalf("error %T is not a *GrantsError", err)
			}
		})
	}
}

func TestParseGrantsRefusesBadBytes(t *testing.T) {
	big := "skills:\n" + strings.Repeat("# padding padding padding padding\n", MaxGrantsBytes/34+1)
	tests := []struct {
		name, src, want string
	}{
		{"too big", big, "over the 1048576 byte limit"},
		{"not utf-8", "skills:\n  a:\n    digest: \xff\xfe\n", "g.yaml:3: not valid UTF-8"},
		{"billion laughs", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n", "anchors and aliases"},
	}
	for _, tt := range tests {
		_, err := ParseGrants("g.yaml", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	// LoadGrants refuses a big file by its size, before reading it.
	dir := t.TempDir()
	p := filepath.Join(dir, "grants.yaml")
	if err := os.WriteFile(p, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGrants(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("LoadGrants(big) = %v", err)
	}
	if _, err := LoadGrants(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("LoadGrants(dir) = %v", err)
	}
}

func TestLoadGrantsErrorNamesPath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "grants.yaml")
	if err := os.WriteFile(p, []byte("skills:\n  a:\n    http: {hosts: [\"file:///etc\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadGrants(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+":3: skills.a.http.hosts[0]: ") {
		t.Fatalf("error %v", err)
	}
}

func TestValidateProgrammaticGrants(t *testing.T) {
	tests := []struct {
		name string
		g    *Grants
		want string
	}{
		{"ok", &Grants{Skills: map[string]*Grant{"a": {HTTP: &HostGrant{Hosts: []string{"x.example"}}}}}, ""},
		{"nil grant", &Grants{Skills: map[string]*Grant{"a": nil}}, ""},
		{"bad name", &Grants{Skills: map[string]*Grant{"A": {}}}, "skills: skill name"},
		{"bad host", &Grants{Skills: map[string]*Grant{"a": {HTTP: &HostGrant{Hosts: []string{"a@b"}}}}}, "skills.a.http.hosts[0]"},
		{"dup secret", &Grants{Skills: map[string]*Grant{"a": {Secrets: []string{"T", "T"}}}}, "skills.a.secrets[1]"},
		{"bad fs", &Grants{Skills: map[string]*Grant{"a": {FS: map[string]string{"/d": "rel"}}}}, "skills.a.fs./d"},
		{"bad kv", &Grants{Skills: map[string]*Grant{"a": {KV: &KVGrant{}}}}, "skills.a.kv.quota"},
		{"bad recipient", &Grants{Skills: map[string]*Grant{"a": {Mail: &MailGrant{Send: []string{"x"}}}}}, "skills.a.mail.send[0]"},
		{"bad memory", &Grants{Skills: map[string]*Grant{"a": {Limits: skill.Limits{Memory: -1}}}}, "skills.a.limits.memory"},
	}
	for _, tt := range tests {
		err := tt.g.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestGrantHelpers(t *testing.T) {
	g := &Grants{}
	if _, err := g.Skill("../evil"); err == nil {
		t.Fatal("Skill accepted a path")
	}
	gr, err := g.Skill("web-text")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(gr.AddHTTPHost("Example.ORG"))
	must(gr.AddHTTPHost("example.org."))   // duplicate after canonicalisation
	must(gr.AddHTTPHost("*.example.net"))  // new
	must(gr.AddHTTPMethod("post"))         // stored upper-case
	must(gr.AddHTTPMethod("POST"))         // duplicate
	must(gr.AddBrowserHost("example.org")) // separate list
	must(gr.SetBrowserEval(true))
	must(gr.AddFS("/data", "/srv/data/../data"))
	must(gr.AddFS("/out", "/srv/out:rw"))
	must(gr.AddFS("/out", "/srv/out2:rw")) // replaces
	must(gr.AddMailAccount("work"))
	must(gr.AddMailSend("*@Corp.Example"))
	must(gr.AddMailSend("*@corp.example"))
	must(gr.AddMailRead("inbox"))
	must(gr.AddMailRead("INBOX"))
	gr.SetMailModify(true)
	must(gr.SetKV(2 << 20))
	must(gr.AddSecret("TOKEN"))
	must(gr.AddSecret("TOKEN"))
	must(gr.SetDigest("sha256:" + hex64))
	must(gr.SetIsolation(skill.IsolationCall))
	want := &Grant{
		Digest: "sha256:" + hex64, Isolation: skill.IsolationCall,
		FS:      map[string]string{"/data": "/srv/data:ro", "/out": "/srv/out2:rw"},
		HTTP:    &HostGrant{Hosts: []string{"example.org", "*.example.net"}, Methods: []string{"POST"}},
		Browser: &BrowserGrant{Hosts: []string{"example.org"}, Eval: true},
		Mail:    &MailGrant{Accounts: []string{"work"}, Send: []string{"*@corp.example"}, Read: []string{"INBOX"}, Modify: true},
		KV:      &KVGrant{Quota: 2 << 20},
		Secrets: []string{"TOKEN"},
	}
	if !reflect.DeepEqual(gr, want) {
		t.Fatalf("after adds:\n%+v\nwant\n%+v", gr, want)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}

	// Invalid values are refused and change nothing.
	bad := []struct {
		name string
		err  error
	}{
		{"http userinfo", gr.AddHTTPHost("u@x.example")},
		{"browser scheme", gr.AddBrowserHost("file:///etc")},
		{"method", gr.AddHTTPMethod("TRACE")},
		{"fs guest", gr.AddFS("data", "/srv:ro")},
		{"fs guest dotdot", gr.AddFS("/data/..", "/srv:ro")},
		{"fs host", gr.AddFS("/x", "srv:ro")},
		{"fs mode", gr.AddFS("/x", "/srv:RO")},
		{"mail send", gr.AddMailSend("x@y@z.example")},
		{"mail read", gr.AddMailRead("%")},
		{"mail account", gr.AddMailAccount("")},
		{"kv", gr.SetKV(0)},
		{"secret", gr.AddSecret("1X")},
		{"digest", gr.SetDigest("sha256:xyz")},
		{"isolation", gr.SetIsolation("threads")},
	}
	for _, b := range bad {
		if b.err == nil {
			t.Errorf("%s: accepted", b.name)
		}
	}
	if !reflect.DeepEqual(gr, want) {
		t.Fatalf("refused values changed the grant:\n%+v", gr)
	}
	if err := (&Grant{}).AddHTTPMethod("GET"); err == nil {
		t.Error("method without hosts accepted")
	}
	if err := (&Grant{}).SetBrowserEval(true); err == nil {
		t.Error("eval without hosts accepted")
	}
	if g2 := (&Grant{}); g2.AddMailSend("bad") == nil || g2.Mail != nil {
		t.Errorf("failed AddMailSend left %+v", g2.Mail)
	}

	// Removals, canonical and pruning.
	removals := []struct {
		name string
		ok   bool
		want bool
	}{
		{"http host", gr.RemoveHTTPHost("EXAMPLE.org"), true},
		{"http host again", gr.RemoveHTTPHost("example.org"), false},
		{"method", gr.RemoveHTTPMethod("post"), true},
		{"browser host", gr.RemoveBrowserHost("example.org"), true},
		{"fs", gr.RemoveFS("/out"), true},
		{"fs missing", gr.RemoveFS("/nope"), false},
		{"mail send", gr.RemoveMailSend("*@CORP.example"), true},
		{"mail read", gr.RemoveMailRead("Inbox"), true},
		{"mail account", gr.RemoveMailAccount("work"), true},
		{"kv", gr.RemoveKV(), true},
		{"kv again", gr.RemoveKV(), false},
		{"secret", gr.RemoveSecret("TOKEN"), true},
	}
	for _, r := range removals {
		if r.ok != r.want {
			t.Errorf("remove %s = %v, want %v", r.name, r.ok, r.want)
		}
	}
	if gr.Browser != nil || gr.KV != nil || gr.Secrets != nil || len(gr.FS) != 1 {
		t.Fatalf("after removals: %+v", gr)
	}
	if gr.Mail == nil || !gr.Mail.Modify {
		t.Fatalf("mail with modify pruned too early: %+v", gr.Mail)
	}
	gr.SetMailModify(false)
	if gr.Mail != nil {
		t.Fatalf("empty mail grant kept: %+v", gr.Mail)
	}
	if !gr.RemoveHTTPHost("*.example.net") || gr.HTTP != nil {
		t.Fatalf("http grant kept without hosts: %+v", gr.HTTP)
	}
	gr.RevokeAll()
	if !reflect.DeepEqual(gr, &Grant{}) {
		t.Fatalf("RevokeAll left %+v", gr)
	}
	if !g.Revoke("web-text") || g.Revoke("web-text") {
		t.Fatal("Revoke")
	}
}

func TestParseFSFlag(t *testing.T) {
	tests := []struct {
		in, guest, spec, err string
	}{
		{"/data=/srv/data:ro", "/data", "/srv/data:ro", ""},
		{"/data=/srv/a=b:rw", "/data", "/srv/a=b:rw", ""},
		{"/data", "", "", "GUEST=HOSTDIR"},
		{"data=/srv", "", "", "absolute"},
		{"/data=srv", "", "", "absolute"},
		{"/data/../x=/srv", "", "", "not clean"},
	}
	for _, tt := range tests {
		g, s, err := ParseFSFlag(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || g != tt.guest || s != tt.spec {
			t.Errorf("%q = %q %q %v", tt.in, g, s, err)
		}
	}
}

func ExampleUpdateGrants() {
	dir, _ := os.MkdirTemp("", "reef-grants")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "grants.yaml")
	err := UpdateGrants(path, func(g *Grants) error {
		gr, err := g.Skill("web-text")
		if err != nil {
			return err
		}
		return gr.AddBrowserHost("*.example.org")
	})
	fmt.Println(err)
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output:
	// <nil>
	// # reef grants: what each skill may really use (effective = requested ∩ granted).
	// # Edited by "reef grant" / "reef revoke" and the setup wizard; comments you add are kept.
	//
	// skills:
	//   web-text:
	//     browser:
	//       hosts:
	//         - '*.example.org'
}
