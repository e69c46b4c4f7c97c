package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cliEnv isolates reef's config and data directories for one test.
func cliEnv(t *testing.T) (skillDir string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Setenv("REEF_CONFIG", "")
	t.Setenv("REEF_GRANTS", "")
	t.Setenv("SKILL_DIR", "")
	t.Setenv("REEF_SKILL_DIR", "")
	skillDir = filepath.Join(home, "skills")
	if err := os.MkdirAll(skillDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return skillDir
}

func reef(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("%v (run `make testdata skills`)", err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyBundle copies a built bundled skill (make skills) into dir.
func copyBundle(t *testing.T, name, dir string) {
	t.Helper()
	src := filepath.Join("..", "..", "skills-src", name)
	for _, f := range []string{"SKILL.md", "reef.yaml", name + ".wasm"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(dir, name, f))
	}
}

func TestRunExitCodes(t *testing.T) {
	dir := cliEnv(t)
	copyFile(t, "../../runtime/engine/testdata/hostile.wasm", filepath.Join(dir, "hostile.wasm"))
	copyFile(t, "../../runtime/engine/testdata/greet.wasm", filepath.Join(dir, "greet.wasm"))
	copyBundle(t, "hello-c", dir)
	copyBundle(t, "kv-counter", dir)
	cases := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"ok", "", []string{"run", "hello-c", "greet", `{"name":"Ada"}`}, 0, `{"greeting":"Hello, Ada!"}`, ""},
		{"stdin input", `{"name":"Bo"}`, []string{"run", "hello-c", "greet", "-"}, 0, `Hello, Bo!`, ""},
		{"bare extism plugin with config", "", []string{"run", "--config", "greeting=Ahoy", "greet", "greet", "x"}, 0, "Ahoy, x!", ""},
		{"trap", "", []string{"run", "hostile", "trap"}, 1, "", `skill "hostile" function "trap": trap`},
		{"guest error", "", []string{"run", "greet", "fail"}, 1, "", "this plugin always fails"},
		{"schema violation", "", []string{"run", "hello-c", "greet", `{"nome":"x"}`}, 2, "", "missing property 'name'"},
		{"unknown function", "", []string{"run", "hello-c", "nope"}, 2, "", `"nope"`},
		{"unknown skill", "", []string{"run", "nosuch", "f"}, 2, "", "nosuch"},
		{"path trick", "", []string{"run", "../etc", "f"}, 2, "", "../etc"},
		{"bad config flag", "", []string{"run", "--config", "novalue", "greet", "greet"}, 2, "", "KEY=VALUE"},
		{"usage", "", []string{"run"}, 2, "", "accepts between 2 and 3 arg"},
		{"denied", "", []string{"run", "kv-counter", "increment", `{"name":"a"}`}, 3, "", `kv denied`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := reef(t, c.stdin, append([]string{"--skill-dir", dir}, c.args...)...)
			if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errOut, c.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
		})
	}
	// Granting kv makes the denied call work; revoking denies it again.
	if code, _, e := reef(t, "", "--skill-dir", dir, "grant", "kv-counter", "--kv", "64KiB"); code != 0 {
		t.Fatalf("grant: %d %s", code, e)
	}
	if code, out, e := reef(t, "", "--skill-dir", dir, "run", "kv-counter", "increment", `{"name":"a"}`); code != 0 || !strings.Contains(out, `"value":1`) {
		t.Fatalf("after grant: %d %s %s", code, out, e)
	}
	if code, _, e := reef(t, "", "--skill-dir", dir, "revoke", "kv-counter", "--kv"); code != 0 {
		t.Fatalf("revoke: %d %s", code, e)
	}
	if code, _, _ := reef(t, "", "--skill-dir", dir, "run", "kv-counter", "increment", `{"name":"a"}`); code != 3 {
		t.Fatalf("after revoke: exit %d, want 3", code)
	}
}

func TestBrokenGrantsStopReef(t *testing.T) {
	dir := cliEnv(t)
	copyFile(t, "../../runtime/engine/testdata/greet.wasm", filepath.Join(dir, "greet.wasm"))
	grants := filepath.Join(t.TempDir(), "grants.yaml")
	if err := os.WriteFile(grants, []byte("skills:\n  greet:\n    kv: {quota: lots}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := reef(t, "", "--skill-dir", dir, "--grants", grants, "run", "greet", "greet", "x")
	if code != 2 || !strings.Contains(errOut, "grants.yaml:3") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
}

func TestListAndInspect(t *testing.T) {
	dir := cliEnv(t)
	copyBundle(t, "hello-c", dir)
	copyFile(t, "../../runtime/engine/testdata/greet.wasm", filepath.Join(dir, "greet.wasm"))
	if err := os.MkdirAll(filepath.Join(dir, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken", "SKILL.md"), []byte("---\nname: Broken!\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := reef(t, "", "--skill-dir", dir, "list", "--output", "json")
	if code != 0 {
		t.Fatalf("list: %d %s", code, errOut)
	}
	var rows []listRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := map[string]listRow{}
	for _, r := range rows {
		got[r.Name] = r
	}
	if got["hello-c"].Version != "1.0.0" || got["greet"].Error != "" || got["broken"].Error == "" {
		t.Fatalf("list: %+v", rows)
	}
	code, out, errOut = reef(t, "", "--skill-dir", dir, "inspect", "hello-c", "--output", "json")
	if code != 0 {
		t.Fatalf("inspect: %d %s", code, errOut)
	}
	var in inspection
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatal(err)
	}
	if in.Name != "hello-c" || !strings.HasPrefix(in.Digest, "sha256:") || len(in.Exports) != 1 || in.Effective == nil {
		t.Fatalf("inspect: %+v", in)
	}
	if code, out, _ := reef(t, "", "version"); code != 0 || !strings.HasPrefix(out, "reef ") {
		t.Fatalf("version: %d %q", code, out)
	}
}
