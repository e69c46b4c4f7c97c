package adversarial

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSymlinkSwapRace: while the guest reads /data/sw/secret.txt in a loop,
// a host goroutine atomically exchanges the directory /data/sw with a
// symlink to the directory outside the mount that holds the secret. No
// read may ever return the secret (through reef_fs, C WASI or Go WASI).
func TestSymlinkSwapRace(t *testing.T) {
	for _, how := range []string{"fs", "wasi", "go"} {
		t.Run(how, func(t *testing.T) {
			h := newHostDirs(t)
			sw := filepath.Join(h.data, "sw")
			must(t, os.Mkdir(sw, 0o755))
			writeFile(t, filepath.Join(sw, "secret.txt"), "inside")
			alt := filepath.Join(h.data, "alt")
			must(t, os.Symlink(h.outside, alt))

			guest := "hostile"
			if how == "go" {
				guest = "hostile_go"
			}
			pl := load(t, guest, "race-"+how, grantSpec{fs: h})
			stop := make(chan struct{})
			var swaps atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := unix.Renameat2(unix.AT_FDCWD, sw, unix.AT_FDCWD, alt, unix.RENAME_EXCHANGE); err != nil {
						t.Errorf("swap: %v", err)
						return
					}
					swaps.Add(1)
				}
			}()
			deadline := time.Now().Add(300 * time.Millisecond)
			var reads int
			for time.Now().Before(deadline) {
				var seen []string
				if how == "go" {
					r := runGo(t, pl, h, map[string]any{"op": "readloop", "path": "/data/sw/secret.txt", "n": 200})
					seen, reads = r.Seen, reads+r.Reads
				} else {
					out, err := call(t, pl, h, "read_loop", []byte(how+"\n200\n/data/sw/secret.txt"))
					if err != nil {
						t.Fatal(err)
					}
					head, rest, _ := strings.Cut(string(out), "\n")
					var ok int
					_, _ = fmtSscanf(head, &ok)
					reads += ok
					if rest != "" {
						seen = strings.Split(rest, "\n--\n")
					}
				}
				for _, s := range seen {
					if s != "inside" {
						t.Fatalf("read returned %q during the swap race", s)
					}
				}
			}
			close(stop)
			wg.Wait()
			if swaps.Load() < 100 || reads == 0 {
				t.Fatalf("race too weak: %d swaps, %d successful reads", swaps.Load(), reads)
			}
			t.Logf("%d swaps, %d successful reads, secret never seen", swaps.Load(), reads)
		})
	}
}
