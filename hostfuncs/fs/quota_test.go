package hostfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/reefhq/reef/hostfuncs/abi"
)

func TestQuotaBytes(t *testing.T) {
	// a.txt (5 bytes) exists in /data already; the quota spans /data and
	// /other.
	e := newEnv(t, Options{QuotaBytes: 100})
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/x"}, make([]byte, 60))
	_, err := e.call(abi.FSWrite, writeRequest{Path: "/other/y"}, make([]byte, 40))
	if code(err) != abi.CodeLimit {
		t.Fatalf("over quota across mounts: %v", err)
	}
	var q *QuotaError
	if !errors.As(err, &q) && !strings.Contains(err.Error(), "quota") {
		t.Fatalf("error does not say quota: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.other, "y")); !os.IsNotExist(err) {
		t.Fatal("refused write created the file")
	}
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/other/y"}, make([]byte, 35))
	// overwriting counts the difference only
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/x"}, make([]byte, 60))
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/x"}, make([]byte, 10))
	e.mustCall(t, abi.FSAppend, pathRequest{Path: "/data/x"}, make([]byte, 50))
	if _, err := e.call(abi.FSAppend, pathRequest{Path: "/data/x"}, make([]byte, 1)); code(err) != abi.CodeLimit {
		t.Fatalf("append over quota: %v", err)
	}
	// removing frees space
	e.mustCall(t, abi.FSRemove, removeRequest{Path: "/data/x"}, nil)
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/z"}, make([]byte, 60))

	// WASI writes share the same quota: 5+35+60 = 100 used
	w := e.preopens(t)["/other"]
	f, errno := w.OpenFile("w", wronly|creat, 0o644)
	if errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := f.Write([]byte("x")); errno != experimentalsys.EIO {
		t.Fatalf("WASI write over quota: %v", errno)
	}
	if errno := f.Truncate(10); errno != experimentalsys.EIO {
		t.Fatalf("WASI truncate over quota: %v", errno)
	}
	if _, errno := f.Pwrite([]byte("x"), 1000); errno != experimentalsys.EIO {
		t.Fatalf("WASI pwrite over quota: %v", errno)
	}
	f.Close()
	if errno := w.Unlink("y"); errno != 0 {
		t.Fatal(errno)
	}
	f, _ = w.OpenFile("w", wronly, 0)
	if n, errno := f.Write(make([]byte, 35)); errno != 0 || n != 35 {
		t.Fatalf("WASI write after unlink: %d %v", n, errno)
	}
	// rewriting existing bytes does not grow
	if n, errno := f.Pwrite(make([]byte, 35), 0); errno != 0 || n != 35 {
		t.Fatalf("WASI overwrite: %d %v", n, errno)
	}
	if _, errno := f.Write([]byte("x")); errno != experimentalsys.EIO {
		t.Fatalf("WASI write over quota again: %v", errno)
	}
	f.Close()
}

func TestQuotaFiles(t *testing.T) {
	e := newEnv(t, Options{QuotaFiles: 4}) // a.txt counts as one
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/1"}, nil)
	e.mustCall(t, abi.FSMkdir, mkdirRequest{Path: "/other/d"}, nil)
	if _, err := e.call(abi.FSWrite, writeRequest{Path: "/data/p/q/2", CreateDirs: true}, nil); code(err) != abi.CodeLimit {
		t.Fatalf("create_dirs over files quota: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.data, "p")); !os.IsNotExist(err) {
		t.Fatal("refused create_dirs made directories")
	}
	e.mustCall(t, abi.FSAppend, pathRequest{Path: "/other/d/2"}, []byte("x"))
	for _, tc := range []struct {
		fn  string
		req any
	}{
		{abi.FSWrite, writeRequest{Path: "/data/3"}},
		{abi.FSAppend, pathRequest{Path: "/data/3"}},
		{abi.FSMkdir, mkdirRequest{Path: "/data/3"}},
		{abi.FSMkdir, mkdirRequest{Path: "/data/3/4", Parents: true}},
	} {
		if _, err := e.call(tc.fn, tc.req, nil); code(err) != abi.CodeLimit {
			t.Fatalf("%s over files quota: %v", tc.fn, err)
		}
	}
	w := e.preopens(t)["/data"]
	if _, errno := w.OpenFile("3", wronly|creat, 0o644); errno != experimentalsys.EIO {
		t.Fatalf("WASI create over files quota: %v", errno)
	}
	if errno := w.Mkdir("3", 0o755); errno != experimentalsys.EIO {
		t.Fatalf("WASI mkdir over files quota: %v", errno)
	}
	// existing files still open for writing
	f, errno := w.OpenFile("1", wronly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	f.Close()
	// recursive remove frees the directory and what it held
	e.mustCall(t, abi.FSRemove, removeRequest{Path: "/other/d", Recursive: true}, nil)
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/3"}, nil)
	e.mustCall(t, abi.FSMkdir, mkdirRequest{Path: "/data/4"}, nil)
}

func TestMaxFileBytes(t *testing.T) {
	e := newEnv(t, Options{MaxFileBytes: 10})
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/f"}, make([]byte, 10))
	if _, err := e.call(abi.FSWrite, writeRequest{Path: "/data/g"}, make([]byte, 11)); code(err) != abi.CodeLimit {
		t.Fatalf("write over file size: %v", err)
	}
	if _, err := e.call(abi.FSAppend, pathRequest{Path: "/data/a.txt"}, make([]byte, 6)); code(err) != abi.CodeLimit {
		t.Fatalf("append over file size: %v", err)
	}
	e.mustCall(t, abi.FSAppend, pathRequest{Path: "/data/a.txt"}, make([]byte, 5))
	w := e.preopens(t)["/data"]
	f, errno := w.OpenFile("h", wronly|creat, 0o644)
	if errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := f.Write(make([]byte, 10)); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := f.Write([]byte("x")); errno != experimentalsys.EIO {
		t.Fatalf("WASI write over file size: %v", errno)
	}
	if _, errno := f.Pwrite([]byte("x"), 10); errno != experimentalsys.EIO {
		t.Fatalf("WASI pwrite over file size: %v", errno)
	}
	if errno := f.Truncate(11); errno != experimentalsys.EIO {
		t.Fatalf("WASI truncate over file size: %v", errno)
	}
	f.Close()
	if fi, _ := os.Stat(filepath.Join(e.data, "h")); fi.Size() != 10 {
		t.Fatalf("size %d", fi.Size())
	}
}

// Files removed on the host behind reef's back are noticed before a write
// is refused.
func TestQuotaRescan(t *testing.T) {
	e := newEnv(t, Options{QuotaBytes: 50})
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/x"}, make([]byte, 40))
	if _, err := e.call(abi.FSWrite, writeRequest{Path: "/data/y"}, make([]byte, 40)); code(err) != abi.CodeLimit {
		t.Fatalf("over quota: %v", err)
	}
	if err := os.Remove(filepath.Join(e.data, "x")); err != nil {
		t.Fatal(err)
	}
	u := e.m.usageFor(e.pol)
	u.mu.Lock()
	u.scannedAt = time.Now().Add(-time.Hour)
	u.mu.Unlock()
	e.mustCall(t, abi.FSWrite, writeRequest{Path: "/data/y"}, make([]byte, 40))
}
