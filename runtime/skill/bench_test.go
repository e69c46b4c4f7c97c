package skill_test

import (
	"os"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

func BenchmarkParseManifest(b *testing.B) {
	data, err := os.ReadFile("testdata/good/web-text/reef.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := skill.ParseManifest("reef.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFrontmatter(b *testing.B) {
	data, err := os.ReadFile("testdata/good/web-text/SKILL.md")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := skill.ParseFrontmatter("web-text/SKILL.md", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefuse measures how fast hostile files are turned away.
func BenchmarkRefuse(b *testing.B) {
	bomb := "wasm: m.wasm\nfunctions: [{name: f}]\na: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
	prev := "a"
	for _, c := range "bcdefghi" {
		bomb += string(c) + ": &" + string(c) + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n"
		prev = string(c)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"alias-bomb", []byte(bomb)},
		{"oversized-1MiB", []byte(strings.Repeat("# padding\n", 1<<20/10))},
		{"non-utf8-256KiB", []byte(strings.Repeat("a", skill.MaxManifestSize-1) + "\xff")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := skill.ParseManifest("reef.yaml", c.data); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

func BenchmarkValidateInput(b *testing.B) {
	s := loadWebText(b)
	in := []byte(`{"url":"https://example.org/a/page","max_chars":4096}`)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ValidateInput("extract", in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := skill.Load("testdata/good/web-text"); err != nil {
			b.Fatal(err)
		}
	}
}
