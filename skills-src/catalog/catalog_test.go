//go:build !wasip1

package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	hostfs "github.com/reefhq/reef/hostfuncs/fs"
	hosthttp "github.com/reefhq/reef/hostfuncs/http"
	hostkv "github.com/reefhq/reef/hostfuncs/kv"
	"github.com/reefhq/reef/internal/netguard"
	"github.com/reefhq/reef/runtime/author"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/skill"
)

// minSkills is the size the bundled catalog must keep.
const minSkills = 14

// skillsRef is the pinned Agent Skills reference validator (npm).
const skillsRef = "skills-ref@0.1.5"

// skillDirs lists the folders of skills-src that hold a SKILL.md.
func skillDirs(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join("..", e.Name(), skill.SkillFile)); err == nil {
			dirs = append(dirs, filepath.Join("..", e.Name()))
		}
	}
	return dirs
}

func TestCatalogSize(t *testing.T) {
	if n := len(skillDirs(t)); n < minSkills {
		t.Errorf("skills-src holds %d skills, the catalog promises at least %d", n, minSkills)
	}
}

// wasmName reads the module path from reef.yaml without needing the
// module itself.
func wasmName(t *testing.T, dir string) string {
	t.Helper()
	y, err := os.ReadFile(filepath.Join(dir, skill.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := skill.ParseManifest(filepath.Join(dir, skill.ManifestFile), y)
	if err != nil {
		t.Fatalf("reef.yaml: %v", err)
	}
	return m.Wasm
}

// catalogModules is an engine config with the capabilities the bundled
// skills' golden cases use: fs, http (loopback only, through netguard)
// and kv.
func catalogModules(t testing.TB) engine.Config {
	t.Helper()
	guard := netguard.New(t)
	kv, err := hostkv.Open(hostkv.Options{Path: filepath.Join(t.TempDir(), "kv.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kv.Close() })
	web := hosthttp.New(hosthttp.Options{Dialer: guard.Dialer(), Timeout: 5 * time.Second})
	t.Cleanup(func() { _ = web.Close() })
	return engine.NewConfig().WithModules(hostfs.New(hostfs.Options{}), web, kv)
}

func newEngine(t testing.TB) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	cfg := catalogModules(t)
	// Go skills take seconds to compile; wazero's on-disk cache (keyed by
	// module digest and wazero version) makes reruns fast.
	if dir, err := os.UserCacheDir(); err == nil {
		cfg = cfg.WithCacheDir(filepath.Join(dir, "reef", "catalog-test"))
	}
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(ctx) })
	return eng
}

func TestSkills(t *testing.T) {
	eng := newEngine(t)
	for _, dir := range skillDirs(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			md, err := os.ReadFile(filepath.Join(dir, skill.SkillFile))
			if err != nil {
				t.Fatal(err)
			}
			// ParseFrontmatter checks name == folder from the file path.
			fm, docs, err := skill.ParseFrontmatter(filepath.Join(dir, skill.SkillFile), md)
			if err != nil {
				t.Fatalf("SKILL.md: %v", err)
			}
			if fm.Name != name {
				t.Errorf("SKILL.md name %q, folder %q", fm.Name, name)
			}
			if len(strings.TrimSpace(docs)) < 150 {
				t.Errorf("SKILL.md body has %d characters; document every function with an example", len(strings.TrimSpace(docs)))
			}
			wasm := wasmName(t, dir)
			if _, err := os.Stat(filepath.Join(dir, wasm)); err != nil {
				t.Fatalf("%s: module %s is missing: run make skills (reef build %s) first", name, wasm, dir)
			}
			s, err := skill.Load(dir)
			if err != nil {
				t.Fatalf("skill.Load: %v", err)
			}
			// The same loader and runner as `reef test`, so a case means the
			// same thing to authors and to this suite.
			cases, err := author.LoadCases(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range s.Manifest.Functions {
				if !slices.ContainsFunc(cases, func(c author.Case) bool { return c.Function == f.Name }) {
					t.Errorf("function %s has no golden case in tests/", f.Name)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for _, r := range author.RunCases(ctx, eng, s, cases, nil) {
				t.Run(r.Case.Name, func(t *testing.T) {
					if !r.Pass {
						t.Errorf("%s\n%s", r.Case.Function, r.Diff)
					}
				})
			}
		})
	}
}

// validatorScript validates every folder given on the command line with
// the skills-ref library found on PATH (npx puts its bin directory there)
// and prints one JSON line {dir: [errors]}.
const validatorScript = `
import { realpathSync, existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
let cli = null;
for (const d of (process.env.PATH || "").split(path.delimiter)) {
  const p = path.join(d, "skills-ref");
  if (existsSync(p)) { cli = realpathSync(p); break; }
}
if (!cli) { console.error("skills-ref is not on PATH"); process.exit(2); }
const { validate } = await import(pathToFileURL(path.join(path.dirname(cli), "validator.js")).href);
const out = {};
for (const dir of process.argv.slice(2)) out[dir] = (await validate(dir)).map(String);
console.log(JSON.stringify(out));
`

// TestAgentSkillsValidator runs the Agent Skills reference validator
// (npm skills-ref, pinned) over every skill folder in one node process.
// npx fetches the package from the npm registry once and then runs it
// from its cache (--prefer-offline).
func TestAgentSkillsValidator(t *testing.T) {
	npx, err := exec.LookPath("npx")
	if err != nil {
		t.Fatalf("npx is not installed: install Node.js and npm (apt-get install nodejs npm) to run the Agent Skills validator %s", skillsRef)
	}
	script := filepath.Join(t.TempDir(), "validate.mjs")
	if err := os.WriteFile(script, []byte(validatorScript), 0o600); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, d := range skillDirs(t) {
		abs, err := filepath.Abs(d)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, abs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npx, "--yes", "--prefer-offline", "-p", skillsRef, "-c", "node "+shellQuote(script)+" "+shellJoin(dirs))
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("npx %s: %v\n%s\n(npx needs the npm registry once to fetch %s; later runs use its cache)", skillsRef, err, stderr.String(), skillsRef)
	}
	var res map[string][]string
	if err := json.Unmarshal(outb, &res); err != nil {
		t.Fatalf("validator output: %v\n%s", err, outb)
	}
	names := make([]string, 0, len(res))
	for d := range res {
		names = append(names, d)
	}
	sort.Strings(names)
	if len(names) != len(dirs) {
		t.Fatalf("validator checked %d folders, want %d", len(names), len(dirs))
	}
	for _, d := range names {
		if errs := res[d]; len(errs) > 0 {
			t.Errorf("%s is not a valid Agent Skill: %s", filepath.Base(d), strings.Join(errs, "; "))
		}
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shellJoin(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = shellQuote(s)
	}
	return strings.Join(q, " ")
}
