package hostfs

import (
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// FuzzResolve checks the path resolver of both layers: whatever the guest
// path, a resolved path stays inside its mount, and neither a handler read
// nor a WASI open through the hostile tree ever returns the outside secret.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"/data/a.txt", "/data/../outside/secret.txt", "/data/rel-out", "/data/dir-out/secret.txt",
		"/data/%2e%2e/outside/secret.txt", "/data/a.txt\x00", "//data//a.txt", "/data/./sub/../a.txt",
		"/", "", "data", "/data/sub/deep-out", "/data/in-link", "/ro/r.txt", "/data/dotdot-out",
		"/data/" + strings.Repeat("../", 20) + "etc/passwd", "/data/fifo", "/data/chardev", "/data/environ",
		"../outside/secret.txt", "dir-out/../dir-out/secret.txt", "sub/../../outside", "a.txt/", "/data/..",
	} {
		f.Add(s)
	}
	e := newEnv(f, Options{})
	e.plantHostile(f)
	// decisions are not kept: fuzzing makes millions
	e.pol = e.pol.WithRecorder(policy.RecorderFunc(func(policy.Decision) {}))
	w, err := e.m.NewWASIFS(e.pol, e.pol.Mounts[0])
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if tg, err := resolve(e.pol, "path", p, false); err == nil {
			if tg.rel != "." && (!filepath.IsLocal(tg.rel) || slices.Contains(strings.Split(tg.rel, "/"), "..")) {
				t.Fatalf("%q resolved to non-local %q", p, tg.rel)
			}
			host := filepath.Join(tg.mount.Host, tg.rel)
			if host != tg.mount.Host && !strings.HasPrefix(host, tg.mount.Host+"/") {
				t.Fatalf("%q resolved to %q outside %q", p, host, tg.mount.Host)
			}
			if tg.guest != path.Clean(tg.guest) || (tg.guest != tg.mount.Guest && !strings.HasPrefix(tg.guest, tg.mount.Guest+"/")) {
				t.Fatalf("%q: guest %q not in mount %q", p, tg.guest, tg.mount.Guest)
			}
		}
		out, _ := e.call(abi.FSRead, readRequest{Path: p}, nil)
		e.wantNoSecret(t, out)
		if r, ok := checkRel(p); ok {
			if c := strings.TrimSuffix(r, "/"); c != "." && !fs.ValidPath(c) {
				t.Fatalf("checkRel(%q) = %q is not local", p, r)
			}
		}
		if file, errno := w.OpenFile(p, 0, 0); errno == 0 {
			buf := make([]byte, 128)
			n, _ := file.Read(buf)
			file.Close()
			e.wantNoSecret(t, buf[:n])
		}
	})
}
