package hosthttp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvSecrets(t *testing.T) {
	t.Setenv("REEF_SECRET_GITHUB_TOKEN", "ghp_x")
	t.Setenv("REEF_SECRET_", "empty-name")
	src := EnvSecrets(DefaultSecretPrefix)
	cases := []struct {
		name string
		want string
		ok   bool
	}{
		{"GITHUB_TOKEN", "ghp_x", true},
		{"MISSING", "", false},
		{"", "", false},
		{"GITHUB-TOKEN", "", false},
		{"../x", "", false},
	}
	for _, c := range cases {
		if v, ok := src(c.name); v != c.want || ok != c.ok {
			t.Errorf("EnvSecrets(%q) = %q %v, want %q %v", c.name, v, ok, c.want, c.ok)
		}
	}
}

func TestFileSecrets(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "outside")
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("TOKEN", "abc\n")
	write("CRLF", "abc\r\n")
	write("RAW", "  spaced  ")
	write("BIG", strings.Repeat("x", maxSecretFileBytes+1))
	if err := os.WriteFile(outside, []byte("host-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "LINK")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "DIR"), 0o700); err != nil {
		t.Fatal(err)
	}
	src := FileSecrets(dir)
	cases := []struct {
		name string
		want string
		ok   bool
	}{
		{"TOKEN", "abc", true},
		{"CRLF", "abc", true},
		{"RAW", "  spaced  ", true},
		{"BIG", "", false},
		{"LINK", "", false},
		{"DIR", "", false},
		{"MISSING", "", false},
		{"../outside", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		if v, ok := src(c.name); v != c.want || ok != c.ok {
			t.Errorf("FileSecrets(%q) = %q %v, want %q %v", c.name, v, ok, c.want, c.ok)
		}
	}
}

func TestRedactor(t *testing.T) {
	r := &redactor{}
	r.add("tok/en+1")
	r.add("")
	in := "a tok/en+1 b dG9rL2VuKzE= c tok%2Fen%2B1 d"
	got := r.string(in)
	if strings.Contains(got, "tok") || strings.Contains(got, "dG9rL2VuKzE") {
		t.Errorf("redacted %q", got)
	}
	if !r.contains("x?k=tok%2Fen%2B1") {
		t.Error("contains misses the query-escaped form")
	}
	var none *redactor
	if none.active() || string(none.bytes([]byte("x"))) != "x" {
		t.Error("nil redactor changed data")
	}
}
