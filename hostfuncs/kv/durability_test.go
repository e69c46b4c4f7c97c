package hostkv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/reefhq/reef/hostfuncs/abi/abitest"
)

// Environment of the helper subprocess (TestHelperWriter).
const (
	envHelper = "REEF_KV_TEST_HELPER" // "writer" or "lock"
	envPath   = "REEF_KV_TEST_PATH"
	envStart  = "REEF_KV_TEST_START"
)

const (
	writerSkill = "writer"
	overwrites  = 16 // keys o/00..o/15 are overwritten in turn
)

// genValue is the value written for key at version ver: a header naming
// both, then pseudo-random bytes derived from them, 100 B to ~12 KiB so
// some writes span several pages. checkValue can tell any stored value is
// whole and which version it is.
func genValue(key string, ver int) []byte {
	h := fnv.New64a()
	_, _ = io.WriteString(h, key)
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(ver)))
	size := 100 + r.IntN(12000)
	out := fmt.Appendf(make([]byte, 0, size+32), "%s#%d#", key, ver)
	for len(out) < size {
		out = append(out, byte(r.Uint32()))
	}
	return out
}

// versionOf parses and verifies a stored value.
func versionOf(key string, v []byte) (int, error) {
	rest, ok := bytes.CutPrefix(v, []byte(key+"#"))
	if !ok {
		return 0, fmt.Errorf("key %s: value has a foreign header: %.40q", key, v)
	}
	i := bytes.IndexByte(rest, '#')
	if i < 0 {
		return 0, fmt.Errorf("key %s: value header cut: %.40q", key, v)
	}
	ver, err := strconv.Atoi(string(rest[:i]))
	if err != nil {
		return 0, fmt.Errorf("key %s: bad version in %.40q", key, v)
	}
	if !bytes.Equal(v, genValue(key, ver)) {
		return 0, fmt.Errorf("key %s: version %d is partial or corrupt (%d bytes, want %d)", key, ver, len(v), len(genValue(key, ver)))
	}
	return ver, nil
}

func uniqueKey(i int) string    { return fmt.Sprintf("u/%07d", i) }
func overwriteKey(i int) string { return fmt.Sprintf("o/%02d", i%overwrites) }

// TestHelperWriter is not a test: it is the body of the subprocess that
// TestKill9 and TestLockedByOtherProcess start. Run normally it returns at
// once.
func TestHelperWriter(t *testing.T) {
	switch os.Getenv(envHelper) {
	case "writer":
		helperWriter()
	case "lock":
		m, err := Open(Options{Path: os.Getenv(envPath), LockTimeout: 200 * time.Millisecond})
		switch {
		case errors.Is(err, ErrLocked):
			fmt.Printf("locked: %v\n", err)
		case err != nil:
			fmt.Printf("error: %v\n", err)
		default:
			_ = m.Close()
			fmt.Println("opened")
		}
		os.Exit(0)
	}
}

// helperWriter writes through the set handler in a loop, printing
// "ok N" after iteration N's writes have returned (so are committed), until
// it is killed. It exits by itself after 60 s in case the parent died.
func helperWriter() {
	fail := func(err error) {
		fmt.Printf("error: %v\n", err)
		os.Exit(2)
	}
	start, err := strconv.Atoi(os.Getenv(envStart))
	if err != nil {
		fail(err)
	}
	m, err := Open(Options{Path: os.Getenv(envPath), MaxValueBytes: 1 << 20})
	if err != nil {
		fail(err)
	}
	p, err := computePolicy(writerSkill, 1<<30, 1<<30, nil)
	if err != nil {
		fail(err)
	}
	c := abitest.New(context.Background(), writerSkill, p)
	deadline := time.Now().Add(60 * time.Second)
	for i := start; time.Now().Before(deadline); i++ {
		for _, k := range []string{uniqueKey(i), overwriteKey(i)} {
			if _, err := m.set(c, []byte(`{"key":"`+k+`"}`), genValue(k, i)); err != nil {
				fail(err)
			}
		}
		if i%7 == 3 { // deletes too: u/(i-3) goes, then comes back below
			if _, err := m.del(c, []byte(`{"key":"`+uniqueKey(i-3)+`"}`), nil); err != nil {
				fail(err)
			}
			k := uniqueKey(i - 3)
			if _, err := m.set(c, []byte(`{"key":"`+k+`"}`), genValue(k, i-3)); err != nil {
				fail(err)
			}
		}
		// os.Stdout is unbuffered: the parent sees the line as soon as
		// the write returns.
		fmt.Printf("ok %d\n", i)
	}
	os.Exit(0)
}

func helperCmd(t *testing.T, mode, path string, start int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envPath+"="+path, envStart+"="+strconv.Itoa(start))
	cmd.Stderr = os.Stderr
	return cmd
}

// TestKill9 kills a writing process with SIGKILL mid-write, several times,
// and checks after each kill that the file opens cleanly, passes bbolt's
// consistency check, holds every write the writer reported as committed,
// holds no partial value, and that the quota metadata matches the data.
func TestKill9(t *testing.T) {
	t.Parallel() // mostly waiting on the child's fsyncs
	path := filepath.Join(t.TempDir(), "kv.db")
	committed := -1 // highest iteration reported as committed
	lastOverwrite := map[string]int{}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3 {
		start := committed + 1
		cmd := helperCmd(t, "writer", path, start)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := start + 10 + rng.IntN(30)
		sc := bufio.NewScanner(stdout)
		killed := false
		for sc.Scan() {
			line := sc.Text()
			n, ok := strings.CutPrefix(line, "ok ")
			if !ok {
				_ = cmd.Process.Kill()
				t.Fatalf("round %d: child said %q", round, line)
			}
			i, err := strconv.Atoi(n)
			if err != nil || i != committed+1 {
				_ = cmd.Process.Kill()
				t.Fatalf("round %d: child reported %q after %d", round, line, committed)
			}
			committed = i
			lastOverwrite[overwriteKey(i)] = i
			if i >= killAfter {
				// The child is already in its next iteration's writes.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		err = cmd.Wait()
		var exit *exec.ExitError
		if !killed || !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child was not killed by SIGKILL: killed=%v wait=%v", round, killed, err)
		}
		verifyAfterCrash(t, path, committed, lastOverwrite)
		t.Logf("round %d: killed after iteration %d", round, committed)
	}
}

func verifyAfterCrash(t *testing.T, path string, committed int, lastOverwrite map[string]int) {
	t.Helper()
	m, err := Open(Options{Path: path, LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer m.Close()
	err = m.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("bbolt consistency check: %w", err)
		}
		n, ok, err := openNS(tx, writerSkill, false)
		if err != nil || !ok {
			return fmt.Errorf("namespace missing: %v", err)
		}
		for i := 0; i <= committed; i++ {
			k := uniqueKey(i)
			v, ok := lookup(n.data, []byte(k))
			if !ok {
				return fmt.Errorf("committed key %s is missing", k)
			}
			if ver, err := versionOf(k, v); err != nil || ver != i {
				return fmt.Errorf("committed key %s: version %d, %v", k, ver, err)
			}
		}
		// The in-flight iteration may or may not have landed; nothing
		// beyond it may exist.
		return n.data.ForEach(func(k, v []byte) error {
			key := string(k)
			ver, err := versionOf(key, v)
			if err != nil {
				return err
			}
			switch {
			case strings.HasPrefix(key, "u/"):
				if ver > committed+1 {
					return fmt.Errorf("%s has version %d, beyond the in-flight %d", key, ver, committed+1)
				}
			case strings.HasPrefix(key, "o/"):
				if ver < lastOverwrite[key] || ver > committed+1 {
					return fmt.Errorf("%s has version %d, want between %d and %d", key, ver, lastOverwrite[key], committed+1)
				}
			default:
				return fmt.Errorf("unexpected key %q", key)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	recount(t, m, writerSkill)
}

// TestRestart checks that values, deletes and the quota metadata survive a
// clean close and reopen.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kv.db")
	m, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	c := call(t, "demo", 100)
	runSteps(t, m, c, []step{
		ok("reef_kv_set", `{"key":"a"}`, "alpha", `{}`),
		ok("reef_kv_set", `{"key":"b"}`, "beta", `{}`),
		ok("reef_kv_delete", `{"key":"b"}`, "", `{"deleted":true}`),
	})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("file mode %v, want 0600", perm)
	}
	m = openTest(t, Options{Path: path})
	runSteps(t, m, c, []step{
		ok("reef_kv_get", `{"key":"a"}`, "", "alpha"),
		fail("reef_kv_get", `{"key":"b"}`, "", "not_found"),
		// The usage survived: 6 bytes used, 94 free.
		fail("reef_kv_set", `{"key":"c"}`, strings.Repeat("x", 94), "limit"),
		ok("reef_kv_set", `{"key":"c"}`, strings.Repeat("x", 93), `{}`),
	})
	recount(t, m, "demo")
}

// TestLockedByOtherProcess: while this process holds the file, another
// process gets ErrLocked after its lock timeout instead of hanging.
func TestLockedByOtherProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kv.db")
	m := openTest(t, Options{Path: path})
	out, err := helperCmd(t, "lock", path, 0).Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if !strings.HasPrefix(string(out), "locked: ") || !strings.Contains(string(out), path) {
		t.Fatalf("second process: %q, want a locked error naming the file", out)
	}
	// Once closed, the other process can open it.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	out, err = helperCmd(t, "lock", path, 0).Output()
	if err != nil || string(out) != "opened\n" {
		t.Fatalf("after close: %q, %v", out, err)
	}
}

func TestUnsupportedFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(reservedBucket)
		if err != nil {
			return err
		}
		return b.Put(formatKey, []byte("99"))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if m, err := Open(Options{Path: path}); err == nil || !strings.Contains(err.Error(), "format") {
		if m != nil {
			_ = m.Close()
		}
		t.Fatalf("Open of a format-99 file: %v", err)
	}
}
