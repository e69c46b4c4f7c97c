package skill_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

func addFiles(f *testing.F, name string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "good", "*", name))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkProblems asserts every error is made of *ValidationErrors that name
// the file.
func checkProblems(t *testing.T, err error, file string) {
	var ve *skill.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %q is not a *skill.ValidationError", err, err)
	}
	if ve.File != file || ve.Rule == "" {
		t.Fatalf("ValidationError %+v: want File %q and a rule", ve, file)
	}
}

func FuzzParseManifest(f *testing.F) {
	addFiles(f, "reef.yaml")
	for _, s := range []string{
		"", "wasm: m.wasm\nfunctions: [{name: f}]\n",
		"wasm: &a x\nfunctions: [*a]\n",
		"wasm: m.wasm\nfunctions: [{name: f, input: {type: object, properties: {a: {$ref: '#/$defs/x'}}, $defs: {x: {type: string}}}}]\n",
		"wasm: m.wasm\nfunctions: [{name: f}]\nlimits: {memory: 1GiB, timeout: 1m, output: 1MiB}\n",
		"wasm: m.wasm\nfunctions: [{name: f}]\ncapabilities: {fs: {/a: ro}, http: {hosts: ['*.a.org'], methods: [GET]}, mail: {send: {to: ['*@a.org']}}, kv: {quota: 1}, secrets: [A]}\n",
		"a: !!binary aGk=\n", "- [[[[\n", "wasm: \xff\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := skill.ParseManifest("reef.yaml", data)
		if err != nil {
			checkProblems(t, err, "reef.yaml")
			return
		}
		if len(m.Functions) == 0 || m.Wasm == "" || strings.Contains(m.Wasm, "..") || strings.HasPrefix(m.Wasm, "/") {
			t.Fatalf("accepted an invalid manifest: %+v", m)
		}
		if m.Isolation != skill.IsolationPooled && m.Isolation != skill.IsolationCall {
			t.Fatalf("isolation %q", m.Isolation)
		}
		for _, fn := range m.Functions {
			if fn.Name == "" {
				t.Fatalf("function without a name: %+v", m)
			}
		}
		if l := m.Limits; l.Memory != 0 && (l.Memory < skill.MinMemory || l.Memory > skill.MaxMemory) {
			t.Fatalf("memory %d out of range", l.Memory)
		}
	})
}

func FuzzParseFrontmatter(f *testing.F) {
	addFiles(f, "SKILL.md")
	for _, s := range []string{
		"", "---\n---\n", "---\nname: x\ndescription: d\n---\nbody",
		"---\r\nname: x\r\ndescription: d\r\n---\r\n",
		"---\nname: &a x\ndescription: *a\n---\n",
		"---\nname: x\ndescription: d\nmetadata: {a: b}\nallowed-tools: [a, b]\n---\n",
		"\xef\xbb\xbf---\n", "---\nname: \xff\n---\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fm, body, err := skill.ParseFrontmatter("x/SKILL.md", data)
		if err != nil {
			checkProblems(t, err, "x/SKILL.md")
			return
		}
		if fm.Name != "x" || !skill.ValidName(fm.Name) {
			t.Fatalf("accepted name %q in folder x", fm.Name)
		}
		if strings.TrimSpace(fm.Description) == "" {
			t.Fatalf("accepted an empty description")
		}
		if !strings.HasSuffix(string(data), body) {
			t.Fatalf("body %q is not the end of the file", body)
		}
	})
}
