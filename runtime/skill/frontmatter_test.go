package skill_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

// wantProblem asserts err is (or joins) a *skill.ValidationError and that
// its text contains every part of want.
func wantProblem(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", want)
	}
	var ve *skill.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %q is not a *skill.ValidationError", err, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestParseFrontmatterGood(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		in       string
		want     skill.Frontmatter
		wantBody string
	}{
		{
			name:     "minimal",
			file:     "hello/SKILL.md",
			in:       "---\nname: hello\ndescription: Says hello.\n---\n# Hello\n",
			want:     skill.Frontmatter{Name: "hello", Description: "Says hello."},
			wantBody: "# Hello\n",
		},
		{
			name: "every key",
			file: "SKILL.md",
			in: "---\nname: a1-b2\ndescription: d\nlicense: MIT\ncompatibility: reef 1\n" +
				"metadata:\n  version: 1.0\n  author: x\n  n: 3\n  on: yes\nallowed-tools: Bash Read\n---\nbody",
			want: skill.Frontmatter{Name: "a1-b2", Description: "d", License: "MIT", Compatibility: "reef 1",
				Metadata: map[string]string{"version": "1.0", "author": "x", "n": "3", "on": "yes"}, AllowedTools: "Bash Read"},
			wantBody: "body",
		},
		{
			name:     "allowed-tools as a list (joined like the reference validator)",
			file:     "SKILL.md",
			in:       "---\nname: x\ndescription: d\nallowed-tools: [Bash, Read]\n---\n",
			want:     skill.Frontmatter{Name: "x", Description: "d", AllowedTools: "Bash Read"},
			wantBody: "",
		},
		{
			name:     "CRLF line endings and trailing spaces on delimiters",
			file:     "x/SKILL.md",
			in:       "--- \r\nname: x\r\ndescription: d\r\n---\t\r\nbody\r\n",
			want:     skill.Frontmatter{Name: "x", Description: "d"},
			wantBody: "body\r\n",
		},
		{
			name:     "closing delimiter at end of file",
			file:     "SKILL.md",
			in:       "---\nname: x\ndescription: d\n---",
			want:     skill.Frontmatter{Name: "x", Description: "d"},
			wantBody: "",
		},
		{
			name:     "limits exactly at the maximum",
			file:     "SKILL.md",
			in:       "---\nname: " + strings.Repeat("a", 64) + "\ndescription: " + strings.Repeat("é", 1024) + "\ncompatibility: " + strings.Repeat("c", 500) + "\n---\n",
			want:     skill.Frontmatter{Name: strings.Repeat("a", 64), Description: strings.Repeat("é", 1024), Compatibility: strings.Repeat("c", 500)},
			wantBody: "",
		},
		{
			name:     "& and * inside text are not anchors or aliases",
			file:     "SKILL.md",
			in:       "---\nname: x\ndescription: Tom & Jerry *stars* \"&a *b\"\n---\n",
			want:     skill.Frontmatter{Name: "x", Description: `Tom & Jerry *stars* "&a *b"`},
			wantBody: "",
		},
		{
			name:     "quoted numeric name is text",
			file:     "SKILL.md",
			in:       "---\nname: '123'\ndescription: d\n---\n",
			want:     skill.Frontmatter{Name: "123", Description: "d"},
			wantBody: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, body, err := skill.ParseFrontmatter(tt.file, []byte(tt.in))
			if err != nil {
				t.Fatalf("ParseFrontmatter: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("frontmatter = %+v, want %+v", got, tt.want)
			}
			if body != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
		})
	}
}

func TestParseFrontmatterRules(t *testing.T) {
	const ok = "description: d\n"
	tests := []struct {
		name string
		file string
		in   string
		want []string
	}{
		{"no opening delimiter", "SKILL.md", "name: x\n", []string{"SKILL.md:1: must start with a '---' line", "Agent Skills format"}},
		{"text before delimiter", "SKILL.md", "\n---\nname: x\n---\n", []string{"SKILL.md:1: must start"}},
		{"byte-order mark", "SKILL.md", "\xef\xbb\xbf---\nname: x\n" + ok + "---\n", []string{"byte-order mark"}},
		{"not closed", "SKILL.md", "---\nname: x\n" + ok, []string{"not closed by a '---' line"}},
		{"empty frontmatter", "SKILL.md", "---\n---\n", []string{"frontmatter is empty", "name and description are required"}},
		{"frontmatter is a list", "SKILL.md", "---\n- a\n---\n", []string{"SKILL.md:2:", "must be a map"}},
		{"unknown key", "SKILL.md", "---\nname: x\n" + ok + "version: 1\n---\n", []string{"SKILL.md:4: version: unknown key", "allowed: name, description, license, compatibility, metadata, allowed-tools"}},
		{"reef key in SKILL.md", "SKILL.md", "---\nname: x\n" + ok + "capabilities: {}\n---\n", []string{"capabilities: unknown key"}},
		{"duplicate key", "SKILL.md", "---\nname: x\nname: y\n" + ok + "---\n", []string{"SKILL.md:3: name: duplicate key"}},
		{"name missing", "SKILL.md", "---\n" + ok + "---\n", []string{"SKILL.md:2: name: is required"}},
		{"description missing", "SKILL.md", "---\nname: x\n---\n", []string{"description: is required"}},
		{"name upper case", "SKILL.md", "---\nname: Web-Text\n" + ok + "---\n", []string{"SKILL.md:2: name: must be 1-64 characters of a-z, 0-9 and single hyphens", "(Agent Skills name rule)"}},
		{"name leading hyphen", "SKILL.md", "---\nname: -x\n" + ok + "---\n", []string{"name: must be 1-64", "name rule"}},
		{"name trailing hyphen", "SKILL.md", "---\nname: x-\n" + ok + "---\n", []string{"name rule"}},
		{"name double hyphen", "SKILL.md", "---\nname: a--b\n" + ok + "---\n", []string{"name rule"}},
		{"name underscore", "SKILL.md", "---\nname: a_b\n" + ok + "---\n", []string{"name rule"}},
		{"name with slash", "SKILL.md", "---\nname: ../x\n" + ok + "---\n", []string{"name rule"}},
		{"name unicode", "SKILL.md", "---\nname: café\n" + ok + "---\n", []string{"name rule"}},
		{"name 65 chars", "SKILL.md", "---\nname: " + strings.Repeat("a", 65) + "\n" + ok + "---\n", []string{"name rule"}},
		{"name empty string", "SKILL.md", "---\nname: ''\n" + ok + "---\n", []string{"name rule"}},
		{"name null", "SKILL.md", "---\nname:\n" + ok + "---\n", []string{"name: must be a string, not empty"}},
		{"name a list", "SKILL.md", "---\nname: [a]\n" + ok + "---\n", []string{"name: must be a string, not a list"}},
		{"name differs from folder", "web-text/SKILL.md", "---\nname: web-txt\n" + ok + "---\n", []string{"web-text/SKILL.md:2: name:", `must equal the folder name "web-text"`}},
		{"description empty", "SKILL.md", "---\nname: x\ndescription: '  '\n---\n", []string{"description: must be 1-1024 characters", "Agent Skills description rule"}},
		{"description too long", "SKILL.md", "---\nname: x\ndescription: " + strings.Repeat("d", 1025) + "\n---\n", []string{"description: must be 1-1024 characters, not 1025"}},
		{"compatibility too long", "SKILL.md", "---\nname: x\n" + ok + "compatibility: " + strings.Repeat("c", 501) + "\n---\n", []string{"compatibility: must be 1-500 characters, not 501"}},
		{"compatibility empty", "SKILL.md", "---\nname: x\n" + ok + "compatibility: ''\n---\n", []string{"compatibility: must be 1-500"}},
		{"metadata not a map", "SKILL.md", "---\nname: x\n" + ok + "metadata: [a]\n---\n", []string{"metadata: must be a map, not a list"}},
		{"metadata nested", "SKILL.md", "---\nname: x\n" + ok + "metadata:\n  a: {b: c}\n---\n", []string{"SKILL.md:5: metadata.a: must be a string, not a map", "string-to-string"}},
		{"metadata null value", "SKILL.md", "---\nname: x\n" + ok + "metadata:\n  a:\n---\n", []string{"metadata.a: must be a string"}},
		{"allowed-tools a map", "SKILL.md", "---\nname: x\n" + ok + "allowed-tools: {a: b}\n---\n", []string{"allowed-tools: must be a string or a list of strings"}},
		{"allowed-tools list of maps", "SKILL.md", "---\nname: x\n" + ok + "allowed-tools: [{a: b}]\n---\n", []string{"allowed-tools[0]: must be a string"}},
		{"license a map", "SKILL.md", "---\nname: x\n" + ok + "license: {a: b}\n---\n", []string{"license: must be a string"}},
		{"invalid YAML", "SKILL.md", "---\nname: x\ndescription: [unclosed\n---\n", []string{"SKILL.md:", "invalid YAML"}},
		{"tab indentation", "SKILL.md", "---\nname: x\n\tdescription: d\n---\n", []string{"invalid YAML"}},
		{"second YAML document", "SKILL.md", "---\nname: x\n" + ok + "...\nfoo: bar\n---\n", []string{"exactly one YAML document"}},
		{"anchor", "SKILL.md", "---\nname: &n x\n" + ok + "---\n", []string{"SKILL.md:2:", "anchors and aliases", "alias-bomb"}},
		{"alias", "SKILL.md", "---\nname: x\nlicense: &l MIT\ndescription: *l\n---\n", []string{"anchors and aliases"}},
		{"merge key", "SKILL.md", "---\nname: x\n" + ok + "metadata:\n  <<: {a: b}\n---\n", []string{"SKILL.md:5:", "tag !!merge is not allowed"}},
		{"binary tag", "SKILL.md", "---\nname: x\n" + ok + "license: !!binary aGk=\n---\n", []string{"tag !!binary is not allowed"}},
		{"custom tag", "SKILL.md", "---\nname: x\n" + ok + "license: !evil x\n---\n", []string{"tag !evil is not allowed"}},
		{"non-UTF-8 frontmatter", "SKILL.md", "---\nname: x\ndescription: \xff\xfe\n---\n", []string{"SKILL.md:3:", "not valid UTF-8"}},
		{"non-UTF-8 body", "SKILL.md", "---\nname: x\n" + ok + "---\nline 5\nline 6 \xc3\x28\n", []string{"SKILL.md:6:", "not valid UTF-8"}},
		{"every problem reported", "SKILL.md", "---\nname: X\ndescription: ''\nfoo: 1\n---\n", []string{"name rule", "description rule", "foo: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := skill.ParseFrontmatter(tt.file, []byte(tt.in))
			wantProblem(t, err, tt.want...)
		})
	}
}

func TestFrontmatterSizeLimit(t *testing.T) {
	// Pad with comment lines so the YAML stays valid: only the size is wrong.
	pad := strings.Repeat("# "+strings.Repeat("x", 61)+"\n", skill.MaxFrontmatterSize/64+1)
	tests := []struct {
		name  string
		in    string
		limit bool
	}{
		{"over the limit, closed", "---\nname: x\ndescription: d\n" + pad + "---\n", true},
		{"over the limit, never closed", "---\nname: x\ndescription: d\n" + pad + pad, true},
		{"one long line without newline", "---\n" + strings.Repeat("a", 10*skill.MaxFrontmatterSize), true},
		{"small frontmatter, large body", "---\nname: x\ndescription: d\n---\n" + pad + pad, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := skill.ParseFrontmatter("SKILL.md", []byte(tt.in))
			if !tt.limit {
				if err != nil {
					t.Fatalf("ParseFrontmatter: %v", err)
				}
				return
			}
			wantProblem(t, err, "larger than 64KiB")
		})
	}
}

func TestFrontmatterAliasBomb(t *testing.T) {
	// Billion laughs: nine levels of nine aliases expand to 9^9 strings when
	// decoded into values. Parsing keeps them as nodes and refuses the
	// first anchor.
	var b strings.Builder
	b.WriteString("---\nname: x\ndescription: d\nmetadata:\n  a0: &a0 lol\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("  a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(": &a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(" [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a")
			b.WriteString(string(rune('0' + i - 1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("---\n")
	_, _, err := skill.ParseFrontmatter("SKILL.md", []byte(b.String()))
	wantProblem(t, err, "SKILL.md:5:", "anchors and aliases")
}

func TestValidName(t *testing.T) {
	for _, s := range []string{"a", "web-text", "a1", "1a", "a-b-c", strings.Repeat("z", 64)} {
		if !skill.ValidName(s) {
			t.Errorf("ValidName(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "-a", "a-", "a--b", "A", "a_b", "a.b", "a/b", "..", ".a", " a", strings.Repeat("z", 65), "ä"} {
		if skill.ValidName(s) {
			t.Errorf("ValidName(%q) = true, want false", s)
		}
	}
}
