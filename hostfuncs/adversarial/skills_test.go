package adversarial

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/author"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// loadBundle copies skills-src/<name> with its freshly built module into
// a temp folder, loads it with skill.Load (SKILL.md + reef.yaml
// validated) and grants it g. extraHosts are appended to the manifest's
// http request (the loopback test server is not a host a real manifest
// would name).
func loadBundle(t *testing.T, name string, g *policy.Grant, extraHosts ...string) (*skill.Skill, *engine.Plugin) {
	t.Helper()
	src := filepath.Join(w.repo, "skills-src", name)
	dst := filepath.Join(t.TempDir(), name)
	must(t, os.MkdirAll(filepath.Join(dst, "tests"), 0o755))
	for _, f := range []string{"SKILL.md", "reef.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		must(t, err)
		writeFile(t, filepath.Join(dst, f), string(b))
	}
	must(t, os.WriteFile(filepath.Join(dst, name+".wasm"), w.wasm[name], 0o644))
	s, err := skill.Load(dst)
	if err != nil {
		t.Fatalf("skill.Load %s: %v", name, err)
	}
	if s.Name != name || s.Meta.Description == "" {
		t.Fatalf("bundle %s: name %q, description %q", name, s.Name, s.Meta.Description)
	}
	if len(extraHosts) > 0 {
		s.Manifest.Capabilities.HTTP.Hosts = append(s.Manifest.Capabilities.HTTP.Hosts, extraHosts...)
	}
	p, err := policy.Compute(s, g, w.rec)
	must(t, err)
	pl, err := w.eng.Load(context.Background(), s, p, engine.LoadOptions{})
	must(t, err)
	t.Cleanup(func() { pl.Close(context.Background()) })
	return s, pl
}

func callJSON(t *testing.T, pl *engine.Plugin, fn string, in any, out any) error {
	t.Helper()
	b, _ := json.Marshal(in)
	res, err := pl.Call(context.Background(), fn, b)
	if err != nil {
		return err
	}
	noSecret(t, nil, "output", string(res))
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("%s output %q: %v", fn, res, err)
	}
	return nil
}

// runGoldens runs the skill's tests/*.json with reef test's own runner
// (runtime/author): each case under its own grants, none meaning none.
func runGoldens(t *testing.T, name string, pl *engine.Plugin) {
	t.Helper()
	cases, err := author.LoadCases(filepath.Join(w.repo, "skills-src", name))
	if err != nil || len(cases) == 0 {
		t.Fatalf("%s tests: %d cases, %v", name, len(cases), err)
	}
	for _, r := range author.RunCases(context.Background(), w.eng, pl.Skill(), cases, nil) {
		t.Run("golden/"+r.Case.Name, func(t *testing.T) {
			if !r.Pass {
				t.Fatalf("%s", r.Diff)
			}
			noSecret(t, nil, "output", string(r.Output))
		})
	}
}

func TestSkillHTTPFetch(t *testing.T) {
	good := "http://" + w.good.hostPort()
	_, pl := loadBundle(t, "http-fetch", &policy.Grant{HTTP: &policy.HostGrant{Hosts: []string{good}}, Secrets: []string{"TOKEN"}}, good)
	var out struct {
		Status  int               `json:"status"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Text    string            `json:"text"`
		Bytes   int               `json:"bytes"`
	}
	must(t, callJSON(t, pl, "fetch", map[string]any{"url": good + "/"}, &out))
	if out.Status != 200 || out.Text != "hello from good" || out.Headers["Content-Type"] != "text/plain; charset=utf-8" || out.URL != good+"/" || out.Bytes != 15 {
		t.Fatalf("fetch: %+v", out)
	}
	// Size limit.
	err := callJSON(t, pl, "fetch", map[string]any{"url": good + "/big?n=5000", "max_bytes": 1000}, &out)
	if err == nil || !strings.Contains(err.Error(), "response larger than max_bytes (1000)") {
		t.Fatalf("over max_bytes: %v", err)
	}
	// Secrets are not requested by the manifest: the template is refused.
	err = callJSON(t, pl, "fetch", map[string]any{"url": good + "/echo", "headers": map[string]string{"Authorization": "{{secret:TOKEN}}"}}, &out)
	if d := denialOf(err); d == nil || d.Capability != "secrets" {
		t.Fatalf("secret not requested: %v", err)
	}
	// Not granted: the other loopback server.
	err = callJSON(t, pl, "fetch", map[string]any{"url": "http://" + w.bad.hostPort() + "/"}, &out)
	if d := denialOf(err); d == nil || d.Capability != "http" {
		t.Fatalf("non-granted host: %v", err)
	}
	runGoldens(t, "http-fetch", pl)
}

func TestSkillFileSearch(t *testing.T) {
	h := newHostDirs(t)
	must(t, os.MkdirAll(filepath.Join(h.data, "notes", "deep"), 0o755))
	writeFile(t, filepath.Join(h.data, "notes", "a.md"), "first line\n- TODO: call Ada\nlast\n")
	writeFile(t, filepath.Join(h.data, "notes", "deep", "b.txt"), "todo lower\r\nnothing\r\nTODO again\n")
	writeFile(t, filepath.Join(h.data, "bin.dat"), "TODO\x00binary")
	must(t, os.Symlink(h.secretPath, filepath.Join(h.data, "leak.txt"))) // must not be followed out
	_, pl := loadBundle(t, "file-search", &policy.Grant{FS: map[string]string{"/data": h.data + ":ro"}})
	type match struct {
		Path string `json:"path"`
		Line int    `json:"line"`
		Text string `json:"text"`
	}
	var out struct {
		Matches   []match `json:"matches"`
		Files     int     `json:"files"`
		Truncated bool    `json:"truncated"`
	}
	must(t, callJSON(t, pl, "search", map[string]any{"query": "TODO"}, &out))
	want := []match{{"/data/notes/a.md", 2, "- TODO: call Ada"}, {"/data/notes/deep/b.txt", 3, "TODO again"}}
	if !reflect.DeepEqual(out.Matches, want) || out.Files != 3 || out.Truncated {
		t.Fatalf("substring: %+v", out)
	}
	must(t, callJSON(t, pl, "search", map[string]any{"query": "^todo|again$", "regex": true, "ignore_case": true}, &out))
	want = []match{{"/data/notes/deep/b.txt", 1, "todo lower"}, {"/data/notes/deep/b.txt", 3, "TODO again"}}
	if !reflect.DeepEqual(out.Matches, want) || out.Truncated {
		t.Fatalf("regex: %+v", out)
	}
	must(t, callJSON(t, pl, "search", map[string]any{"query": "todo", "ignore_case": true, "max_results": 2}, &out))
	if len(out.Matches) != 2 || !out.Truncated {
		t.Fatalf("max_results: %+v", out)
	}
	err := callJSON(t, pl, "search", map[string]any{"query": "x", "path": "/data/../"}, &out)
	if d := denialOf(err); d == nil || d.Capability != "fs" {
		t.Fatalf("search outside: %v", err)
	}
	runGoldens(t, "file-search", pl)
}

func TestSkillFileOrganizer(t *testing.T) {
	h := newHostDirs(t)
	for _, f := range []string{"a.PDF", "b.pdf", "c.jpg", "README", ".env"} {
		writeFile(t, filepath.Join(h.data, f), f)
	}
	must(t, os.Mkdir(filepath.Join(h.data, "jpg"), 0o755))
	writeFile(t, filepath.Join(h.data, "jpg", "c.jpg"), "older c.jpg")
	old := time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(h.data, "hello.txt"), old, old))
	_, pl := loadBundle(t, "file-organizer", &policy.Grant{FS: map[string]string{"/data": h.data + ":rw"}})
	type mv struct{ From, To string }
	var out struct {
		DryRun  bool `json:"dry_run"`
		Moves   []mv `json:"moves"`
		Skipped []struct {
			Path, Reason string
		} `json:"skipped"`
	}
	must(t, callJSON(t, pl, "organize", map[string]any{"dry_run": true}, &out))
	wantMoves := []mv{{"/data/README", "/data/no-extension/README"}, {"/data/a.PDF", "/data/pdf/a.PDF"}, {"/data/b.pdf", "/data/pdf/b.pdf"}, {"/data/hello.txt", "/data/txt/hello.txt"}}
	if !out.DryRun || !reflect.DeepEqual(out.Moves, wantMoves) || len(out.Skipped) != 2 {
		t.Fatalf("dry run: %+v", out)
	}
	if _, err := os.Stat(filepath.Join(h.data, "pdf")); err == nil {
		t.Fatal("dry run created a folder")
	}
	must(t, callJSON(t, pl, "organize", map[string]any{}, &out))
	if out.DryRun || !reflect.DeepEqual(out.Moves, wantMoves) {
		t.Fatalf("organize: %+v", out)
	}
	for _, m := range wantMoves {
		if _, err := os.Stat(filepath.Join(h.data, strings.TrimPrefix(m.To, "/data/"))); err != nil {
			t.Fatalf("%s not moved: %v", m.To, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(h.data, "c.jpg")); string(b) != "c.jpg" {
		t.Fatal("c.jpg (target exists) was touched")
	}
	// By date: hello.txt now sits in txt/; move it back and sort by month.
	must(t, os.Rename(filepath.Join(h.data, "txt", "hello.txt"), filepath.Join(h.data, "hello.txt")))
	must(t, callJSON(t, pl, "organize", map[string]any{"by": "date"}, &out))
	// c.jpg stayed (its extension target existed) and moves by month too.
	if len(out.Moves) != 2 || out.Moves[1] != (mv{"/data/hello.txt", "/data/2024-03/hello.txt"}) || !strings.HasPrefix(out.Moves[0].To, "/data/"+time.Now().UTC().Format("2006-01")) {
		t.Fatalf("by date: %+v", out)
	}
	// Read-only grant: the moves are denied.
	h2 := newHostDirs(t)
	writeFile(t, filepath.Join(h2.data, "x.txt"), "x")
	_, ro := loadBundle(t, "file-organizer", &policy.Grant{FS: map[string]string{"/data": h2.data + ":ro"}})
	err := callJSON(t, ro, "organize", map[string]any{}, &out)
	if d := denialOf(err); d == nil || d.Capability != "fs" {
		t.Fatalf("read-only organize: %v", err)
	}
	if _, err := os.Stat(filepath.Join(h2.data, "x.txt")); err != nil {
		t.Fatal("file moved on a read-only grant")
	}
	_, dry := loadBundle(t, "file-organizer", &policy.Grant{FS: map[string]string{"/data": h2.data + ":rw"}})
	runGoldens(t, "file-organizer", dry)
}

func TestSkillKVCounter(t *testing.T) {
	_, pl := loadBundle(t, "kv-counter", &policy.Grant{KV: &policy.KVGrant{Quota: 64 << 10}})
	type res struct {
		Name  string `json:"name"`
		Value int64  `json:"value"`
	}
	var out res
	must(t, callJSON(t, pl, "get", map[string]any{"name": "visits"}, &out))
	if out != (res{"visits", 0}) {
		t.Fatalf("get unset: %+v", out)
	}
	must(t, callJSON(t, pl, "increment", map[string]any{"name": "visits"}, &out))
	must(t, callJSON(t, pl, "increment", map[string]any{"name": "visits", "by": 41}, &out))
	if out != (res{"visits", 42}) {
		t.Fatalf("increment: %+v", out)
	}
	// Concurrent increments never lose an update (compare-and-swap).
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 10; k++ {
				var r res
				if err := callJSON(t, pl, "increment", map[string]any{"name": "visits"}, &r); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	must(t, callJSON(t, pl, "get", map[string]any{"name": "visits"}, &out))
	if out.Value != 122 {
		t.Fatalf("after 80 concurrent increments: %d, want 122", out.Value)
	}
	err := callJSON(t, pl, "increment", map[string]any{"name": "visits", "by": int64(1e15)}, &out)
	must(t, err)
	must(t, callJSON(t, pl, "reset", map[string]any{"name": "visits"}, &out))
	must(t, callJSON(t, pl, "get", map[string]any{"name": "visits"}, &out))
	if out.Value != 0 {
		t.Fatalf("after reset: %+v", out)
	}
	// Durable in the kv store under the skill's own namespace.
	must(t, callJSON(t, pl, "increment", map[string]any{"name": "n" + strconv.Itoa(7)}, &out))
	if keys, _, err := w.kv.Stats("kv-counter"); err != nil || keys == 0 {
		t.Fatalf("kv-counter namespace: %d keys, %v", keys, err)
	}
	// Without a kv grant: denied.
	_, none := loadBundle(t, "kv-counter", nil)
	err = callJSON(t, none, "get", map[string]any{"name": "visits"}, &out)
	if d := denialOf(err); d == nil || d.Capability != "kv" {
		t.Fatalf("no grant: %v", err)
	}
	runGoldens(t, "kv-counter", pl)
}
