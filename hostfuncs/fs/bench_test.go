package hostfs

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
)

// BenchmarkRead1MiB compares reading a 1 MiB file through reef_fs_read
// (JSON request, policy, os.Root resolution, checks) and through the WASI
// sys.FS with os.ReadFile on the host path.
func BenchmarkRead1MiB(b *testing.B) {
	e := newEnv(b, Options{})
	content := make([]byte, 1<<20)
	rand.Read(content)
	host := filepath.Join(e.data, "big.bin")
	if err := os.WriteFile(host, content, 0o644); err != nil {
		b.Fatal(err)
	}
	var read abi.Handler
	for _, f := range e.m.Funcs() {
		if f.Name == abi.FSRead {
			read = f.Handler
		}
	}
	c := abitest.New(context.Background(), skillName, e.pol)
	req := []byte(`{"path":"/data/big.bin"}`)

	b.Run("reef_fs_read", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(1 << 20)
		for b.Loop() {
			out, err := read(c, req, nil)
			if err != nil || len(out) != 1<<20 {
				b.Fatal(err, len(out))
			}
		}
	})
	b.Run("os.ReadFile", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(1 << 20)
		for b.Loop() {
			out, err := os.ReadFile(host)
			if err != nil || len(out) != 1<<20 {
				b.Fatal(err, len(out))
			}
		}
	})
	b.Run("wasi_sysfs", func(b *testing.B) {
		w, err := e.m.NewWASIFS(e.pol, e.pol.Mounts[0])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(1 << 20)
		buf := make([]byte, 1<<20)
		for b.Loop() {
			f, errno := w.OpenFile("big.bin", 0, 0)
			if errno != 0 {
				b.Fatal(errno)
			}
			total := 0
			for total < len(buf) {
				n, errno := f.Read(buf[total:])
				if errno != 0 || n == 0 {
					b.Fatal(errno, total)
				}
				total += n
			}
			f.Close()
		}
	})
}
