package hostfs

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reefhq/reef/hostfuncs/abi"
)

func TestModuleShape(t *testing.T) {
	m := New(Options{})
	if m.Name() != "fs" {
		t.Fatalf("Name %q", m.Name())
	}
	var names []string
	for _, f := range m.Funcs() {
		if f.Handler == nil {
			t.Fatalf("%s has no handler", f.Name)
		}
		names = append(names, f.Name)
	}
	want := []string{abi.FSRead, abi.FSWrite, abi.FSAppend, abi.FSList, abi.FSStat, abi.FSMkdir, abi.FSRemove, abi.FSRename, abi.FSGlob}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("funcs %v, want %v", names, want)
	}
}

func TestRead(t *testing.T) {
	e := newEnv(t, Options{MaxReadBytes: 8})
	mustWrite(t, filepath.Join(e.data, "big.txt"), "0123456789abcdef")
	l := func(n int64) *int64 { return &n }
	tests := []struct {
		name string
		req  readRequest
		want string
		code string
	}{
		{"whole", readRequest{Path: "/data/a.txt"}, "hello", ""},
		{"offset", readRequest{Path: "/data/a.txt", Offset: 2}, "llo", ""},
		{"offset+length", readRequest{Path: "/data/a.txt", Offset: 1, Length: l(3)}, "ell", ""},
		{"zero length", readRequest{Path: "/data/a.txt", Length: l(0)}, "", ""},
		{"past end", readRequest{Path: "/data/a.txt", Offset: 99}, "", ""},
		{"read-only mount", readRequest{Path: "/ro/r.txt", Length: l(4)}, "read", ""},
		{"over MaxReadBytes", readRequest{Path: "/data/big.txt"}, "", abi.CodeLimit},
		{"window under MaxReadBytes", readRequest{Path: "/data/big.txt", Offset: 10, Length: l(6)}, "abcdef", ""},
		{"missing", readRequest{Path: "/data/nope"}, "", abi.CodeNotFound},
		{"directory", readRequest{Path: "/data"}, "", abi.CodeInvalid},
		{"negative offset", readRequest{Path: "/data/a.txt", Offset: -1}, "", abi.CodeInvalid},
		{"negative length", readRequest{Path: "/data/a.txt", Length: l(-1)}, "", abi.CodeInvalid},
		{"relative path", readRequest{Path: "data/a.txt"}, "", abi.CodeInvalid},
		{"empty path", readRequest{}, "", abi.CodeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.call(abi.FSRead, tc.req, nil)
			if code(err) != tc.code {
				t.Fatalf("code %q (%v), want %q", code(err), err, tc.code)
			}
			if err == nil && string(out) != tc.want {
				t.Fatalf("got %q want %q", out, tc.want)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, Options{})
	for _, req := range []string{``, `nope`, `{"path":"/data/a.txt","pth":1}`, `{"path":3}`, `{"path":"/data/a.txt"} {}`} {
		_, err := e.call(abi.FSRead, req, nil)
		if code(err) != abi.CodeInvalid {
			t.Errorf("request %q: code %q (%v), want invalid", req, code(err), err)
		}
	}
}

func TestWriteAppend(t *testing.T) {
	e := newEnv(t, Options{})
	out := e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/new.txt"}, []byte("abc"))
	if string(out) != `{"bytes":3}` {
		t.Fatalf("write response %s", out)
	}
	if got := readHost(t, filepath.Join(e.data, "new.txt")); got != "abc" {
		t.Fatalf("content %q", got)
	}
	// overwrite keeps the mode
	if err := os.Chmod(filepath.Join(e.data, "new.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/new.txt"}, []byte("xy"))
	fi, _ := os.Stat(filepath.Join(e.data, "new.txt"))
	if fi.Mode().Perm() != 0o600 || readHost(t, filepath.Join(e.data, "new.txt")) != "xy" {
		t.Fatalf("overwrite: mode %v content %q", fi.Mode(), readHost(t, filepath.Join(e.data, "new.txt")))
	}
	out = e.mustCall(t, abi.FSAppend, pathRequest{Path: "/data/new.txt"}, []byte("z"))
	if string(out) != `{"bytes":1}` || readHost(t, filepath.Join(e.data, "new.txt")) != "xyz" {
		t.Fatalf("append: %s %q", out, readHost(t, filepath.Join(e.data, "new.txt")))
	}
	e.mustCall(t, abi.FSAppend, pathRequest{Path: "/data/log.txt"}, []byte("line\n"))
	if readHost(t, filepath.Join(e.data, "log.txt")) != "line\n" {
		t.Fatal("append did not create")
	}
	// empty payload writes an empty file
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/empty"}, nil)
	if readHost(t, filepath.Join(e.data, "empty")) != "" {
		t.Fatal("empty write")
	}
	// missing parent
	if _, err := e.call(abi.FSWrite, writeRequest{Path: "/data/x/y/z.txt"}, []byte("1")); code(err) != abi.CodeNotFound {
		t.Fatalf("missing parent: %v", err)
	}
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/x/y/z.txt", CreateDirs: true}, []byte("1"))
	if readHost(t, filepath.Join(e.data, "x/y/z.txt")) != "1" {
		t.Fatal("create_dirs")
	}
	// a directory cannot be written, nor the mount root
	for _, p := range []string{"/data/x", "/data"} {
		if _, err := e.call(abi.FSWrite, writeRequest{Path: p}, []byte("1")); code(err) != abi.CodeInvalid {
			t.Fatalf("write %s: %v", p, err)
		}
	}
	// no temporary file is left behind
	ents, _ := os.ReadDir(e.data)
	for _, de := range ents {
		if strings.Contains(de.Name(), tmpInfix) {
			t.Fatalf("temporary file left: %s", de.Name())
		}
	}
}

func TestAtomicWriteFailureKeepsOldFile(t *testing.T) {
	e := newEnv(t, Options{QuotaBytes: 1 << 20})
	injected := errors.New("injected failure before rename")
	e.m.beforeRename = func() error { return injected }
	_, err := e.call(abi.FSWrite, writeRequest{Path: "/data/a.txt"}, []byte("NEW CONTENT THAT MUST NOT LAND"))
	if code(err) != abi.CodeIO {
		t.Fatalf("want io error, got %v", err)
	}
	if got := readHost(t, filepath.Join(e.data, "a.txt")); got != "hello" {
		t.Fatalf("old file damaged: %q", got)
	}
	ents, _ := os.ReadDir(e.data)
	if len(ents) != 1 {
		t.Fatalf("leftover files: %v", ents)
	}
	// the failed write released its quota reservation
	u := e.m.usageFor(e.pol)
	if u.bytes != 5 || u.files != 1 {
		t.Fatalf("usage after failed write: %d bytes %d files, want 5 and 1", u.bytes, u.files)
	}
	e.m.beforeRename = nil
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/a.txt"}, []byte("new"))
	if got := readHost(t, filepath.Join(e.data, "a.txt")); got != "new" {
		t.Fatalf("write after failure: %q", got)
	}
}

func TestListStat(t *testing.T) {
	e := newEnv(t, Options{MaxListEntries: 5})
	if err := os.Mkdir(filepath.Join(e.data, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(e.data, "ln")); err != nil {
		t.Fatal(err)
	}
	var ents []Entry
	if err := json.Unmarshal(e.mustCall(t, abi.FSList, pathRequest{Path: "/data"}, nil), &ents); err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3 {
		t.Fatalf("entries %+v", ents)
	}
	byName := map[string]Entry{}
	for _, en := range ents {
		byName[en.Name] = en
	}
	if a := byName["a.txt"]; a.Size != 5 || a.Dir || a.Type != "file" || a.Mode != "0644" || a.Mtime == "" {
		t.Fatalf("a.txt %+v", a)
	}
	if s := byName["sub"]; !s.Dir || s.Type != "dir" || s.Mode != "0750" {
		t.Fatalf("sub %+v", s)
	}
	if l := byName["ln"]; l.Type != "symlink" {
		t.Fatalf("ln %+v", l)
	}
	var st Entry
	if err := json.Unmarshal(e.mustCall(t, abi.FSStat, pathRequest{Path: "/data/ln"}, nil), &st); err != nil {
		t.Fatal(err)
	}
	if st.Path != "/data/ln" || st.Name != "ln" || st.Type != "file" || st.Size != 5 {
		t.Fatalf("stat follows in-mount links: %+v", st)
	}
	if err := json.Unmarshal(e.mustCall(t, abi.FSStat, pathRequest{Path: "/ro"}, nil), &st); err != nil || !st.Dir || st.Path != "/ro" {
		t.Fatalf("stat mount root: %+v %v", st, err)
	}
	if _, err := e.call(abi.FSStat, pathRequest{Path: "/data/missing"}, nil); code(err) != abi.CodeNotFound {
		t.Fatalf("stat missing: %v", err)
	}
	if _, err := e.call(abi.FSList, pathRequest{Path: "/data/a.txt"}, nil); code(err) != abi.CodeInvalid {
		t.Fatalf("list a file: %v", err)
	}
	for i := range 5 {
		mustWrite(t, filepath.Join(e.data, "sub", string(rune('a'+i))), "")
	}
	e.mustCall(t, abi.FSList, pathRequest{Path: "/data/sub"}, nil)
	mustWrite(t, filepath.Join(e.data, "sub", "f"), "")
	if _, err := e.call(abi.FSList, pathRequest{Path: "/data/sub"}, nil); code(err) != abi.CodeLimit {
		t.Fatalf("list over MaxListEntries: %v", err)
	}
}

func TestMkdirRemoveRename(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustCall(t, abi.FSMkdir, mkdirRequest{Path: "/data/d"}, nil)
	if _, err := e.call(abi.FSMkdir, mkdirRequest{Path: "/data/d"}, nil); code(err) != abi.CodeExists {
		t.Fatalf("mkdir twice: %v", err)
	}
	e.mustCall(t, abi.FSMkdir, mkdirRequest{Path: "/data/d", Parents: true}, nil)
	if _, err := e.call(abi.FSMkdir, mkdirRequest{Path: "/data/p/q"}, nil); code(err) != abi.CodeNotFound {
		t.Fatalf("mkdir without parents: %v", err)
	}
	e.mustCall(t, abi.FSMkdir, mkdirRequest{Path: "/data/p/q/r", Parents: true}, nil)
	mustWrite(t, filepath.Join(e.data, "p/q/r/f.txt"), "x")
	if _, err := e.call(abi.FSRemove, removeRequest{Path: "/data/p"}, nil); code(err) != abi.CodeInvalid {
		t.Fatalf("remove non-empty dir: %v", err)
	}
	e.mustCall(t, abi.FSRemove, removeRequest{Path: "/data/p", Recursive: true}, nil)
	if _, err := os.Stat(filepath.Join(e.data, "p")); !os.IsNotExist(err) {
		t.Fatal("recursive remove left the tree")
	}
	e.mustCall(t, abi.FSRemove, removeRequest{Path: "/data/d"}, nil)
	if _, err := e.call(abi.FSRemove, removeRequest{Path: "/data/d"}, nil); code(err) != abi.CodeNotFound {
		t.Fatalf("remove missing: %v", err)
	}
	if _, err := e.call(abi.FSRemove, removeRequest{Path: "/data", Recursive: true}, nil); code(err) != abi.CodeInvalid {
		t.Fatalf("remove mount root: %v", err)
	}
	e.mustCall(t, abi.FSRename, renameRequest{From: "/data/a.txt", To: "/data/b.txt"}, nil)
	if readHost(t, filepath.Join(e.data, "b.txt")) != "hello" {
		t.Fatal("rename")
	}
	if _, err := e.call(abi.FSRename, renameRequest{From: "/data/a.txt", To: "/data/c.txt"}, nil); code(err) != abi.CodeNotFound {
		t.Fatalf("rename missing: %v", err)
	}
	if _, err := e.call(abi.FSRename, renameRequest{From: "/data", To: "/data/x"}, nil); code(err) != abi.CodeInvalid {
		t.Fatalf("rename mount root: %v", err)
	}
}

func TestGlob(t *testing.T) {
	e := newEnv(t, Options{MaxGlobResults: 4})
	for _, p := range []string{"b.txt", "c.md", "x/d.md", "x/y/e.md", "x/y/f.txt", ".h.md"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(e.data, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(e.data, p), "")
	}
	// a link to a directory outside: matched by name, never followed
	if err := os.Symlink("../outside", filepath.Join(e.data, "out")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern string
		want    []string
		code    string
	}{
		{"/data/*.txt", []string{"/data/a.txt", "/data/b.txt"}, ""},
		{"/data/**/*.md", []string{"/data/.h.md", "/data/c.md", "/data/x/d.md", "/data/x/y/e.md"}, ""},
		{"/data/x/*/*.txt", []string{"/data/x/y/f.txt"}, ""},
		{"/data/x/**", []string{"/data/x/d.md", "/data/x/y", "/data/x/y/e.md", "/data/x/y/f.txt"}, ""},
		{"/data/a.txt", []string{"/data/a.txt"}, ""},
		{"/data/none/*.txt", []string{}, ""},
		{"/data/out/*", []string{}, abi.CodeDenied},
		{"/data/**/secret.txt", []string{}, ""},
		{"/data/**", nil, abi.CodeLimit},
		{"/data/[", nil, abi.CodeInvalid},
		{"/*/a.txt", nil, abi.CodeDenied},
		{"/data/../outside/*", nil, abi.CodeDenied},
		{"data/*", nil, abi.CodeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			out, err := e.call(abi.FSGlob, globRequest{Pattern: tc.pattern}, nil)
			if code(err) != tc.code {
				t.Fatalf("code %q (%v), want %q", code(err), err, tc.code)
			}
			if err != nil {
				return
			}
			var got []string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
}

func TestMatchSegments(t *testing.T) {
	tests := []struct {
		pat, p string
		want   bool
	}{
		{"*.md", "a.md", true},
		{"**/*.md", "a.md", true},
		{"**/*.md", "a/b/c.md", true},
		{"**/*.md", "a/b/c.txt", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"**", "a/b/c", true},
		{"*/*", "a", false},
		{"a/**/**/b", "a/b", true},
	}
	for _, tc := range tests {
		if got := matchSegments(strings.Split(tc.pat, "/"), strings.Split(tc.p, "/")); got != tc.want {
			t.Errorf("match(%q, %q) = %v", tc.pat, tc.p, got)
		}
	}
}
