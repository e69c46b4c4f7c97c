package hostfs

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/reefhq/reef/runtime/policy"
)

// preopens returns the env's WASI filesystems by guest path.
func (e *env) preopens(t *testing.T) map[string]experimentalsys.FS {
	t.Helper()
	pre, err := e.m.Preopens(e.pol)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]experimentalsys.FS{}
	for _, p := range pre {
		out[p.Guest] = p.FS
	}
	if len(out) != 3 || out["/data"] == nil || out["/ro"] == nil || out["/other"] == nil {
		t.Fatalf("preopens %v", pre)
	}
	return out
}

func readAll(t *testing.T, f experimentalsys.File) string {
	t.Helper()
	var b []byte
	buf := make([]byte, 7)
	for {
		n, errno := f.Read(buf)
		if errno != 0 {
			t.Fatalf("read: %v", errno)
		}
		if n == 0 {
			return string(b)
		}
		b = append(b, buf[:n]...)
	}
}

const (
	rdonly = experimentalsys.O_RDONLY
	wronly = experimentalsys.O_WRONLY
	rdwr   = experimentalsys.O_RDWR
	creat  = experimentalsys.O_CREAT
	trunc  = experimentalsys.O_TRUNC
	appnd  = experimentalsys.O_APPEND
	excl   = experimentalsys.O_EXCL
	dir    = experimentalsys.O_DIRECTORY
)

func TestWASIBasics(t *testing.T) {
	e := newEnv(t, Options{})
	w := e.preopens(t)["/data"]
	f, errno := w.OpenFile("a.txt", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if got := readAll(t, f); got != "hello" {
		t.Fatalf("read %q", got)
	}
	buf := make([]byte, 3)
	if n, errno := f.Pread(buf, 1); errno != 0 || string(buf[:n]) != "ell" {
		t.Fatalf("pread %q %v", buf[:n], errno)
	}
	if _, errno := f.Write([]byte("x")); errno != experimentalsys.EBADF {
		t.Fatalf("write on read-only fd: %v", errno)
	}
	st, errno := f.Stat()
	if errno != 0 || st.Size != 5 || st.Ino == 0 {
		t.Fatalf("stat %+v %v", st, errno)
	}
	f.Close()

	// create, write, seek, read back, truncate
	f, errno = w.OpenFile("sub/../n.txt", rdwr|creat|excl, 0o640)
	if errno != 0 {
		t.Fatal(errno)
	}
	if n, errno := f.Write([]byte("hello world")); errno != 0 || n != 11 {
		t.Fatal(n, errno)
	}
	if off, errno := f.Seek(6, io.SeekStart); errno != 0 || off != 6 {
		t.Fatal(off, errno)
	}
	if got := readAll(t, f); got != "world" {
		t.Fatalf("read back %q", got)
	}
	if errno := f.Truncate(5); errno != 0 {
		t.Fatal(errno)
	}
	f.Close()
	if got := readHost(t, filepath.Join(e.data, "n.txt")); got != "hello" {
		t.Fatalf("host sees %q", got)
	}
	if _, errno := w.OpenFile("n.txt", wronly|creat|excl, 0o640); errno != experimentalsys.EEXIST {
		t.Fatalf("O_EXCL on existing: %v", errno)
	}
	// append
	f, errno = w.OpenFile("n.txt", wronly|appnd, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	f.Write([]byte("!"))
	f.Close()
	if got := readHost(t, filepath.Join(e.data, "n.txt")); got != "hello!" {
		t.Fatalf("append: %q", got)
	}
	// O_TRUNC
	f, errno = w.OpenFile("n.txt", wronly|trunc, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	f.Close()
	if got := readHost(t, filepath.Join(e.data, "n.txt")); got != "" {
		t.Fatalf("trunc: %q", got)
	}

	// directories: mkdir, readdir with rewind, rmdir, unlink, rename
	if errno := w.Mkdir("d", 0o755); errno != 0 {
		t.Fatal(errno)
	}
	if errno := w.Mkdir("d", 0o755); errno != experimentalsys.EEXIST {
		t.Fatalf("mkdir twice: %v", errno)
	}
	mustWrite(t, filepath.Join(e.data, "d", "x"), "1")
	mustWrite(t, filepath.Join(e.data, "d", "y"), "2")
	d, errno := w.OpenFile("d", rdonly|dir, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	names := func() []string {
		ents, errno := d.Readdir(-1)
		if errno != 0 {
			t.Fatal(errno)
		}
		var out []string
		for _, en := range ents {
			out = append(out, en.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := names(); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("readdir %v", got)
	}
	if _, errno := d.Seek(0, io.SeekStart); errno != 0 {
		t.Fatal(errno)
	}
	if got := names(); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("readdir after rewind %v", got)
	}
	if isDir, _ := d.IsDir(); !isDir {
		t.Fatal("IsDir")
	}
	d.Close()
	if _, errno := w.OpenFile("d", wronly, 0); errno != experimentalsys.EISDIR {
		t.Fatalf("write-open a directory: %v", errno)
	}
	if _, errno := w.OpenFile("a.txt", rdonly|dir, 0); errno != experimentalsys.ENOTDIR {
		t.Fatalf("O_DIRECTORY on a file: %v", errno)
	}
	if errno := w.Rmdir("d"); errno != experimentalsys.ENOTEMPTY {
		t.Fatalf("rmdir non-empty: %v", errno)
	}
	if errno := w.Unlink("d"); errno != experimentalsys.EISDIR {
		t.Fatalf("unlink dir: %v", errno)
	}
	w.Unlink("d/x")
	w.Unlink("d/y")
	if errno := w.Rmdir("d"); errno != 0 {
		t.Fatal(errno)
	}
	if errno := w.Rename("n.txt", "m.txt"); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := w.Stat("n.txt"); errno != experimentalsys.ENOENT {
		t.Fatalf("stat renamed: %v", errno)
	}
	if errno := w.Chmod("m.txt", 0o600|fs.ModeSetuid); errno != 0 {
		t.Fatal(errno)
	}
	if fi, _ := os.Stat(filepath.Join(e.data, "m.txt")); fi.Mode() != 0o600 {
		t.Fatalf("chmod kept %v (setuid must be dropped)", fi.Mode())
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	if errno := w.Utimens("m.txt", experimentalsys.UTIME_OMIT, mt); errno != 0 {
		t.Fatal(errno)
	}
	if st, _ := w.Stat("m.txt"); st.Mtim != mt {
		t.Fatalf("mtime %d want %d", st.Mtim, mt)
	}
	// in-mount symlinks are followed and readable
	if err := os.Symlink("m.txt", filepath.Join(e.data, "ml")); err != nil {
		t.Fatal(err)
	}
	if dst, errno := w.Readlink("ml"); errno != 0 || dst != "m.txt" {
		t.Fatalf("readlink %q %v", dst, errno)
	}
	if st, errno := w.Lstat("ml"); errno != 0 || st.Mode&fs.ModeSymlink == 0 {
		t.Fatalf("lstat %v %v", st.Mode, errno)
	}
	// the mount root opens as a directory (what wazero does at start)
	root, errno := w.OpenFile(".", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	root.Close()
	if len(e.rec.denials()) != 0 {
		t.Fatalf("unexpected denials: %+v", e.rec.denials())
	}
}

func TestWASIAttacks(t *testing.T) {
	e := newEnv(t, Options{})
	e.plantHostile(t)
	fss := e.preopens(t)
	data, ro := fss["/data"], fss["/ro"]
	open := func(w experimentalsys.FS, fl experimentalsys.Oflag) func(string) experimentalsys.Errno {
		return func(p string) experimentalsys.Errno {
			done := make(chan experimentalsys.Errno, 1)
			go func() {
				f, errno := w.OpenFile(p, fl, 0o644)
				if errno == 0 {
					buf := make([]byte, 256)
					n, _ := f.Read(buf)
					e.wantNoSecret(t, buf[:n])
					f.Close()
				}
				done <- errno
			}()
			select {
			case errno := <-done:
				return errno
			case <-time.After(5 * time.Second):
				t.Fatalf("open %s blocked", p)
				return 0
			}
		}
	}
	stat := func(w experimentalsys.FS) func(string) experimentalsys.Errno {
		return func(p string) experimentalsys.Errno { _, errno := w.Stat(p); return errno }
	}
	tests := []struct {
		name  string
		op    func(string) experimentalsys.Errno
		path  string
		want  experimentalsys.Errno
		value string // denial recorded for this guest path ("" = none)
	}{
		{"dotdot", open(data, rdonly), "../outside/secret.txt", experimentalsys.EPERM, "/data/../outside/secret.txt"},
		{"absolute", open(data, rdonly), "/etc/passwd", experimentalsys.EPERM, "/data//etc/passwd"},
		{"dotdot in middle", open(data, rdonly), "sub/../../outside/secret.txt", experimentalsys.EPERM, "/data/sub/../../outside/secret.txt"},
		{"NUL", open(data, rdonly), "a.txt\x00x", experimentalsys.EPERM, ""},
		{"relative link out", open(data, rdonly), "rel-out", experimentalsys.EPERM, "/data/rel-out"},
		{"absolute link out", open(data, rdonly), "abs-out", experimentalsys.EPERM, "/data/abs-out"},
		{"dir link out", open(data, rdonly), "dir-out/secret.txt", experimentalsys.EPERM, "/data/dir-out/secret.txt"},
		{"nested link out", open(data, rdonly), "sub/deep-out", experimentalsys.EPERM, "/data/sub/deep-out"},
		{"stat link out", stat(data), "rel-out", experimentalsys.EPERM, "/data/rel-out"},
		{"stat dir link out", stat(data), "dir-out/secret.txt", experimentalsys.EPERM, "/data/dir-out/secret.txt"},
		{"create through dir link out", open(data, wronly|creat), "dir-out/new.txt", experimentalsys.EPERM, "/data/dir-out/new.txt"},
		{"/dev/null link", open(data, rdonly), "devnull", experimentalsys.EPERM, "/data/devnull"},
		{"/proc environ link", open(data, rdonly), "environ", experimentalsys.EPERM, "/data/environ"},
		{"/proc root link", open(data, rdonly), "procroot", experimentalsys.EPERM, "/data/procroot"},
		{"fifo", open(data, rdonly), "fifo", experimentalsys.EPERM, "/data/fifo"},
		{"fifo write", open(data, wronly), "fifo", experimentalsys.EPERM, "/data/fifo"},
		{"char device", open(data, rdwr), "chardev", experimentalsys.EPERM, "/data/chardev"},
		{"socket", open(data, rdonly), "sock", experimentalsys.EPERM, "/data/sock"},
		{"write hard link", open(data, wronly), "hardlink", experimentalsys.EPERM, "/data/hardlink"},
		{"truncate hard link", open(data, wronly|trunc), "hardlink", experimentalsys.EPERM, "/data/hardlink"},
		{"append hard link", open(data, wronly|appnd), "hardlink", experimentalsys.EPERM, "/data/hardlink"},
		{"link loop", open(data, rdonly), "loop1", experimentalsys.ELOOP, ""},
		{"guest symlink out", func(p string) experimentalsys.Errno { return data.Symlink("../../../../etc/hostname", p) }, "evil", experimentalsys.EPERM, "/data/evil"},
		{"guest symlink in", func(p string) experimentalsys.Errno { return data.Symlink("a.txt", p) }, "fine", experimentalsys.EPERM, "/data/fine"},
		{"guest hard link", func(p string) experimentalsys.Errno { return data.Link("a.txt", p) }, "hl2", experimentalsys.EPERM, "/data/hl2"},
		{"readlink out", func(p string) experimentalsys.Errno { _, errno := data.Readlink(p); return errno }, "abs-out", experimentalsys.EPERM, "/data/abs-out"},
		{"readlink rel out", func(p string) experimentalsys.Errno { _, errno := data.Readlink(p); return errno }, "sub/deep-out", experimentalsys.EPERM, "/data/sub/deep-out"},
		{"rename out", func(p string) experimentalsys.Errno { return data.Rename("a.txt", p) }, "../outside/a.txt", experimentalsys.EPERM, "/data/../outside/a.txt"},
		{"rename into dir link out", func(p string) experimentalsys.Errno { return data.Rename("a.txt", p) }, "dir-out/a.txt", experimentalsys.EPERM, "/data/a.txt -> /data/dir-out/a.txt"},
		// read-only mount
		{"ro write", open(ro, wronly), "r.txt", experimentalsys.EROFS, "/ro/r.txt"},
		{"ro create", open(ro, wronly|creat), "new", experimentalsys.EROFS, "/ro/new"},
		{"ro trunc", open(ro, rdonly|trunc), "r.txt", experimentalsys.EROFS, "/ro/r.txt"},
		{"ro append", open(ro, rdonly|appnd), "r.txt", experimentalsys.EROFS, "/ro/r.txt"},
		{"ro mkdir", func(p string) experimentalsys.Errno { return ro.Mkdir(p, 0o755) }, "d", experimentalsys.EROFS, "/ro/d"},
		{"ro unlink", ro.Unlink, "r.txt", experimentalsys.EROFS, "/ro/r.txt"},
		{"ro rmdir", ro.Rmdir, "x", experimentalsys.EROFS, "/ro/x"},
		{"ro rename", func(p string) experimentalsys.Errno { return ro.Rename(p, "z") }, "r.txt", experimentalsys.EROFS, "/ro/r.txt"},
		{"ro chmod", func(p string) experimentalsys.Errno { return ro.Chmod(p, 0o777) }, "r.txt", experimentalsys.EROFS, "/ro/r.txt"},
		{"ro utimens", func(p string) experimentalsys.Errno { return ro.Utimens(p, 0, 0) }, "r.txt", experimentalsys.EROFS, "/ro/r.txt"},
		{"ro symlink", func(p string) experimentalsys.Errno { return ro.Symlink("r.txt", p) }, "l", experimentalsys.EROFS, "/ro/l"},
		{"ro link", func(p string) experimentalsys.Errno { return ro.Link("r.txt", p) }, "l", experimentalsys.EROFS, "/ro/l"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.rec.denials())
			if got := tc.op(tc.path); got != tc.want {
				t.Fatalf("errno %v, want %v", got, tc.want)
			}
			ds := e.rec.denials()[before:]
			if tc.value == "" {
				return
			}
			if len(ds) != 1 || ds[0].Value != tc.value || ds[0].Skill != skillName || ds[0].Capability != policy.CapFS || ds[0].ID == "" {
				t.Fatalf("recorded %+v, want one denial of %s", ds, tc.value)
			}
		})
	}
	for _, p := range []string{"evil", "fine", "hl2"} {
		if _, err := os.Lstat(filepath.Join(e.data, p)); !os.IsNotExist(err) {
			t.Errorf("%s was created", p)
		}
	}
	if got := readHost(t, filepath.Join(e.outside, "victim.txt")); got != "victim" {
		t.Fatalf("hard-linked outside file changed: %q", got)
	}
	if got := readHost(t, filepath.Join(e.ro, "r.txt")); got != "read only" {
		t.Fatalf("read-only file changed: %q", got)
	}
	ents, _ := os.ReadDir(e.outside)
	if len(ents) != 2 {
		t.Fatalf("files appeared outside: %v", ents)
	}
	// the read-only mount still reads
	f, errno := ro.OpenFile("r.txt", rdonly, 0)
	if errno != 0 || !strings.HasPrefix(readAll(t, f), "read") {
		t.Fatalf("ro read: %v", errno)
	}
}

// Preopens shares one descriptor per host directory across instances and
// reopens it when the host path is replaced.
func TestPreopenRootCache(t *testing.T) {
	e := newEnv(t, Options{})
	first := e.preopens(t)["/data"].(*wasiFS).root
	if again := e.preopens(t)["/data"].(*wasiFS).root; again != first {
		t.Fatal("root not shared between instances")
	}
	if err := os.Rename(e.data, e.data+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.data, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(e.data, "a.txt"), "replaced dir")
	w := e.preopens(t)["/data"]
	if w.(*wasiFS).root == first {
		t.Fatal("stale root reused after the host directory was replaced")
	}
	f, errno := w.OpenFile("a.txt", rdonly, 0)
	if errno != 0 || readAll(t, f) != "replaced dir" {
		t.Fatalf("read through new root: %v", errno)
	}
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
}
