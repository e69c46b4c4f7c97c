package policy

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzLoadGrants: the parser never panics; what it accepts passes
// Validate; and what UpdateGrants' renderer writes (fresh, or edited in
// the original node tree) reads back as the same grants.
func FuzzLoadGrants(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/effective/*.txtar")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add([]byte(parseTxtar(string(b)).files["grants.yaml"]))
		}
	}
	f.Add([]byte(commented))
	f.Add([]byte("skills:\n  a: &x {}\n  b: *x\n"))
	f.Add([]byte("skills: {a: {kv: {quota: 1}}, b: {secrets: [X]}}\n"))
	f.Add([]byte("skills:\n  a:\n    fs: {/d: '/h:rw'}\n    mail: {send: ['*@*.x.example'], read: [INBOX]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, g, err := parseGrantsDoc("f.yaml", data)
		if err != nil {
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("parser accepted what Validate refuses: %v", err)
		}
		fresh, err := renderGrants(nil, &Grants{Skills: map[string]*Grant{}}, g)
		if err != nil {
			t.Fatalf("render fresh: %v", err)
		}
		back, err := ParseGrants("f.yaml", fresh)
		if err != nil {
			t.Fatalf("fresh render does not parse: %v\n%s", err, fresh)
		}
		if !sameGrants(back, g) {
			t.Fatalf("fresh render reads back differently:\n%s", fresh)
		}
		if doc == nil {
			return
		}
		next := g.Clone()
		names := slices.Sorted(maps.Keys(next.Skills))
		if len(names) > 0 {
			next.Revoke(names[0])
		}
		if len(names) > 1 {
			_ = next.Skills[names[1]].AddSecret("FUZZ_SECRET")
			_ = next.Skills[names[1]].AddHTTPHost("fuzz.example.org")
			next.Skills[names[1]].RemoveKV()
		}
		edited, err := renderGrants(doc, g, next)
		if err != nil {
			t.Fatalf("render edit: %v", err)
		}
		back, err = ParseGrants("f.yaml", edited)
		if err != nil {
			t.Fatalf("edited render does not parse: %v\n%s", err, edited)
		}
		if !sameGrants(back, next) {
			t.Fatalf("edited render reads back differently:\n%s", edited)
		}
	})
}
