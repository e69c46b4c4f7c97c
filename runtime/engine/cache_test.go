package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	for i, name := range []string{"a", "b", "c", "d"} {
		p := filepath.Join(dir, "v1", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := old.Add(time.Duration(i) * time.Minute)
		if name == "d" {
			mt = time.Now() // being written by another process: kept
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	n, err := pruneCache(dir, 2000)
	if err != nil || n != 2 {
		t.Fatalf("removed %d, %v", n, err)
	}
	for name, want := range map[string]bool{"a": false, "b": false, "c": true, "d": true} {
		_, err := os.Stat(filepath.Join(dir, "v1", name))
		if (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", name, err == nil, want)
		}
	}
	if n, _ := pruneCache(dir, 0); n != 0 {
		t.Fatal("limit 0 must not prune")
	}
}
