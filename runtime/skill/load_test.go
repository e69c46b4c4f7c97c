package skill_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// wasmHeader stands in for a module: Load reads and hashes the module but
// never compiles it.
var wasmHeader = []byte("\x00asm\x01\x00\x00\x00")

// goldenView is what a golden file records of a loaded Skill: everything
// but the module bytes and machine-specific paths.
type goldenView struct {
	Name     string            `json:"name"`
	Bare     bool              `json:"bare"`
	Version  string            `json:"version"`
	Meta     skill.Frontmatter `json:"meta"`
	Docs     string            `json:"docs"`
	Manifest skill.Manifest    `json:"manifest"`
	WasmPath string            `json:"wasm_path"`
	WasmSize int               `json:"wasm_size"`
	Digest   string            `json:"digest"`
}

func TestLoadGolden(t *testing.T) {
	for _, name := range []string{"web-text", "minimal", "hello-bare.wasm"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "good", name)
			s, err := skill.Load(path)
			if err != nil {
				t.Fatalf("Load(%s): %v", path, err)
			}
			base, _ := filepath.Abs(filepath.Join("testdata", "good"))
			rel, err := filepath.Rel(base, s.WasmPath)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("WasmPath %s is not inside %s", s.WasmPath, base)
			}
			if !filepath.IsAbs(s.WasmPath) {
				t.Errorf("WasmPath %q is not absolute", s.WasmPath)
			}
			sum := sha256.Sum256(s.Wasm)
			if s.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
				t.Errorf("Digest %s does not match the module bytes", s.Digest)
			}
			light, err := skill.LoadWith(path, skill.LoadOptions{NoWasm: true})
			if err != nil || light.Wasm != nil || light.Digest != s.Digest || light.WasmPath != s.WasmPath || light.Name != s.Name {
				t.Errorf("LoadWith(NoWasm) = %+v, %v; want Load's skill without its bytes", light, err)
			}
			got, err := json.MarshalIndent(goldenView{
				Name: s.Name, Bare: s.Bare, Version: s.Version(), Meta: s.Meta, Docs: s.Docs,
				Manifest: s.Manifest, WasmPath: filepath.ToSlash(rel), WasmSize: len(s.Wasm), Digest: s.Digest,
			}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".wasm")+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Load(%s) differs from %s:\n%s", path, golden, got)
			}
		})
	}
}

func TestLoadBare(t *testing.T) {
	s, err := skill.Load(filepath.Join("testdata", "good", "hello-bare.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Bare || s.Name != "hello-bare" || s.Dir != "" || len(s.Manifest.Functions) != 0 || s.Manifest.Isolation != skill.IsolationPooled {
		t.Errorf("bare skill = %+v", s)
	}
	if s.Manifest.Capabilities.HTTP != nil || s.Manifest.Capabilities.FS != nil {
		t.Errorf("a bare skill requests nothing, got %+v", s.Manifest.Capabilities)
	}
	if err := s.ValidateInput("anything", []byte("not json")); err != nil {
		t.Errorf("bare skill: every export is callable with any input, got %v", err)
	}
}

// bundle writes a skill folder under a temporary directory.
func bundle(t *testing.T, folder string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), folder)
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func skillMD(name string) string {
	return "---\nname: " + name + "\ndescription: A test skill.\n---\n# Test\n"
}

const goodManifest = "wasm: m.wasm\nfunctions:\n  - name: run\n"

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name   string
		folder string
		files  map[string]string
		setup  func(t *testing.T, dir string)
		want   []string
	}{
		{
			name: "name differs from folder", folder: "web-text",
			files: map[string]string{"SKILL.md": skillMD("web-txt"), "reef.yaml": goodManifest, "m.wasm": string(wasmHeader)},
			want:  []string{filepath.Join("web-text", "SKILL.md") + ":2: name:", `must equal the folder name "web-text"`, "Agent Skills name rule"},
		},
		{
			name: "folder name not a skill name", folder: "Web_Text",
			files: map[string]string{"SKILL.md": skillMD("web-text"), "reef.yaml": goodManifest, "m.wasm": string(wasmHeader)},
			want:  []string{`must equal the folder name "Web_Text"`},
		},
		{
			name: "SKILL.md missing", folder: "x",
			files: map[string]string{"reef.yaml": goodManifest, "m.wasm": string(wasmHeader)},
			want:  []string{"SKILL.md: file not found in the bundle", "needs SKILL.md"},
		},
		{
			name: "reef.yaml missing", folder: "x",
			files: map[string]string{"SKILL.md": skillMD("x"), "m.wasm": string(wasmHeader)},
			want:  []string{"reef.yaml: file not found in the bundle"},
		},
		{
			name: "problems in both files are all reported", folder: "x",
			files: map[string]string{"SKILL.md": skillMD("y"), "reef.yaml": goodManifest + "bogus: 1\n"},
			want:  []string{"SKILL.md:2: name:", "reef.yaml:4: bogus: unknown key"},
		},
		{
			name: "wasm missing", folder: "x",
			files: map[string]string{"SKILL.md": skillMD("x"), "reef.yaml": goodManifest},
			want:  []string{"reef.yaml:1: wasm: \"m.wasm\": file not found in the bundle", "reef build"},
		},
		{
			name: "wasm path escapes", folder: "x",
			files: map[string]string{"SKILL.md": skillMD("x"), "reef.yaml": "wasm: ../m.wasm\nfunctions: [{name: run}]\n", "../m.wasm": string(wasmHeader)},
			want:  []string{"reef.yaml:1: wasm:", `".." is not allowed`},
		},
		{
			name: "wasm symlink escapes", folder: "x",
			files: map[string]string{"SKILL.md": skillMD("x"), "reef.yaml": goodManifest, "../outside.wasm": string(wasmHeader)},
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink(filepath.Join(dir, "..", "outside.wasm"), filepath.Join(dir, "m.wasm")); err != nil {
					t.Skipf("symlinks unavailable: %v", err)
				}
			},
			want: []string{"reef.yaml:1: wasm:", "leads outside the bundle folder"},
		},
		{
			name: "SKILL.md symlink escapes", folder: "x",
			files: map[string]string{"reef.yaml": goodManifest, "m.wasm": string(wasmHeader), "../SKILL.md": skillMD("x")},
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink("../SKILL.md", filepath.Join(dir, "SKILL.md")); err != nil {
					t.Skipf("symlinks unavailable: %v", err)
				}
			},
			want: []string{"SKILL.md:", "leads outside the bundle folder"},
		},
		{
			name: "wasm is a folder", folder: "x",
			files: map[string]string{"SKILL.md": skillMD("x"), "reef.yaml": goodManifest, "m.wasm/keep": ""},
			want:  []string{"reef.yaml:1: wasm:", "not a regular file"},
		},
		{
			name: "SKILL.md too large", folder: "x",
			files: map[string]string{"SKILL.md": skillMD("x") + strings.Repeat("body\n", skill.MaxSkillMDSize/5+1), "reef.yaml": goodManifest, "m.wasm": string(wasmHeader)},
			want:  []string{"SKILL.md:", "the limit is 1MiB"},
		},
		{
			name: "reef.yaml too large", folder: "x",
			files: map[string]string{"SKILL.md": skillMD("x"), "reef.yaml": goodManifest + strings.Repeat("#\n", skill.MaxManifestSize/2+1), "m.wasm": string(wasmHeader)},
			want:  []string{"reef.yaml:", "the limit is 256KiB"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundle(t, tt.folder, tt.files)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			s, err := skill.Load(dir)
			if s != nil {
				t.Errorf("Load returned a skill with an error")
			}
			wantProblem(t, err, tt.want...)
			// The streaming loader (no module bytes kept) refuses the same
			// bundles with the same errors.
			s2, err2 := skill.LoadWith(dir, skill.LoadOptions{NoWasm: true})
			if s2 != nil || err2 == nil || err2.Error() != err.Error() {
				t.Errorf("LoadWith(NoWasm) = %v, %v; Load said %v", s2, err2, err)
			}
		})
	}
}

func TestLoadSymlinkInsideBundle(t *testing.T) {
	dir := bundle(t, "x", map[string]string{"SKILL.md": skillMD("x"), "reef.yaml": goodManifest, "build/out.wasm": string(wasmHeader)})
	if err := os.Symlink("build/out.wasm", filepath.Join(dir, "m.wasm")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	s, err := skill.Load(dir)
	if err != nil {
		t.Fatalf("a symlink that stays inside the bundle is fine: %v", err)
	}
	if !bytes.Equal(s.Wasm, wasmHeader) {
		t.Errorf("Wasm = %x", s.Wasm)
	}
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, wasmHeader, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path string
		want       []string
		validation bool
	}{
		{"missing path", filepath.Join(dir, "nope"), []string{"no such file"}, false},
		{"not wasm", write("notes.txt"), []string{"not a skill folder or a .wasm file"}, false},
		{"bare upper case", write("Count_Vowels.wasm"), []string{`skill name "Count_Vowels"`, "Agent Skills name rule", "rename the file to count-vowels.wasm"}, true},
		{"bare hidden", write(".x.wasm"), []string{`skill name ".x"`}, true},
		{"bare empty name", write(".wasm"), []string{`skill name ""`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := skill.Load(tt.path)
			if err == nil {
				t.Fatal("no error")
			}
			var ve *skill.ValidationError
			if errors.As(err, &ve) != tt.validation {
				t.Errorf("errors.As(ValidationError) = %v, want %v (%v)", !tt.validation, tt.validation, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestFind(t *testing.T) {
	skills := t.TempDir()
	mk := func(rel string, dir bool) string {
		p := filepath.Join(skills, rel)
		if dir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}
		if err := os.WriteFile(p, wasmHeader, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	webText := mk("web-text", true)
	hello := mk("hello.wasm", false)
	both := mk("both", true)
	mk("both.wasm", false)
	notes := mk("notes.txt", false)
	outside := filepath.Join(filepath.Dir(skills), "x.wasm")

	tests := []struct {
		name, skillDir, arg, want string
		wantErr                   []string
		notFound                  bool
	}{
		{name: "name is a folder", skillDir: skills, arg: "web-text", want: webText},
		{name: "name is a wasm file", skillDir: skills, arg: "hello", want: hello},
		{name: "folder wins over wasm", skillDir: skills, arg: "both", want: both},
		{name: "existing folder path", skillDir: "", arg: webText, want: webText},
		{name: "existing wasm path", skillDir: "", arg: hello, want: hello},
		{name: "existing relative folder", skillDir: skills, arg: filepath.Join("testdata", "good", "minimal"), want: filepath.Join("testdata", "good", "minimal")},
		{name: "unknown name", skillDir: skills, arg: "nope", wantErr: []string{`skill "nope"`, "neither"}, notFound: true},
		{name: "no skill dir", skillDir: "", arg: "web-text", wantErr: []string{"no skill directory is set"}, notFound: true},
		{name: "empty", skillDir: skills, arg: "", wantErr: []string{"no skill given"}},
		{name: "parent escape", skillDir: skills, arg: "../x", wantErr: []string{"../x: no such skill folder or .wasm file", "cannot be a skill name"}, notFound: true},
		{name: "parent escape to existing wasm name", skillDir: skills, arg: "../x", wantErr: []string{"cannot be a skill name"}, notFound: true},
		{name: "nested name", skillDir: skills, arg: "a/b", wantErr: []string{"cannot be a skill name"}, notFound: true},
		{name: "absolute missing", skillDir: skills, arg: filepath.Join(skills, "missing"), wantErr: []string{"no such skill folder"}, notFound: true},
		{name: "dot dot", skillDir: skills, arg: "..", wantErr: []string{}},
		{name: "hidden", skillDir: skills, arg: ".git", wantErr: []string{`".git" is not a skill name`, "dot"}},
		{name: "bad name", skillDir: skills, arg: "Web_Text", wantErr: []string{`"Web_Text" is not a skill name`, "Agent Skills name rule"}},
		{name: "missing wasm path", skillDir: skills, arg: "gone.wasm", wantErr: []string{"gone.wasm: no such skill folder or .wasm file"}, notFound: true},
		{name: "existing non-wasm path", skillDir: skills, arg: notes, wantErr: []string{"not a skill folder or a .wasm file"}},
		{name: "wasm outside via name", skillDir: skills, arg: "../" + filepath.Base(outside), wantErr: []string{"cannot be a skill name"}, notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := skill.Find(tt.skillDir, tt.arg)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Find(%q, %q) = %q, %v; want %q", tt.skillDir, tt.arg, got, err, tt.want)
				}
				return
			}
			if tt.name == "dot dot" {
				// ".." exists (the parent folder): used as a path, and
				// Load then decides whether it is a skill.
				if err != nil || got != ".." {
					t.Fatalf("Find(..) = %q, %v", got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Find(%q, %q) = %q, want an error", tt.skillDir, tt.arg, got)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if errors.Is(err, skill.ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(ErrNotFound) = %v, want %v (%v)", !tt.notFound, tt.notFound, err)
			}
		})
	}
}

func ExampleLoad() {
	s, err := skill.Load("testdata/good/web-text")
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Name, s.Version(), s.Manifest.Isolation)
	for _, f := range s.Manifest.Functions {
		fmt.Printf("%s %q\n", f.Name, f.Description)
	}
	fmt.Println(s.Manifest.Capabilities.Browser.Hosts)
	fmt.Println(s.ValidateInput("extract", []byte(`{"url":"https://example.org"}`)))
	fmt.Println(s.ValidateInput("extract", []byte(`{"url":42}`)))
	// Output:
	// web-text 1.2.0 call
	// extract "Visible text of one page."
	// links "Links of one page."
	// version ""
	// [*.example.org example.org]
	// <nil>
	// skill "web-text": function "extract": invalid input at /url: got number, want string
}
