package adversarial

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/reefhq/reef/runtime/skill"
)

// TestFSCapabilityAttacks drives reef_fs_* from the C guest with hostile
// paths and asserts the exact refusal.
func TestFSCapabilityAttacks(t *testing.T) {
	h := newHostDirs(t)
	// Pre-existing links planted by someone else: out of the mount by an
	// absolute and a relative target, and a directory link.
	must(t, os.Symlink(h.secretPath, filepath.Join(h.data, "abs-link")))
	must(t, os.Symlink("../secret.txt", filepath.Join(h.data, "rel-link")))
	must(t, os.Symlink(h.outside, filepath.Join(h.data, "dir-link")))
	must(t, os.Symlink("/dev/zero", filepath.Join(h.data, "dev-link")))
	must(t, syscall.Mkfifo(filepath.Join(h.data, "fifo"), 0o644))
	ln, err := net.Listen("unix", filepath.Join(h.data, "sock"))
	must(t, err)
	defer ln.Close()
	// A hard link to a file outside the mount (made by the host).
	hard := filepath.Join(h.outside, "hard.txt")
	writeFile(t, hard, "outside original")
	must(t, os.Link(hard, filepath.Join(h.data, "hard.txt")))

	pl := load(t, "hostile", "fs-attacker", grantSpec{fs: h})
	type tc struct {
		name, fn, req string
		data          []byte
		code, value   string // value checked for denials
	}
	cases := []tc{
		{"dotdot", "reef_fs_read", `{"path":"/data/../secret.txt"}`, nil, "denied", "/data/../secret.txt"},
		{"deep dotdot", "reef_fs_read", `{"path":"/data/a/../../../../../etc/passwd"}`, nil, "denied", "/data/a/../../../../../etc/passwd"},
		{"absolute outside", "reef_fs_read", `{"path":"/etc/passwd"}`, nil, "denied", "/etc/passwd"},
		{"absolute host path", "reef_fs_read", `{"path":` + jsonStr(h.secretPath) + `}`, nil, "denied", h.secretPath},
		{"encoded dotdot is a name", "reef_fs_read", `{"path":"/data/%2e%2e/secret.txt"}`, nil, "not_found", ""},
		{"backslash is a name", "reef_fs_read", `{"path":"/data/..\\secret.txt"}`, nil, "not_found", ""},
		{"NUL", "reef_fs_read", `{"path":"/data/hello.txt\u0000/../../secret.txt"}`, nil, "invalid", ""},
		{"relative", "reef_fs_read", `{"path":"../secret.txt"}`, nil, "invalid", ""},
		{"symlink absolute out", "reef_fs_read", `{"path":"/data/abs-link"}`, nil, "denied", "/data/abs-link"},
		{"symlink relative out", "reef_fs_read", `{"path":"/data/rel-link"}`, nil, "denied", "/data/rel-link"},
		{"symlinked dir out", "reef_fs_read", `{"path":"/data/dir-link/secret.txt"}`, nil, "denied", "/data/dir-link/secret.txt"},
		{"symlink to device", "reef_fs_read", `{"path":"/data/dev-link"}`, nil, "denied", "/data/dev-link"},
		{"fifo", "reef_fs_read", `{"path":"/data/fifo"}`, nil, "denied", "/data/fifo"},
		{"unix socket", "reef_fs_read", `{"path":"/data/sock"}`, nil, "denied", "/data/sock"},
		{"stat through link", "reef_fs_stat", `{"path":"/data/dir-link/secret.txt"}`, nil, "denied", "/data/dir-link/secret.txt"},
		{"list parent", "reef_fs_list", `{"path":"/data/.."}`, nil, "denied", "/data/.."},
		{"list through dir link", "reef_fs_list", `{"path":"/data/dir-link"}`, nil, "denied", "/data/dir-link"},
		// The glob's search directory (the pattern's leading literal segments,
		// cleaned) is what is checked and named.
		{"glob escape", "reef_fs_glob", `{"pattern":"/data/../**"}`, nil, "denied", "/"},
		{"write outside", "reef_fs_write", `{"path":"/data/../pwned.txt"}`, []byte("x"), "denied", "/data/../pwned.txt"},
		{"write read-only mount", "reef_fs_write", `{"path":"/ro/readme.txt"}`, []byte("x"), "denied", "/ro/readme.txt"},
		{"append read-only mount", "reef_fs_append", `{"path":"/ro/readme.txt"}`, []byte("x"), "denied", "/ro/readme.txt"},
		{"mkdir read-only mount", "reef_fs_mkdir", `{"path":"/ro/d"}`, nil, "denied", "/ro/d"},
		{"remove read-only mount", "reef_fs_remove", `{"path":"/ro/readme.txt"}`, nil, "denied", "/ro/readme.txt"},
		{"mkdir outside", "reef_fs_mkdir", `{"path":"/data/../evil"}`, nil, "denied", "/data/../evil"},
		{"remove outside", "reef_fs_remove", `{"path":"/data/../secret.txt"}`, nil, "denied", "/data/../secret.txt"},
		{"rename out of the mount", "reef_fs_rename", `{"from":"/data/hello.txt","to":"/data/../stolen.txt"}`, nil, "denied", "/data/../stolen.txt"},
		{"rename into read-only", "reef_fs_rename", `{"from":"/data/hello.txt","to":"/ro/hello.txt"}`, nil, "denied", "/ro/hello.txt"},
		{"append through hard link", "reef_fs_append", `{"path":"/data/hard.txt"}`, []byte("pwned"), "denied", "/data/hard.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCap(t, pl, h, 1, c.fn, c.req, c.data)
			if c.code == "denied" {
				wantDenied(t, r.err, "fs", c.value)
			} else {
				wantCode(t, r.err, c.code, "fs")
			}
		})
	}
	t.Run("write replaces a symlink, never writes through", func(t *testing.T) {
		r := runCap(t, pl, h, 1, "reef_fs_write", `{"path":"/data/abs-link"}`, []byte("overwritten"))
		if r.err != nil {
			t.Fatalf("write over a link: %+v", r.err)
		}
		if fi, err := os.Lstat(filepath.Join(h.data, "abs-link")); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("link not replaced by a file: %v %v", fi, err)
		}
	})
	t.Run("write replaces a hard link, never writes through", func(t *testing.T) {
		r := runCap(t, pl, h, 1, "reef_fs_write", `{"path":"/data/hard.txt"}`, []byte("pwned"))
		if r.err != nil {
			t.Fatalf("write over a hard link: %+v", r.err)
		}
		if b, _ := os.ReadFile(hard); string(b) != "outside original" {
			t.Fatalf("file outside the mount changed through a hard link: %q", b)
		}
	})
	if b, _ := os.ReadFile(filepath.Join(h.ro, "readme.txt")); string(b) != "read only" {
		t.Fatalf("read-only file changed: %q", b)
	}
}

// TestFSProcMount: a grant that maps a mount onto procfs is refused whole.
func TestFSProcMount(t *testing.T) {
	h := newHostDirs(t)
	g := grantSpec{fs: &hostDirs{data: "/proc/self", ro: h.ro}}
	_, err := tryLoad(t, "hostile", "proc-attacker", g)
	if err == nil || !strings.Contains(err.Error(), "mount /data is unavailable: file is on a kernel filesystem") {
		t.Fatalf("a mount on procfs loaded: %v", err)
	}
}

// TestFSWASIAttacksC attacks the WASI preopens with wasi-libc (fopen,
// symlink, link…).
func TestFSWASIAttacksC(t *testing.T) {
	h := newHostDirs(t)
	must(t, os.Symlink(h.secretPath, filepath.Join(h.data, "abs-link")))
	must(t, os.Symlink(h.outside, filepath.Join(h.data, "dir-link")))
	must(t, syscall.Mkfifo(filepath.Join(h.data, "fifo"), 0o644))
	hard := filepath.Join(h.outside, "hard.txt")
	writeFile(t, hard, "outside original")
	must(t, os.Link(hard, filepath.Join(h.data, "hard.txt")))
	pl := load(t, "hostile", "wasi-attacker", grantSpec{fs: h})
	cases := []struct {
		name, in string
		want     string // expected output prefix
	}{
		{"fopen dotdot", "read\n/data/../secret.txt\n", "err:"},
		{"fopen deep dotdot", "read\n/data/x/../../../../../../" + h.secretPath + "\n", "err:"},
		{"fopen host path", "read\n" + h.secretPath + "\n", "err:"},
		{"fopen /etc/passwd", "read\n/etc/passwd\n", "err:"},
		{"fopen NUL truncates to a name inside", "read\n/data/hello.txt\x00/../../secret.txt\n", "ok:hello"},
		{"fopen encoded", "read\n/data/%2e%2e/secret.txt\n", "err:No such file"},
		{"fopen symlink out", "read\n/data/abs-link\n", "err:Operation not permitted"},
		{"fopen through dir link", "read\n/data/dir-link/secret.txt\n", "err:Operation not permitted"},
		{"fopen fifo", "read\n/data/fifo\n", "err:Operation not permitted"},
		{"guest symlink absolute", "symlink\n" + h.secretPath + "\n/data/s1", "err:Operation not permitted"},
		{"guest symlink relative", "symlink\n../../../../../../" + h.secretPath + "\n/data/s2", "err:Operation not permitted"},
		{"guest symlink inside", "symlink\nhello.txt\n/data/s3", "err:Operation not permitted"},
		{"guest hard link", "link\n/data/hello.txt\n/data/h2", "err:Operation not permitted"},
		{"write read-only", "write\n/ro/readme.txt\npwned", "err:Read-only file system"},
		{"create in read-only", "write\n/ro/new.txt\npwned", "err:Read-only file system"},
		{"mkdir read-only", "mkdir\n/ro/d\n", "err:Read-only file system"},
		{"unlink read-only", "unlink\n/ro/readme.txt\n", "err:Read-only file system"},
		{"write through hard link", "append\n/data/hard.txt\npwned", "err:Operation not permitted"},
		{"rename out", "rename\n/data/hello.txt\n/data/../stolen.txt", "err:"},
		{"write dotdot", "write\n/data/../pwned.txt\npwned", "err:"},
		{"readdir parent", "readdir\n/data/..\n", "err:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := call(t, pl, h, "wasi", []byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(out), c.want) {
				t.Fatalf("%q: got %q, want prefix %q", c.in, out, c.want)
			}
		})
	}
	if b, _ := os.ReadFile(hard); string(b) != "outside original" {
		t.Fatalf("hard-linked file outside the mount changed: %q", b)
	}
	for _, n := range []string{"s1", "s2", "s3", "h2"} {
		if _, err := os.Lstat(filepath.Join(h.data, n)); err == nil {
			t.Errorf("guest created %s", n)
		}
	}
}

// TestFSWASIAttacksGo attacks the preopens from Go (os.ReadFile, os.Symlink,
// os.Link) and through the Go PDK.
func TestFSWASIAttacksGo(t *testing.T) {
	h := newHostDirs(t)
	must(t, os.Symlink(h.secretPath, filepath.Join(h.data, "abs-link")))
	pl := load(t, "hostile_go", "go-attacker", grantSpec{fs: h})
	cases := []struct {
		name string
		req  map[string]any
		want string // substring of the error
	}{
		{"ReadFile dotdot", map[string]any{"op": "read", "path": "/data/../secret.txt"}, ""},
		{"ReadFile host path", map[string]any{"op": "read", "path": h.secretPath}, ""},
		{"ReadFile symlink out", map[string]any{"op": "read", "path": "/data/abs-link"}, "operation not permitted"},
		{"Symlink out", map[string]any{"op": "symlink", "target": h.secretPath, "path": "/data/s"}, "operation not permitted"},
		{"Symlink relative out", map[string]any{"op": "symlink", "target": "../secret.txt", "path": "/data/s"}, "operation not permitted"},
		{"Link", map[string]any{"op": "link", "target": "/data/hello.txt", "path": "/data/h"}, "operation not permitted"},
		{"WriteFile read-only", map[string]any{"op": "write", "path": "/ro/readme.txt", "content": "pwned"}, "read-only file system"},
		{"WriteFile dotdot", map[string]any{"op": "write", "path": "/data/../pwned.txt", "content": "pwned"}, ""},
		{"ReadDir root", map[string]any{"op": "readdir", "path": "/data/.."}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runGo(t, pl, h, c.req)
			if r.OK {
				t.Fatalf("%v succeeded: %+v", c.req, r)
			}
			if !strings.Contains(strings.ToLower(r.Err), c.want) {
				t.Fatalf("%v: error %q does not contain %q", c.req, r.Err, c.want)
			}
		})
	}
	t.Run("PDK ReadFile dotdot", func(t *testing.T) {
		r := runGo(t, pl, h, map[string]any{"op": "pdk_read", "path": "/data/../secret.txt"})
		wantDenied(t, r.doc(), "fs", "/data/../secret.txt")
	})
	t.Run("PDK WriteFile read-only", func(t *testing.T) {
		r := runGo(t, pl, h, map[string]any{"op": "pdk_write", "path": "/ro/readme.txt", "content": "x"})
		wantDenied(t, r.doc(), "fs", "/ro/readme.txt")
	})
}

// TestFSQuota: byte and file quotas through reef_fs and through WASI.
func TestFSQuota(t *testing.T) {
	h := newHostDirs(t)
	pl := load(t, "hostile", "quota-attacker", grantSpec{fs: h})
	big := make([]byte, quotaBytes+1)
	r := runCap(t, pl, h, 1, "reef_fs_write", `{"path":"/data/big.bin"}`, big)
	wantCode(t, r.err, "limit", "fs")
	if _, err := os.Stat(filepath.Join(h.data, "big.bin")); err == nil {
		t.Fatal("a write over the byte quota left a file")
	}
	// Append in 128 KiB steps until the quota stops it.
	r = runCap(t, pl, h, 100, "reef_fs_append", `{"path":"/data/grow.bin"}`, make([]byte, 128<<10))
	wantCode(t, r.err, "limit", "fs")
	if fi, _ := os.Stat(filepath.Join(h.data, "grow.bin")); fi == nil || fi.Size() > quotaBytes {
		t.Fatalf("appends went past the quota: %v", fi)
	}
	// WASI writes hit the same quota.
	out, err := call(t, pl, h, "wasi", append([]byte("write\n/data/wasi.bin\n"), bytes.Repeat([]byte("A"), quotaBytes+1)...))
	if err != nil || string(out) != "err:I/O error" {
		t.Fatalf("WASI write over quota: %q %v", out, err)
	}
	must(t, os.Remove(filepath.Join(h.data, "grow.bin")))
	// Files quota: mkdir of fresh names until refused.
	var made int
	for i := 0; i < quotaFiles+5; i++ {
		r := runCap(t, pl, h, 1, "reef_fs_mkdir", `{"path":"/data/d`+itoa(i)+`"}`, nil)
		if r.err != nil {
			wantCode(t, r.err, "limit", "fs")
			break
		}
		made++
	}
	ents, _ := os.ReadDir(h.data)
	if made == quotaFiles+5 || len(ents) > quotaFiles {
		t.Fatalf("files quota not enforced: made %d, %d entries", made, len(ents))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestFSReadInPlace: reef_fs_read fills kernel memory in place
// (abi.ResponseBuffer). The guest must get exactly the file's bytes — no
// bytes of an earlier, larger read, none past a short read — and a read
// larger than the skill's memory limit is still a "limit" error the skill
// survives.
func TestFSReadInPlace(t *testing.T) {
	h := newHostDirs(t)
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	writeFile(t, filepath.Join(h.data, "big.bin"), string(big))
	writeFile(t, filepath.Join(h.data, "small.txt"), "small")
	writeFile(t, filepath.Join(h.data, "huge.bin"), strings.Repeat("h", 3<<20))
	pl := load(t, "hostile", "inplace-reader", grantSpec{fs: h, limits: skill.Limits{Memory: 2 << 20}})
	for _, c := range []struct {
		name, req, want string
	}{
		{"large", `{"path":"/data/big.bin"}`, string(big)},
		{"small after large", `{"path":"/data/small.txt"}`, "small"},
		{"range", `{"path":"/data/big.bin","offset":1000,"length":5000}`, string(big[1000:6000])},
		{"length past the end", `{"path":"/data/small.txt","offset":2,"length":100}`, "all"},
		{"offset past the end", `{"path":"/data/small.txt","offset":99}`, ""},
		{"large again", `{"path":"/data/big.bin"}`, string(big)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCap(t, pl, h, 2, "reef_fs_read", c.req, nil)
			if r.err != nil || r.ok != 2 {
				t.Fatalf("read: %d ok, %+v", r.ok, r.err)
			}
			if string(r.body) != c.want {
				t.Fatalf("read %d bytes, want %d (first difference at %d)", len(r.body), len(c.want), firstDiff(r.body, []byte(c.want)))
			}
		})
	}
	t.Run("over the memory limit", func(t *testing.T) {
		r := runCap(t, pl, h, 1, "reef_fs_read", `{"path":"/data/huge.bin"}`, nil)
		wantCode(t, r.err, "limit", "fs")
		r = runCap(t, pl, h, 1, "reef_fs_read", `{"path":"/data/small.txt"}`, nil)
		if r.err != nil || string(r.body) != "small" {
			t.Fatalf("read after the limit error: %q %+v", r.body, r.err)
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
