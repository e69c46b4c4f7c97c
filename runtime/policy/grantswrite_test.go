package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const commented = `# Operator grants for this box.
# Keep web-text tight.

skills:
  # the page reader
  web-text:
    browser:
      hosts:
        - "*.example.org"   # docs site
        - example.net       # remove me
    kv: { quota: 1048576 }  # one meg, written the long way
  # mailer skill
  mailer:
    mail: {accounts: [work], send: ["*@corp.example"]}

# trailing note
`

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "grants.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUpdateGrantsKeepsComments(t *testing.T) {
	tests := []struct {
		name string
		edit func(g *Grants) error
		want string
	}{
		{
			name: "add and remove hosts, new skill",
			edit: func(g *Grants) error {
				gr, _ := g.Skill("web-text")
				gr.RemoveBrowserHost("example.net")
				if err := gr.AddBrowserHost("docs.example.com"); err != nil {
					return err
				}
				if err := gr.AddHTTPHost("api.example.org"); err != nil {
					return err
				}
				m, _ := g.Skill("mailer")
				if err := m.AddMailSend("boss@corp.example"); err != nil {
					return err
				}
				n, _ := g.Skill("files")
				return n.AddFS("/data", "/srv/data:rw")
			},
			want: `# Operator grants for this box.
# Keep web-text tight.

skills:
  # the page reader
  web-text:
    browser:
      hosts:
        - "*.example.org" # docs site
        - docs.example.com
    kv: {quota: 1048576} # one meg, written the long way
    http:
      hosts:
        - api.example.org
  # mailer skill
  mailer:
    mail: {accounts: [work], send: ["*@corp.example", boss@corp.example]}
  files:
    fs:
      /data: /srv/data:rw

# trailing note
`,
		},
		{
			name: "revoke a whole skill",
			edit: func(g *Grants) error {
				g.Revoke("mailer")
				return nil
			},
			want: `# Operator grants for this box.
# Keep web-text tight.

skills:
  # the page reader
  web-text:
    browser:
      hosts:
        - "*.example.org" # docs site
        - example.net # remove me
    kv: {quota: 1048576} # one meg, written the long way

# trailing note
`,
		},
		{
			name: "change kv only",
			edit: func(g *Grants) error {
				return g.Skills["web-text"].SetKV(2 << 20)
			},
			want: `# Operator grants for this box.
# Keep web-text tight.

skills:
  # the page reader
  web-text:
    browser:
      hosts:
        - "*.example.org" # docs site
        - example.net # remove me
    kv: {quota: 2MiB} # one meg, written the long way
  # mailer skill
  mailer:
    mail: {accounts: [work], send: ["*@corp.example"]}

# trailing note
`,
		},
		{
			name: "revoke all of one skill keeps its entry and comment",
			edit: func(g *Grants) error {
				g.Skills["web-text"].RevokeAll()
				return nil
			},
			want: `# Operator grants for this box.
# Keep web-text tight.

skills:
  # the page reader
  web-text: {}
  # mailer skill
  mailer:
    mail: {accounts: [work], send: ["*@corp.example"]}

# trailing note
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTemp(t, commented)
			if err := UpdateGrants(p, tt.edit); err != nil {
				t.Fatal(err)
			}
			got := readFile(t, p)
			if got != tt.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			if _, err := LoadGrants(p); err != nil {
				t.Fatalf("result does not load: %v", err)
			}
		})
	}
}

func TestUpdateGrantsNoChangeNoWrite(t *testing.T) {
	p := writeTemp(t, commented)
	before, _ := os.Stat(p)
	if err := UpdateGrants(p, func(g *Grants) error {
		g.Skills["web-text"].AddBrowserHost("EXAMPLE.net") // already there
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	if !os.SameFile(before, after) || readFile(t, p) != commented {
		t.Fatal("a no-op edit rewrote the file")
	}
}

func TestUpdateGrantsNewFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "grants.yaml")
	if err := UpdateGrants(p, func(g *Grants) error {
		gr, err := g.Skill("kv-counter")
		if err != nil {
			return err
		}
		return gr.SetKV(64 << 10)
	}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	g, err := LoadGrants(p)
	if err != nil || g.Skills["kv-counter"].KV.Quota != 64<<10 {
		t.Fatalf("reload: %+v %v", g, err)
	}
	// Revoking the last skill leaves a valid, empty file.
	if err := UpdateGrants(p, func(g *Grants) error { g.Revoke("kv-counter"); return nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readFile(t, p), "skills: {}") {
		t.Fatalf("empty grants written as:\n%s", readFile(t, p))
	}
}

func TestUpdateGrantsModeTightened(t *testing.T) {
	p := writeTemp(t, commented)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdateGrants(p, func(g *Grants) error { return g.Skills["mailer"].AddMailRead("INBOX") }); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after update, want 0600", fi.Mode().Perm())
	}
}

func TestUpdateGrantsRefusals(t *testing.T) {
	tests := []struct {
		name    string
		content string
		edit    func(g *Grants) error
		want    string
	}{
		{"broken file is not edited", "skills:\n  a:\n    http: {hostz: []}\n", func(*Grants) error { return nil }, ":3: skills.a.http: unknown key"},
		{"fn error", commented, func(*Grants) error { return errors.New("changed my mind") }, "changed my mind"},
		{"invalid value set directly", commented, func(g *Grants) error {
			g.Skills["web-text"].Browser.Hosts = append(g.Skills["web-text"].Browser.Hosts, "user@evil.example")
			return nil
		}, "skills.web-text.browser.hosts[2]"},
		{"invalid skill name set directly", commented, func(g *Grants) error {
			g.Skills["../../etc"] = &Grant{}
			return nil
		}, "skill name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTemp(t, tt.content)
			err := UpdateGrants(p, tt.edit)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if readFile(t, p) != tt.content {
				t.Fatal("file changed")
			}
		})
	}
}

func TestUpdateGrantsFailureKeepsOldFile(t *testing.T) {
	for _, stage := range []string{"partial", "sync", "rename"} {
		t.Run(stage, func(t *testing.T) {
			p := writeTemp(t, commented)
			writeHook = func(s string) error {
				if s == stage {
					return fmt.Errorf("injected failure at %s", s)
				}
				return nil
			}
			t.Cleanup(func() { writeHook = nil })
			err := UpdateGrants(p, func(g *Grants) error { return g.Skills["mailer"].AddMailRead("INBOX") })
			if err == nil || !strings.Contains(err.Error(), "injected failure") {
				t.Fatalf("error %v", err)
			}
			if readFile(t, p) != commented {
				t.Fatal("old file damaged")
			}
			ents, _ := os.ReadDir(filepath.Dir(p))
			for _, e := range ents {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Fatalf("temporary file %s left behind", e.Name())
				}
			}
			writeHook = nil
			// The next update works.
			if err := UpdateGrants(p, func(g *Grants) error { return g.Skills["mailer"].AddMailRead("INBOX") }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestUpdateGrantsConcurrentWriters(t *testing.T) {
	p := writeTemp(t, commented)
	const writers, each = 6, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- UpdateGrants(p, func(g *Grants) error {
					return g.Skills["web-text"].AddHTTPHost(fmt.Sprintf("h%d-%d.example.org", w, i))
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	g, err := LoadGrants(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.Skills["web-text"].HTTP.Hosts); n != writers*each {
		t.Fatalf("%d hosts after %d concurrent adds: lost updates", n, writers*each)
	}
	if !strings.Contains(readFile(t, p), "# docs site") {
		t.Fatal("comments lost")
	}
}

func TestUpdateGrantsThroughSymlink(t *testing.T) {
	real := writeTemp(t, commented)
	link := filepath.Join(t.TempDir(), "grants.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := UpdateGrants(link, func(g *Grants) error { return g.Skills["mailer"].AddMailRead("INBOX") }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("symlink replaced by a file")
	}
	if !strings.Contains(readFile(t, real), "INBOX") {
		t.Fatal("target not updated")
	}
}
