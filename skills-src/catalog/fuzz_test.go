//go:build !wasip1

package catalog

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/author"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// pureSkill is a bundled skill that needs no capability, loaded once.
type pureSkill struct {
	name  string
	funcs []string
	pl    *engine.Plugin
}

var (
	pureOnce  sync.Once
	pureSet   []pureSkill
	pureSeeds [][]byte
	pureErr   error
)

// loadPure loads every bundled skill that requests no capability (the
// ones any input reaches unfiltered) and collects their golden inputs as
// seeds.
func loadPure(t testing.TB, eng *engine.Engine) {
	dirs := skillDirs(t)
	pureOnce.Do(func() {
		for _, dir := range dirs {
			s, err := skill.Load(dir)
			if err != nil {
				pureErr = err
				return
			}
			c := s.Manifest.Capabilities
			if len(c.FS) > 0 || c.HTTP != nil || c.Browser != nil || c.Mail != nil || c.KV != nil || len(c.Secrets) > 0 {
				continue
			}
			pol, err := policy.Compute(s, nil, nil)
			if err != nil {
				pureErr = err
				return
			}
			pl, err := eng.Load(context.Background(), s, pol, engine.LoadOptions{})
			if err != nil {
				pureErr = err
				return
			}
			ps := pureSkill{name: s.Name, pl: pl}
			for _, f := range s.Manifest.Functions {
				ps.funcs = append(ps.funcs, f.Name)
			}
			pureSet = append(pureSet, ps)
			cases, err := author.LoadCases(dir)
			if err != nil {
				pureErr = err
				return
			}
			for _, c := range cases {
				pureSeeds = append(pureSeeds, caseInput(s, c))
			}
		}
	})
	if pureErr != nil {
		t.Fatalf("loading the bundled skills: %v (run make skills)", pureErr)
	}
	if len(pureSet) < 8 {
		t.Fatalf("only %d capability-free skills found", len(pureSet))
	}
}

// FuzzSkillInput sends arbitrary bytes to every function of every
// capability-free bundled skill (all four PDKs): a skill may answer with an
// error of its own, but never trap, time out or overflow its output, and
// the next call must work. Without -fuzz it runs the seeds: every golden
// input plus malformed and hostile JSON.
//
//	go test -run '^$' -fuzz FuzzSkillInput -fuzztime 60s ./skills-src/catalog
func FuzzSkillInput(f *testing.F) {
	loadPure(f, newEngine(f))
	for _, s := range pureSeeds {
		f.Add(s)
	}
	for _, s := range []string{
		"", "{", "}", "[]", "null", "true", "0", "-", `"x"`, `"\ud800"`, `{"a":`, `{"text":1}`,
		`{"text":"\u0000\uffff"}`, "\xff\xfe\x00", `{"":""}`, `{"a":1,"a":2}`, `1e999999`,
		strings.Repeat("[", 100000), strings.Repeat(`{"a":`, 50000), strings.Repeat("9", 100000),
		`{"text":"` + strings.Repeat("\\", 50000) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, s := range pureSet {
			for _, fn := range s.funcs {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, err := s.pl.Call(ctx, fn, in)
				cancel()
				if err != nil && engine.KindOf(err) != engine.KindGuest {
					t.Errorf("%s.%s(%.80q): %v (kind %v); want output or the skill's own error", s.name, fn, in, err, engine.KindOf(err))
				}
			}
		}
	})
}
