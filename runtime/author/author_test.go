package author

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

// TestScaffoldBuildTest is the authoring loop for every language, for a
// skill outside the repository (embedded PDK) and one inside it: reef new,
// reef build, then the generated golden tests pass.
func TestScaffoldBuildTest(t *testing.T) {
	tc := testToolchains(t)
	eng := newEngine(t)
	for _, lang := range Langs {
		for _, where := range []string{"outside", "inside"} {
			if (lang == AS || lang == Go) && where == "inside" {
				continue // pdk/guests_test.go builds Go and AssemblyScript guests from the repository
			}
			t.Run(string(lang)+"/"+where, func(t *testing.T) {
				t.Parallel()
				name := "hello-" + string(lang)
				dir := filepath.Join(t.TempDir(), name)
				if where == "inside" {
					dir = inRepoDir(t, name)
				}
				files, err := Scaffold(dir, name, lang, ScaffoldOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got := FindRepo(dir) != ""; got != (where == "inside") {
					t.Fatalf("FindRepo inside=%v", got)
				}
				if where == "outside" && (lang == Go || lang == Rust) {
					vendored := map[Lang]string{Go: "reef-pdk/go.mod", Rust: "reef.rs"}[lang]
					if !contains(files, vendored) {
						t.Fatalf("outside the repo the PDK must be vendored (%s); files: %v", vendored, files)
					}
				}
				if got, err := Detect(dir); err != nil || got != lang {
					t.Fatalf("Detect = %v, %v", got, err)
				}
				var progress bytes.Buffer
				res, err := Build(context.Background(), dir, BuildOptions{Progress: &progress, Toolchains: tc})
				if err != nil {
					t.Fatalf("build: %v\nprogress:\n%s", err, progress.String())
				}
				if !strings.Contains(progress.String(), "$ ") {
					t.Errorf("progress shows no compiler command:\n%s", progress.String())
				}
				if res.Wasm != filepath.Join(dir, name+".wasm") || res.Size == 0 || !strings.HasPrefix(res.Digest, "sha256:") {
					t.Fatalf("result %+v", res)
				}
				s, err := skill.Load(dir)
				if err != nil {
					t.Fatalf("the scaffolded skill does not load: %v", err)
				}
				if s.Digest != res.Digest {
					t.Fatalf("digest %s, built %s", s.Digest, res.Digest)
				}
				cases, err := LoadCases(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range RunCases(context.Background(), eng, s, cases, nil) {
					if !r.Pass {
						t.Errorf("case %s: %s (err %v, output %s)", r.Case.Name, r.Diff, r.Err, r.Output)
					}
				}
				left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
				if len(left) > 0 {
					t.Fatalf("temporary files left: %v", left)
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestScaffoldRefusesExisting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "taken")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Scaffold(dir, "taken", C, ScaffoldOptions{})
	var ee *ExistsError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("want ExistsError naming the file and --force, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "SKILL.md")); err == nil {
		t.Fatal("a refused scaffold wrote files")
	}
	if _, err := Scaffold(dir, "taken", C, ScaffoldOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
		t.Fatal("--force touched a file the scaffold does not own")
	}
	// an empty existing folder is fine
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Scaffold(empty, "empty", Rust, ScaffoldOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestScaffoldBadNames(t *testing.T) {
	for _, tc := range []struct{ dir, name, want string }{
		{"Bad_Name", "Bad_Name", "skill name"},
		{"-x", "-x", "skill name"},
		{"other", "hello", "must equal the skill name"},
	} {
		_, err := Scaffold(filepath.Join(t.TempDir(), tc.dir), tc.name, Go, ScaffoldOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Scaffold(%s, %s) = %v, want %q", tc.dir, tc.name, err, tc.want)
		}
	}
	if _, err := ParseLang("cobol"); err == nil || !strings.Contains(err.Error(), "go, c, rust or as") {
		t.Fatalf("ParseLang: %v", err)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const manifest = "wasm: bad.wasm\nfunctions:\n  - name: f\n"

func TestBuildBadInput(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		check func(t *testing.T, err error)
	}{
		{"no source", map[string]string{"reef.yaml": manifest, "README.md": "# hi"}, func(t *testing.T, err error) {
			if !errors.Is(err, ErrNoSource) || !strings.Contains(err.Error(), "no skill source") {
				t.Fatalf("want ErrNoSource, got %v", err)
			}
		}},
		{"go.mod only", map[string]string{"reef.yaml": manifest, "go.mod": "module x\n"}, func(t *testing.T, err error) {
			if !errors.Is(err, ErrNoSource) || !strings.Contains(err.Error(), "no .go file") {
				t.Fatalf("got %v", err)
			}
		}},
		{"unknown language", map[string]string{"reef.yaml": manifest, "main.py": "print('hi')"}, func(t *testing.T, err error) {
			var ue *UnknownLanguageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "main.py (Python)") {
				t.Fatalf("want UnknownLanguageError naming main.py, got %v", err)
			}
		}},
		{"mixed languages", map[string]string{"reef.yaml": manifest, "a.c": "", "lib.rs": ""}, func(t *testing.T, err error) {
			var ue *UnknownLanguageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "several languages") {
				t.Fatalf("got %v", err)
			}
		}},
		{"rust without crate root", map[string]string{"reef.yaml": manifest, "util.rs": ""}, func(t *testing.T, err error) {
			if !errors.Is(err, ErrNoSource) || !strings.Contains(err.Error(), "lib.rs") {
				t.Fatalf("got %v", err)
			}
		}},
		{"wasm outside the folder", map[string]string{"reef.yaml": "wasm: ../x.wasm\nfunctions:\n  - name: f\n", "a.c": ""}, func(t *testing.T, err error) {
			if err == nil || !strings.Contains(err.Error(), "must stay inside the bundle") {
				t.Fatalf("got %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bad")
			writeFiles(t, dir, tc.files)
			_, err := Build(context.Background(), dir, BuildOptions{})
			tc.check(t, err)
		})
	}
}

// TestBuildCompileErrorRemovesStale: a source that does not compile shows
// the compiler's message and leaves no .wasm (not even the previous one).
func TestBuildCompileErrorRemovesStale(t *testing.T) {
	tc := testToolchains(t)
	for _, lang := range []Lang{C, Rust, Go, AS} {
		t.Run(string(lang), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "broken")
			if _, err := Scaffold(dir, "broken", lang, ScaffoldOptions{}); err != nil {
				t.Fatal(err)
			}
			// the module of an earlier successful build
			wasm := filepath.Join(dir, "broken.wasm")
			if err := os.WriteFile(wasm, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
				t.Fatal(err)
			}
			src := map[Lang]string{C: "broken.c", Rust: "lib.rs", Go: "main.go", AS: "assembly/index.ts"}[lang]
			p := filepath.Join(dir, filepath.FromSlash(src))
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, append(b, []byte("\nthis is not code (\n")...), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Build(context.Background(), dir, BuildOptions{Toolchains: tc})
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("want CompileError, got %v", err)
			}
			if ce.Output == "" || !strings.Contains(err.Error(), "$ ") {
				t.Fatalf("the compiler's output and command must be shown: %v", err)
			}
			if ce.Removed != "broken.wasm" || !strings.Contains(err.Error(), "stale") {
				t.Fatalf("the error must say the old module was removed: %v", err)
			}
			if _, err := os.Stat(wasm); !os.IsNotExist(err) {
				t.Fatalf("stale module left: %v", err)
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
			if len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}

func TestBuildMissingToolchain(t *testing.T) {
	for _, tc := range []struct {
		lang Lang
		tc   Toolchains
		want string
	}{
		{C, Toolchains{Clang: "/nonexistent/clang-19"}, "clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32"},
		{Rust, Toolchains{Rustc: "/nonexistent/rustc"}, "rustc libstd-rust-dev-wasm32"},
		{Go, Toolchains{Go: "/nonexistent/go"}, "install Go"},
		{AS, Toolchains{ASC: "/nonexistent/asc"}, "REEF_ASC"},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tool")
			if _, err := Scaffold(dir, "tool", tc.lang, ScaffoldOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err := Build(context.Background(), dir, BuildOptions{Toolchains: tc.tc})
			var te *ToolchainError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want ToolchainError mentioning %q, got %v", tc.want, err)
			}
		})
	}
	// AssemblyScript outside the repository with no asc anywhere: the
	// message names the npm command.
	t.Setenv("PATH", filepath.Dir(mustLook(t, "node")))
	dir := filepath.Join(t.TempDir(), "noasc")
	if _, err := Scaffold(dir, "noasc", AS, ScaffoldOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), dir, BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "npm install --save-dev assemblyscript@0.28") {
		t.Fatalf("got %v", err)
	}
}

// TestLoadCasesGrants: fs host paths in a case's grants are relative to
// the skill folder, even when the folder itself is given relatively.
func TestLoadCasesGrants(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "sk"), map[string]string{
		"tests/a.json": `{"function":"f","input":{},"output":1,"grants":{"fs":{"/data":"tests/data:ro"},"kv":{"quota":"1KiB"}}}`,
		"tests/b.json": `{"function":"f","input":"text","error":"x","config":{"k":"v"}}`,
	})
	t.Chdir(root)
	cases, err := LoadCases("sk")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "sk", "tests", "data") + ":ro"; cases[0].Grants.FS["/data"] != want {
		t.Fatalf("fs grant %q, want %q", cases[0].Grants.FS["/data"], want)
	}
	if cases[0].Grants.KV == nil || cases[1].Config["k"] != "v" || cases[1].Name != "b" {
		t.Fatalf("%+v", cases)
	}
	for body, want := range map[string]string{
		`{"input":{},"output":1}`:                               `"function" is required`,
		`{"function":"f"}`:                                      "want one of",
		`{"function":"f","output":1,"error":"x"}`:               "exclusive",
		`{"function":"f","output":1,"outptu":2}`:                "unknown field",
		`{"function":"f","output":1,"grants":{"fs":{"/d":""}}}`: "absolute path",
	} {
		writeFiles(t, filepath.Join(root, "bad"), map[string]string{"tests/c.json": body})
		if _, err := LoadCases(filepath.Join(root, "bad")); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "c.json") {
			t.Errorf("%s: got %v, want %q", body, err, want)
		}
	}
}
