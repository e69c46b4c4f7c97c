package author

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Lang is a guest language.
type Lang string

// The languages reef builds.
const (
	Go   Lang = "go"
	C    Lang = "c"
	Rust Lang = "rust"
	AS   Lang = "as"
)

// Langs lists the languages in the order they are documented.
var Langs = []Lang{Go, C, Rust, AS}

// ParseLang accepts go, c, rust (rs) and as (assemblyscript).
func ParseLang(s string) (Lang, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "go", "golang":
		return Go, nil
	case "c":
		return C, nil
	case "rust", "rs":
		return Rust, nil
	case "as", "assemblyscript", "ts":
		return AS, nil
	}
	return "", fmt.Errorf("unknown language %q: want go, c, rust or as", s)
}

// source is what Detect found.
type source struct {
	lang  Lang
	entry string // main file, relative to the skill dir (Rust, AS)
	files []string
}

// sourceExts are extensions reef recognises as some language's source,
// to tell "no source" from "a language reef does not build".
var foreignExts = map[string]string{
	".py": "Python", ".js": "JavaScript", ".mjs": "JavaScript", ".rb": "Ruby", ".java": "Java",
	".kt": "Kotlin", ".cs": "C#", ".zig": "Zig", ".swift": "Swift", ".cpp": "C++", ".cc": "C++",
	".php": "PHP", ".lua": "Lua", ".sh": "shell", ".wat": "WebAssembly text", ".hs": "Haskell",
}

// Detect returns the language of the skill source in dir: go.mod or *.go
// is Go, *.c is C, *.rs is Rust, assembly/*.ts or *.ts is AssemblyScript.
// A folder with none of them is *NoSourceError; one with sources of two
// languages, or only of a language reef does not build, is
// *UnknownLanguageError.
func Detect(dir string) (Lang, error) {
	s, err := detect(dir)
	if err != nil {
		return "", err
	}
	return s.lang, nil
}

func detect(dir string) (*source, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("detect language: %w", err)
	}
	found := map[Lang][]string{}
	var foreign []string
	hasGoMod := false
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() {
			continue
		}
		switch ext := filepath.Ext(n); {
		case n == "go.mod":
			hasGoMod = true
		case ext == ".go" && !strings.HasSuffix(n, "_test.go"):
			found[Go] = append(found[Go], n)
		case ext == ".c":
			found[C] = append(found[C], n)
		case ext == ".rs":
			found[Rust] = append(found[Rust], n)
		case ext == ".ts" && !strings.HasSuffix(n, ".d.ts"):
			found[AS] = append(found[AS], n)
		default:
			if l, ok := foreignExts[ext]; ok {
				foreign = append(foreign, n+" ("+l+")")
			}
		}
	}
	// Rust: src/lib.rs; AssemblyScript: assembly/*.ts.
	for _, sub := range []struct {
		dir  string
		ext  string
		lang Lang
	}{{"src", ".rs", Rust}, {"assembly", ".ts", AS}} {
		es, err := os.ReadDir(filepath.Join(dir, sub.dir))
		if err != nil {
			continue
		}
		for _, e := range es {
			if !e.IsDir() && filepath.Ext(e.Name()) == sub.ext {
				found[sub.lang] = append(found[sub.lang], sub.dir+"/"+e.Name())
			}
		}
	}
	if hasGoMod && len(found[Go]) == 0 {
		return nil, &NoSourceError{Dir: dir, Detail: "go.mod but no .go file"}
	}
	var langs []string
	for l := range found {
		langs = append(langs, string(l))
	}
	sort.Strings(langs)
	switch len(langs) {
	case 0:
		if len(foreign) > 0 {
			return nil, &UnknownLanguageError{Dir: dir, Found: foreign}
		}
		return nil, &NoSourceError{Dir: dir}
	case 1:
	default:
		var all []string
		for _, l := range langs {
			all = append(all, found[Lang(l)]...)
		}
		return nil, &UnknownLanguageError{Dir: dir, Found: all, Mixed: langs}
	}
	s := &source{lang: Lang(langs[0]), files: found[Lang(langs[0])]}
	switch s.lang {
	case Rust:
		s.entry = pick(s.files, "lib.rs", "src/lib.rs")
		if s.entry == "" {
			return nil, &NoSourceError{Dir: dir, Detail: "Rust sources but no lib.rs or src/lib.rs (the crate root of a cdylib)"}
		}
	case AS:
		s.entry = pick(s.files, "assembly/index.ts", "index.ts")
		if s.entry == "" {
			if len(s.files) != 1 {
				return nil, &NoSourceError{Dir: dir, Detail: "several .ts files but no assembly/index.ts or index.ts entry file"}
			}
			s.entry = s.files[0]
		}
	}
	return s, nil
}

func pick(files []string, names ...string) string {
	for _, n := range names {
		for _, f := range files {
			if f == n {
				return f
			}
		}
	}
	return ""
}
