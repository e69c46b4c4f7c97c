package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/internal/testwait"

	"github.com/reefhq/reef/runtime/server"
)

func storeDir(t *testing.T) string {
	dir := skillDir(t)
	writeBundle(t, dir, "store", `wasm: store.wasm
functions: [{ name: greet }]
capabilities:
  kv: { quota: 1MiB }
`, engineFixture(t, "greet"))
	return dir
}

func effectiveKV(t *testing.T, h *harness) int64 {
	t.Helper()
	r := h.do("GET", "/v1/skills/store", tokAdmin, nil)
	var d struct {
		Effective struct {
			KVQuota string `json:"kv_quota"`
		} `json:"effective"`
	}
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatal(err)
	}
	switch d.Effective.KVQuota {
	case "":
		return 0
	case "512KiB":
		return 512 << 10
	case "1MiB":
		return 1 << 20
	}
	t.Fatalf("kv_quota %q", d.Effective.KVQuota)
	return 0
}

func nextAudit(t *testing.T, h *harness) server.AdminAction {
	t.Helper()
	select {
	case a := <-h.Audit.ch:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no audit entry")
	}
	return server.AdminAction{}
}

func TestGrantsPutGet(t *testing.T) {
	h := startServer(t, harnessOpts{dir: storeDir(t), grants: "# operator comment kept\nskills: {}\n"})
	if got := effectiveKV(t, h); got != 0 {
		t.Fatalf("kv before grant: %d", got)
	}
	r := h.do("GET", "/v1/grants", tokOperator, nil, "Accept", "application/yaml")
	etag := r.Header.Get("ETag")
	if r.Status != 200 || etag == "" || !strings.Contains(string(r.Body), "operator comment") {
		t.Fatalf("GET yaml: %d %q %s", r.Status, etag, r.Body)
	}

	// A valid PUT is written, applied at once and audited.
	r = h.do("PUT", "/v1/grants", tokOperator, []byte("skills:\n  store:\n    kv: { quota: 512KiB }\n"), "If-Match", etag)
	if r.Status != 200 {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	if got := effectiveKV(t, h); got != 512<<10 {
		t.Fatalf("kv after grant: %d", got)
	}
	file, _ := os.ReadFile(h.Grants)
	if !strings.Contains(string(file), "512KiB") || !strings.Contains(string(file), "operator comment") {
		t.Fatalf("grants file: %s", file)
	}
	if fi, _ := os.Stat(h.Grants); fi.Mode().Perm() != 0o600 {
		t.Fatalf("grants file mode %v", fi.Mode().Perm())
	}
	a := nextAudit(t, h)
	if a.Action != "grants.write" || !a.OK || a.Token != "ops" || a.Role != server.RoleOperator || !strings.Contains(a.Detail, "store") {
		t.Fatalf("audit: %+v", a)
	}

	// JSON works too (GET returns JSON by default).
	r = h.do("GET", "/v1/grants", tokAdmin, nil)
	var g struct {
		Skills map[string]json.RawMessage `json:"skills"`
	}
	if err := json.Unmarshal(r.Body, &g); err != nil || g.Skills["store"] == nil {
		t.Fatalf("GET json: %s", r.Body)
	}

	// Stale If-Match, invalid documents: 4xx, file and grants unchanged, audited as failures.
	before, _ := os.ReadFile(h.Grants)
	bad := []struct {
		name, body string
		hdr        []string
		status     int
	}{
		{"stale etag", "skills: {}\n", []string{"If-Match", etag}, 412},
		{"unknown key", "skills:\n  store:\n    teleport: yes\n", nil, 400},
		{"bad skill name", "skills:\n  Bad_Name: {}\n", nil, 400},
		{"not yaml", "skills: [", nil, 400},
		{"bad mount", "skills:\n  store:\n    fs: { /data: relative/dir }\n", nil, 400},
	}
	for _, c := range bad {
		r := h.do("PUT", "/v1/grants", tokAdmin, []byte(c.body), c.hdr...)
		if r.Status != c.status || r.problem(t).Code != server.CodeBadRequest {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
		if a := nextAudit(t, h); a.OK || a.Action != "grants.write" {
			t.Errorf("%s: audit %+v", c.name, a)
		}
	}
	after, _ := os.ReadFile(h.Grants)
	if string(after) != string(before) {
		t.Fatalf("a refused PUT changed the file:\n%s", after)
	}
	if got := effectiveKV(t, h); got != 512<<10 {
		t.Fatalf("kv after refused PUTs: %d", got)
	}
	// No temp files left behind.
	ents, _ := os.ReadDir(filepath.Dir(h.Grants))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestGrantsFileWatched(t *testing.T) {
	h := startServer(t, harnessOpts{dir: storeDir(t), grants: "skills: {}\n", watch: true})
	writeFile(t, h.Grants, []byte("skills:\n  store:\n    kv: { quota: 1MiB }\n"))
	testwait.Until(t, "grants reload", func() bool { return effectiveKV(t, h) == 1<<20 })
	// A broken edit keeps the previous grants.
	writeFile(t, h.Grants, []byte("skills: [broken\n"))
	time.Sleep(200 * time.Millisecond)
	if got := effectiveKV(t, h); got != 1<<20 {
		t.Fatalf("broken grants file changed the policy: %d", got)
	}
}

func TestReload(t *testing.T) {
	h := startServer(t, harnessOpts{})
	// A new skill appears and a broken one too; reload picks up both.
	writeFile(t, filepath.Join(h.SkillDir, "newbie.wasm"), engineFixture(t, "greet"))
	writeFile(t, filepath.Join(h.SkillDir, "junk.wasm"), []byte("not wasm at all"))
	r := h.do("POST", "/v1/reload", tokOperator, nil)
	var res server.ReloadResult
	if err := json.Unmarshal(r.Body, &res); err != nil || r.Status != 200 {
		t.Fatalf("reload: %d %s", r.Status, r.Body)
	}
	if res.Loaded != 6 || res.Failed != 1 || res.Errors[0].Skill != "junk" {
		t.Fatalf("reload result: %+v", res)
	}
	a := nextAudit(t, h)
	if a.Action != "reload" || !a.OK || a.Token != "ops" || a.ID != r.Header.Get("X-Request-Id") {
		t.Fatalf("audit: %+v", a)
	}
	if r := h.invoke(tokAdmin, "newbie", "greet", "x"); r.Status != 200 {
		t.Fatalf("new skill: %d %s", r.Status, r.Body)
	}
	if r := h.invoke(tokAdmin, "junk", "f", ""); r.Status != 503 || r.problem(t).Code != server.CodeUnavailable {
		t.Fatalf("broken skill: %d %s", r.Status, r.Body)
	}
	// A broken grants file refuses the reload.
	writeFile(t, h.Grants, []byte("skills: ["))
	if r := h.do("POST", "/v1/reload", tokAdmin, nil); r.Status != 400 {
		t.Fatalf("reload with broken grants: %d %s", r.Status, r.Body)
	}
	if a := nextAudit(t, h); a.OK {
		t.Fatalf("audit of failed reload: %+v", a)
	}
}

// TestBrokenUploadKeepsOldVersion: a skill replaced by a broken module
// keeps serving the old version, reports the error in GET /v1/skills and
// counts it in reef_skill_load_errors_total.
func TestBrokenUploadKeepsOldVersion(t *testing.T) {
	h := startServer(t, harnessOpts{watch: true})
	path := filepath.Join(h.SkillDir, "hello", "hello.wasm")
	good, _ := os.ReadFile(path)
	writeFile(t, path, good[:len(good)/2]) // a truncated upload
	var row server.SkillSummary
	testwait.Until(t, "load error listed", func() bool {
		var list struct{ Skills []server.SkillSummary }
		_ = json.Unmarshal(h.do("GET", "/v1/skills", tokAdmin, nil).Body, &list)
		for _, s := range list.Skills {
			if s.Name == "hello" && s.LoadError != nil {
				row = s
				return true
			}
		}
		return false
	})
	if row.Status != "degraded" || row.Version != "1.0.0" || row.LoadError.Message == "" {
		t.Fatalf("row: %+v", row)
	}
	if r := h.invoke(tokAdmin, "hello", "greet", `"old"`); r.Status != 200 || string(r.Body) != `Hello, "old"!` {
		t.Fatalf("old version not serving: %d %s", r.Status, r.Body)
	}
	if m := scrape(t, h); m[`reef_skill_load_errors_total{skill="hello"}`] < 1 {
		t.Fatalf("load error not counted: %v", m)
	}
	// Fixing the upload clears the error.
	writeFile(t, path, good)
	testwait.Until(t, "error cleared", func() bool {
		return !strings.Contains(string(h.do("GET", "/v1/skills/hello", tokAdmin, nil).Body), "load_error")
	})
}
