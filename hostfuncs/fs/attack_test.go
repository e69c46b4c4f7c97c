package hostfs

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// plantHostile fills the mounts with what an attacker (or a careless
// operator) could leave there: links out, special files, hard links.
func (e *env) plantHostile(t testing.TB) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("../outside/secret.txt", filepath.Join(e.data, "rel-out")))
	must(os.Symlink(filepath.Join(e.outside, "secret.txt"), filepath.Join(e.data, "abs-out")))
	must(os.Symlink("../outside", filepath.Join(e.data, "dir-out")))
	must(os.Symlink("sub/../../outside/secret.txt", filepath.Join(e.data, "dotdot-out")))
	must(os.Symlink("/dev/null", filepath.Join(e.data, "devnull")))
	must(os.Symlink("/proc/self/environ", filepath.Join(e.data, "environ")))
	must(os.Symlink("/proc/self/root/etc/passwd", filepath.Join(e.data, "procroot")))
	must(os.Symlink("loop2", filepath.Join(e.data, "loop1")))
	must(os.Symlink("loop1", filepath.Join(e.data, "loop2")))
	must(os.Symlink("a.txt", filepath.Join(e.data, "in-link")))
	must(os.Mkdir(filepath.Join(e.data, "sub"), 0o755))
	must(os.Symlink("../../outside/secret.txt", filepath.Join(e.data, "sub", "deep-out")))
	must(syscall.Mkfifo(filepath.Join(e.data, "fifo"), 0o644))
	// A character device equal to /dev/null (1,3); reef runs tests as
	// root on this machine, so mknod works.
	must(syscall.Mknod(filepath.Join(e.data, "chardev"), syscall.S_IFCHR|0o644, int(unix.Mkdev(1, 3))))
	l, err := net.Listen("unix", filepath.Join(e.data, "sock"))
	must(err)
	t.Cleanup(func() { l.Close() })
	// A hard link to a file outside the mount.
	mustWrite(t, filepath.Join(e.outside, "victim.txt"), "victim")
	must(os.Link(filepath.Join(e.outside, "victim.txt"), filepath.Join(e.data, "hardlink")))
}

func TestHandlerAttacks(t *testing.T) {
	e := newEnv(t, Options{})
	e.plantHostile(t)
	tests := []struct {
		name string
		fn   string
		req  any
		data []byte
		// denied: value the denial must name; else code wanted
		denied string
		reason string
		code   string
	}{
		// traversal
		{name: "dotdot out of mount", fn: abi.FSRead, req: readRequest{Path: "/data/../outside/secret.txt"}, denied: "/data/../outside/secret.txt", reason: "outside every granted mount"},
		{name: "dotdot to etc", fn: abi.FSRead, req: readRequest{Path: "/data/../../etc/passwd"}, denied: "/data/../../etc/passwd"},
		{name: "deep dotdot", fn: abi.FSRead, req: readRequest{Path: "/data/sub/../../../../../../etc/shadow"}, denied: "/data/sub/../../../../../../etc/shadow"},
		{name: "double slash", fn: abi.FSRead, req: readRequest{Path: "//data/..//outside/secret.txt"}, denied: "//data/..//outside/secret.txt"},
		{name: "absolute host path", fn: abi.FSRead, req: readRequest{Path: "/etc/passwd"}, denied: "/etc/passwd"},
		{name: "host path of the secret", fn: abi.FSRead, req: readRequest{Path: filepath.Join("/", "tmp", "..", filepath.Base(e.outside), "secret.txt")}, denied: filepath.Join("/", "tmp", "..", filepath.Base(e.outside), "secret.txt")},
		{name: "host path of the mount", fn: abi.FSRead, req: readRequest{Path: filepath.Join(e.data, "a.txt")}, denied: filepath.Join(e.data, "a.txt")},
		{name: "root", fn: abi.FSList, req: pathRequest{Path: "/"}, denied: "/"},
		{name: "prefix trick", fn: abi.FSRead, req: readRequest{Path: "/database/x"}, denied: "/database/x"},
		{name: "url-encoded dotdot is a name", fn: abi.FSRead, req: readRequest{Path: "/data/%2e%2e/%2e%2e/outside/secret.txt"}, code: abi.CodeNotFound},
		{name: "encoded slash is a name", fn: abi.FSRead, req: readRequest{Path: "/data/..%2f..%2foutside%2fsecret.txt"}, code: abi.CodeNotFound},
		{name: "backslashes are names", fn: abi.FSRead, req: readRequest{Path: `/data/..\..\outside\secret.txt`}, code: abi.CodeNotFound},
		{name: "overlong utf8 dot", fn: abi.FSRead, req: readRequest{Path: "/data/\xc0\xae\xc0\xae/outside/secret.txt"}, code: abi.CodeNotFound},
		{name: "NUL byte", fn: abi.FSRead, req: readRequest{Path: "/data/a.txt\x00/../../outside/secret.txt"}, code: abi.CodeInvalid},
		{name: "relative", fn: abi.FSRead, req: readRequest{Path: "../outside/secret.txt"}, code: abi.CodeInvalid},
		{name: "too long", fn: abi.FSRead, req: readRequest{Path: "/data/" + strings.Repeat("a/", 3000)}, code: abi.CodeInvalid},
		// symbolic links
		{name: "relative link out", fn: abi.FSRead, req: readRequest{Path: "/data/rel-out"}, denied: "/data/rel-out", reason: "escapes"},
		{name: "absolute link out", fn: abi.FSRead, req: readRequest{Path: "/data/abs-out"}, denied: "/data/abs-out", reason: "escapes"},
		{name: "dir link out", fn: abi.FSRead, req: readRequest{Path: "/data/dir-out/secret.txt"}, denied: "/data/dir-out/secret.txt", reason: "escapes"},
		{name: "dotdot inside link", fn: abi.FSRead, req: readRequest{Path: "/data/dotdot-out"}, denied: "/data/dotdot-out", reason: "escapes"},
		{name: "nested link out", fn: abi.FSRead, req: readRequest{Path: "/data/sub/deep-out"}, denied: "/data/sub/deep-out", reason: "escapes"},
		{name: "stat link out", fn: abi.FSStat, req: pathRequest{Path: "/data/rel-out"}, denied: "/data/rel-out"},
		{name: "list dir link out", fn: abi.FSList, req: pathRequest{Path: "/data/dir-out"}, denied: "/data/dir-out"},
		{name: "append through link out", fn: abi.FSAppend, req: pathRequest{Path: "/data/rel-out"}, data: []byte("x"), denied: "/data/rel-out"},
		{name: "write into dir link out", fn: abi.FSWrite, req: writeRequest{Path: "/data/dir-out/new.txt"}, data: []byte("x"), denied: "/data/dir-out/new.txt"},
		{name: "mkdir in dir link out", fn: abi.FSMkdir, req: mkdirRequest{Path: "/data/dir-out/d", Parents: true}, denied: "/data/dir-out/d"},
		{name: "glob through dir link out", fn: abi.FSGlob, req: globRequest{Pattern: "/data/dir-out/*"}, denied: "/data/dir-out/*"},
		{name: "link loop", fn: abi.FSRead, req: readRequest{Path: "/data/loop1"}, code: abi.CodeInvalid},
		{name: "in-mount link works", fn: abi.FSRead, req: readRequest{Path: "/data/in-link"}, code: ""},
		// devices, fifos, sockets, /proc
		{name: "/dev/null link", fn: abi.FSRead, req: readRequest{Path: "/data/devnull"}, denied: "/data/devnull"},
		{name: "/proc environ link", fn: abi.FSRead, req: readRequest{Path: "/data/environ"}, denied: "/data/environ"},
		{name: "/proc root link", fn: abi.FSRead, req: readRequest{Path: "/data/procroot"}, denied: "/data/procroot"},
		{name: "fifo", fn: abi.FSRead, req: readRequest{Path: "/data/fifo"}, denied: "/data/fifo", reason: "FIFO"},
		{name: "fifo append", fn: abi.FSAppend, req: pathRequest{Path: "/data/fifo"}, data: []byte("x"), denied: "/data/fifo"},
		{name: "char device", fn: abi.FSRead, req: readRequest{Path: "/data/chardev"}, denied: "/data/chardev", reason: "device"},
		{name: "char device append", fn: abi.FSAppend, req: pathRequest{Path: "/data/chardev"}, data: []byte("x"), denied: "/data/chardev"},
		{name: "socket", fn: abi.FSRead, req: readRequest{Path: "/data/sock"}, denied: "/data/sock"},
		// hard links
		{name: "append through hard link", fn: abi.FSAppend, req: pathRequest{Path: "/data/hardlink"}, data: []byte("pwned"), denied: "/data/hardlink", reason: "hard links"},
		// read-only mount
		{name: "ro write", fn: abi.FSWrite, req: writeRequest{Path: "/ro/r.txt"}, data: []byte("x"), denied: "/ro/r.txt", reason: "read-only"},
		{name: "ro new file", fn: abi.FSWrite, req: writeRequest{Path: "/ro/new.txt"}, data: []byte("x"), denied: "/ro/new.txt", reason: "read-only"},
		{name: "ro append", fn: abi.FSAppend, req: pathRequest{Path: "/ro/r.txt"}, data: []byte("x"), denied: "/ro/r.txt"},
		{name: "ro mkdir", fn: abi.FSMkdir, req: mkdirRequest{Path: "/ro/d"}, denied: "/ro/d"},
		{name: "ro remove", fn: abi.FSRemove, req: removeRequest{Path: "/ro/r.txt"}, denied: "/ro/r.txt"},
		{name: "ro rename from", fn: abi.FSRename, req: renameRequest{From: "/ro/r.txt", To: "/data/r.txt"}, denied: "/ro/r.txt"},
		{name: "ro rename to", fn: abi.FSRename, req: renameRequest{From: "/data/a.txt", To: "/ro/a.txt"}, denied: "/ro/a.txt"},
		// across mounts
		{name: "rename across mounts", fn: abi.FSRename, req: renameRequest{From: "/data/a.txt", To: "/other/a.txt"}, denied: "/data/a.txt -> /other/a.txt", reason: "across mounts"},
		{name: "rename out by dotdot", fn: abi.FSRename, req: renameRequest{From: "/data/a.txt", To: "/data/../outside/a.txt"}, denied: "/data/../outside/a.txt"},
		{name: "rename into dir link out", fn: abi.FSRename, req: renameRequest{From: "/data/a.txt", To: "/data/dir-out/a.txt"}, denied: "/data/a.txt -> /data/dir-out/a.txt"},
		{name: "remove mount root by dotdot", fn: abi.FSRemove, req: removeRequest{Path: "/data/..", Recursive: true}, denied: "/data/.."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var out []byte
			var err error
			go func() {
				defer close(done)
				out, err = e.call(tc.fn, tc.req, tc.data)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("call blocked (FIFO opened?)")
			}
			e.wantNoSecret(t, out)
			if tc.denied != "" {
				e.wantDenied(t, err, tc.denied, tc.reason)
				return
			}
			if code(err) != tc.code {
				t.Fatalf("code %q (%v), want %q", code(err), err, tc.code)
			}
		})
	}
	// nothing outside changed; the read-only mount is intact
	if got := readHost(t, filepath.Join(e.outside, "victim.txt")); got != "victim" {
		t.Fatalf("outside file changed through a hard link: %q", got)
	}
	if got := readHost(t, filepath.Join(e.ro, "r.txt")); got != "read only" {
		t.Fatalf("read-only file changed: %q", got)
	}
	ents, _ := os.ReadDir(e.outside)
	if len(ents) != 2 {
		t.Fatalf("files appeared outside: %v", ents)
	}
	// error messages never show host paths
	for _, tc := range tests {
		_, err := e.call(tc.fn, tc.req, tc.data)
		if err != nil && !strings.Contains(tc.name, "host path") && strings.Contains(abi.ToDocument("fs", err).Message, e.base) {
			t.Errorf("%s: message shows a host path: %s", tc.name, abi.ToDocument("fs", err).Message)
		}
	}
}

// reef_fs_write replaces the directory entry: a hard link or a symbolic
// link at the target is replaced, never written through.
func TestWriteReplacesLinks(t *testing.T) {
	e := newEnv(t, Options{})
	e.plantHostile(t)
	for _, p := range []string{"/data/hardlink", "/data/rel-out", "/data/abs-out", "/data/devnull"} {
		e.mustCall(t, abi.FSWrite, writeRequest{Path: p}, []byte("replaced"))
		if got := readHost(t, filepath.Join(e.data, filepath.Base(p))); got != "replaced" {
			t.Fatalf("%s: %q", p, got)
		}
	}
	if got := readHost(t, filepath.Join(e.outside, "victim.txt")); got != "victim" {
		t.Fatalf("hard-linked outside file changed: %q", got)
	}
	if got := readHost(t, filepath.Join(e.outside, "secret.txt")); got != e.secret {
		t.Fatalf("outside file changed through a symlink: %q", got)
	}
}

// A mount whose host directory is on procfs is refused outright.
func TestProcMountRefused(t *testing.T) {
	rec := &recorder{}
	s := &skill.Skill{Name: skillName, Manifest: skill.Manifest{Capabilities: skill.Capabilities{FS: map[string]skill.Access{"/proc": skill.ReadOnly, "/sys": skill.ReadOnly}}}}
	p, err := policy.Compute(s, &policy.Grant{FS: map[string]string{"/proc": "/proc/self:ro", "/sys": "/sys:ro"}}, rec)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{})
	c := abitest.New(context.Background(), skillName, p)
	for _, path := range []string{"/proc/environ", "/proc/cmdline", "/sys/kernel/hostname"} {
		out, err := m.read(c, []byte(`{"path":"`+path+`"}`), nil)
		if err == nil || code(err) != abi.CodeDenied {
			t.Fatalf("%s: %q %v", path, out, err)
		}
	}
	if len(rec.denials()) != 3 {
		t.Fatalf("denials recorded: %+v", rec.denials())
	}
	if _, err := m.Preopens(p); err == nil {
		t.Fatal("Preopens accepted a procfs mount")
	}
}

// swapLoop atomically exchanges dir (a real directory holding an innocent
// secret.txt) with link (a symlink to the outside directory) until stop.
func swapLoop(t *testing.T, a, b string, stop <-chan struct{}, swaps *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
			t.Errorf("renameat2: %v", err)
			return
		}
		swaps.Add(1)
	}
}

// TestSymlinkSwapRace swaps a directory for a symlink pointing out while
// reads loop through it: no read may ever return the outside content.
func TestSymlinkSwapRace(t *testing.T) {
	e := newEnv(t, Options{})
	swap := filepath.Join(e.data, "swap")
	if err := os.Mkdir(swap, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(swap, "secret.txt"), "inside")
	if err := os.Symlink("../outside", filepath.Join(e.data, "swap.alt")); err != nil {
		t.Fatal(err)
	}
	w, err := e.m.NewWASIFS(e.pol, e.pol.Mounts[0])
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() { swapLoop(t, swap, filepath.Join(e.data, "swap.alt"), stop, &swaps) })
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer halt()
	var inside, denied int
	deadline := time.Now().Add(700 * time.Millisecond)
	for i := 0; time.Now().Before(deadline) || i < 200; i++ {
		out, err := e.call(abi.FSRead, readRequest{Path: "/data/swap/secret.txt"}, nil)
		e.wantNoSecret(t, out)
		switch {
		case err == nil && string(out) == "inside":
			inside++
		case code(err) == abi.CodeDenied || code(err) == abi.CodeNotFound || code(err) == abi.CodeInvalid:
			// refused, or caught mid-swap ("not a directory")
			denied++
		default:
			t.Fatalf("read: %q %v", out, err)
		}
		// the same through WASI
		f, errno := w.OpenFile("swap/secret.txt", 0, 0)
		if errno == 0 {
			buf := make([]byte, 64)
			n, _ := f.Read(buf)
			e.wantNoSecret(t, buf[:n])
			f.Close()
		}
		// and listing / stat never describe the outside directory
		if out, err := e.call(abi.FSList, pathRequest{Path: "/data/swap"}, nil); err == nil && strings.Contains(string(out), `"size":`+strconv.Itoa(len(e.secret))) {
			t.Fatalf("list described the outside file: %s", out)
		}
	}
	halt()
	if swaps.Load() < 10 {
		t.Fatalf("only %d swaps happened", swaps.Load())
	}
	t.Logf("%d swaps; reads: %d inside, %d refused", swaps.Load(), inside, denied)
}
