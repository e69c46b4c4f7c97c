package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/reefhq/reef/runtime/skill"
)

var update = flag.Bool("update", false, "rewrite the effective.json sections of testdata/effective/*.txtar")

// archive is a txtar archive: a comment, then "-- name --" sections.
type archive struct {
	comment string
	names   []string
	files   map[string]string
}

func parseTxtar(data string) archive {
	a := archive{files: map[string]string{}}
	cur := ""
	var b strings.Builder
	flush := func() {
		if cur == "" {
			a.comment = b.String()
		} else {
			a.files[cur] = b.String()
		}
		b.Reset()
	}
	for _, ln := range strings.SplitAfter(data, "\n") {
		t := strings.TrimRight(ln, "\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			flush()
			cur = strings.TrimSpace(t[3 : len(t)-3])
			a.names = append(a.names, cur)
			continue
		}
		b.WriteString(ln)
	}
	flush()
	return a
}

func (a archive) format() string {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, n := range a.names {
		b.WriteString("-- " + n + " --\n")
		b.WriteString(a.files[n])
	}
	return b.String()
}

// TestEffectiveGolden computes the effective policy of each
// testdata/effective/*.txtar (manifest reef.yaml + grants.yaml, skill
// "probe" with digest sha256:aa…) and compares it with effective.json; the
// "checks" section is a decision table run against it.
func TestEffectiveGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/effective/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ar := parseTxtar(string(raw))
			var m skill.Manifest
			dec := yaml.NewDecoder(strings.NewReader(ar.files["reef.yaml"]))
			dec.KnownFields(true)
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("reef.yaml: %v", err)
			}
			g, err := ParseGrants(file+":grants.yaml", []byte(ar.files["grants.yaml"]))
			if err != nil {
				t.Fatal(err)
			}
			s := &skill.Skill{Name: "probe", Digest: digestA, Manifest: m}
			rec := &decisions{}
			p, err := Compute(s, g.Skills["probe"], rec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if *update {
				ar.files["effective.json"] = string(got)
				if err := os.WriteFile(file, []byte(ar.format()), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want := ar.files["effective.json"]; !bytes.Equal(got, []byte(want)) {
				t.Errorf("effective policy differs (go test -run TestEffectiveGolden -update to accept)\ngot:\n%s\nwant:\n%s", got, want)
			}
			runChecks(t, p, rec, ar.files["checks"])
		})
	}
}

// runChecks runs one decision per line:
//
//	http METHOD SCHEME HOST PORT allow|deny
//	browser SCHEME HOST PORT allow|deny
//	fs read|write PATH allow|deny
//	kv KEY allow|deny
//	recipient ADDR allow|deny
//	mailbox NAME read|modify allow|deny
//	secret NAME SCHEME HOST PORT allow|deny
//	eval allow|deny
func runChecks(t *testing.T, p *Policy, rec *decisions, checks string) {
	t.Helper()
	for i, ln := range strings.Split(strings.TrimSpace(checks), "\n") {
		f := strings.Fields(ln)
		if len(f) == 0 {
			continue
		}
		want := f[len(f)-1]
		if want != "allow" && want != "deny" {
			t.Fatalf("checks line %d %q: last field must be allow or deny", i+1, ln)
		}
		port := func(s string) int {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("checks line %d: port %q", i+1, s)
			}
			return n
		}
		var err error
		switch {
		case f[0] == "http" && len(f) == 6:
			err = p.CheckHTTP(f[1], f[2], f[3], port(f[4]))
		case f[0] == "browser" && len(f) == 5:
			err = p.CheckBrowser(f[1], f[2], port(f[3]))
		case f[0] == "fs" && len(f) == 4:
			_, err = p.Mount(f[2], f[1] == "write")
		case f[0] == "kv" && len(f) == 3:
			_, err = p.CheckKV(f[1])
		case f[0] == "recipient" && len(f) == 3:
			err = p.CheckRecipient(f[1])
		case f[0] == "mailbox" && len(f) == 4:
			err = p.CheckMailbox(f[1], f[2] == "modify")
		case f[0] == "secret" && len(f) == 6:
			err = p.CheckSecret(f[1], f[2], f[3], port(f[4]))
		case f[0] == "eval" && len(f) == 2:
			err = p.CheckEval()
		default:
			t.Fatalf("checks line %d: cannot read %q", i+1, ln)
		}
		checkDecision(t, rec, ln, err, want == "allow")
	}
}
