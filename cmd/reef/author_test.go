package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// authorEnv isolates reef's config and data directories in a temporary
// home for in-process runs of Main.
func authorEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Setenv("REEF_GRANTS", "")
	t.Setenv("REEF_CONFIG", "")
	t.Setenv("SKILL_DIR", "")
	return home
}

// authorRun runs the CLI in-process and returns its exit code and output.
func authorRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestAuthorNewBuildRunTest(t *testing.T) {
	authorEnv(t)
	dir := filepath.Join(t.TempDir(), "greeter")
	code, out, errOut := authorRun(t, "new", "--lang", "c", "greeter", dir)
	if code != 0 || !strings.Contains(out, "SKILL.md") || !strings.Contains(out, "reef build") {
		t.Fatalf("new: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = authorRun(t, "build", dir)
	if code != 0 || !strings.Contains(out, "built ") || !strings.Contains(out, "sha256:") || !strings.Contains(out, "KiB") {
		t.Fatalf("build: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "reef build: $ clang") {
		t.Fatalf("build progress must show the compiler command:\n%s", errOut)
	}
	code, out, errOut = authorRun(t, "run", dir, "greet", `{"name":"Ada"}`)
	if code != 0 || out != `{"greeting":"Hello, Ada!"}` {
		t.Fatalf("run: %d %q %s", code, out, errOut)
	}
	code, out, errOut = authorRun(t, "test", dir)
	if code != 0 || !strings.Contains(out, "PASS greet") || !strings.Contains(out, "3 cases passed") {
		t.Fatalf("test: %d\n%s%s", code, out, errOut)
	}
	// --quiet prints only the result line; -o json a document
	code, out, errOut = authorRun(t, "build", "--quiet", dir)
	if code != 0 || errOut != "" || strings.Count(out, "\n") != 1 {
		t.Fatalf("build --quiet: %d %q %q", code, out, errOut)
	}
	code, out, _ = authorRun(t, "-o", "json", "build", "-q", dir)
	if code != 0 || !strings.Contains(out, `"digest": "sha256:`) {
		t.Fatalf("build -o json: %d %s", code, out)
	}
}

func TestAuthorNewRefusesExisting(t *testing.T) {
	authorEnv(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "mine")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// DIR that is the parent: the skill goes to DIR/NAME
	code, _, errOut := authorRun(t, "new", "--lang", "go", "mine", parent)
	if code != exitUsage || !strings.Contains(errOut, "--force") {
		t.Fatalf("want refusal naming --force, got %d %s", code, errOut)
	}
	if code, _, errOut = authorRun(t, "new", "--lang", "go", "--force", "mine", parent); code != 0 {
		t.Fatalf("--force: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"new", "mine2"},                          // no --lang
		{"new", "--lang", "cobol", "mine3"},       // unknown language
		{"new", "--lang", "c", "Not_A_Name", "x"}, // invalid name
	} {
		if code, _, errOut := authorRun(t, args...); code != exitUsage || errOut == "" {
			t.Errorf("%v: %d %s", args, code, errOut)
		}
	}
}

func TestAuthorBuildBadInput(t *testing.T) {
	authorEnv(t)
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.MkdirAll(empty, 0o755)
	if code, _, errOut := authorRun(t, "build", empty); code != exitUsage || !strings.Contains(errOut, "no skill source") {
		t.Fatalf("no source: %d %s", code, errOut)
	}
	py := filepath.Join(t.TempDir(), "py")
	_ = os.MkdirAll(py, 0o755)
	_ = os.WriteFile(filepath.Join(py, "main.py"), []byte("print(1)"), 0o644)
	if code, _, errOut := authorRun(t, "build", py); code != exitUsage || !strings.Contains(errOut, "unknown language") {
		t.Fatalf("unknown language: %d %s", code, errOut)
	}
	dir := filepath.Join(t.TempDir(), "broken")
	if code, _, errOut := authorRun(t, "new", "--lang", "c", "broken", dir); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := authorRun(t, "build", "-q", dir); code != 0 {
		t.Fatal(errOut)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.c"), []byte("int f( {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := authorRun(t, "build", "-q", dir)
	if code != exitSkill || !strings.Contains(errOut, "error:") || !strings.Contains(errOut, "broken.c") || !strings.Contains(errOut, "stale") {
		t.Fatalf("compile error: %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "broken.wasm")); !os.IsNotExist(err) {
		t.Fatalf("stale module left after a failed build: %v", err)
	}
}

// kvSource counts calls in kv; without a kv grant the PDK reports
// "capability not granted".
const kvSource = `#include <stdio.h>
#include "reef.h"
REEF_EXPORT("bump") int32_t bump(void) {
  reef_err e;
  char *v = NULL; size_t n = 0;
  long count = 0;
  int rc = reef_kv_get("count", &v, &n, &e);
  if (rc == REEF_OK) { count = strtol(v, NULL, 10); free(v); }
  else if (rc != REEF_ENOTFOUND) { reef_error(e.message); reef_err_free(&e); return 1; }
  else reef_err_free(&e);
  char buf[32];
  int l = snprintf(buf, sizeof buf, "%ld", count + 1);
  if (reef_kv_set("count", buf, (size_t)l, &e)) { reef_error(e.message); reef_err_free(&e); return 1; }
  reef_output(buf, (size_t)l);
  return 0;
}
`

func TestAuthorTestCommandGrantsAndFailures(t *testing.T) {
	authorEnv(t)
	dir := filepath.Join(t.TempDir(), "counter")
	files := map[string]string{
		"SKILL.md":           "---\nname: counter\ndescription: Counts calls in kv.\n---\n# counter\n",
		"reef.yaml":          "wasm: counter.wasm\nfunctions:\n  - name: bump\ncapabilities:\n  kv: { quota: 1KiB }\n",
		"counter.c":          kvSource,
		"tests/granted.json": `{"function":"bump","grants":{"kv":{"quota":"1KiB"}},"output":1}`,
		"tests/denied.json":  `{"function":"bump","error":"capability not granted"}`,
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := authorRun(t, "test", dir) // builds first: no module yet
	if code != 0 || !strings.Contains(out, "PASS denied") || !strings.Contains(out, "PASS granted") {
		t.Fatalf("test: %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "counter.wasm")); err != nil {
		t.Fatalf("reef test did not build the missing module: %v", err)
	}
	// a wrong expectation fails with a diff and exit 1
	_ = os.WriteFile(filepath.Join(dir, "tests", "wrong.json"), []byte(`{"function":"bump","input":"","grants":{"kv":{"quota":"1KiB"}},"output":{"count":2}}`), 0o644)
	code, out, _ = authorRun(t, "test", dir)
	if code != exitSkill || !strings.Contains(out, "FAIL wrong") || !strings.Contains(out, "--- want") || !strings.Contains(out, "1 of 3 cases failed") {
		t.Fatalf("failing case: %d\n%s", code, out)
	}
	// a malformed case is a usage error naming the file
	_ = os.WriteFile(filepath.Join(dir, "tests", "wrong.json"), []byte(`{"function":"bump","outptu":1}`), 0o644)
	code, _, errOut = authorRun(t, "test", dir)
	if code != exitUsage || !strings.Contains(errOut, "wrong.json") {
		t.Fatalf("malformed case: %d %s", code, errOut)
	}
}
