package skill

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeDigestBundle(t *testing.T, dir string, wasm []byte) string {
	t.Helper()
	b := filepath.Join(dir, "dg")
	if err := os.MkdirAll(b, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"SKILL.md":  []byte("---\nname: dg\ndescription: Digest cache test.\n---\n# dg\n"),
		"reef.yaml": []byte("wasm: m.wasm\nfunctions:\n  - name: run\n"),
		"m.wasm":    wasm,
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(b, n), c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestDigestCache: a cached digest is used only while the module file
// keeps its identity; a rewrite (even with the old size and mtime put
// back), a replacement by rename, or a file too recent to trust is hashed
// again.
func TestDigestCache(t *testing.T) {
	if _, ok := identityOf(mustStat(t, t.TempDir())); !ok {
		t.Skip("no file identity on this platform: nothing is cached")
	}
	defer func(f func() time.Time) { digestNow = f }(digestNow)
	dir := t.TempDir()
	v1 := []byte("\x00asm\x01\x00\x00\x00version-1")
	b := writeDigestBundle(t, dir, v1)
	mod := filepath.Join(b, "m.wasm")
	cacheFile := filepath.Join(dir, "cache", "digests.json")
	load := func(c *DigestCache) string {
		t.Helper()
		s, err := LoadWith(b, LoadOptions{NoWasm: true, Digests: c})
		if err != nil {
			t.Fatal(err)
		}
		return s.Digest
	}

	// Just written: racily clean, not stored.
	digestNow = time.Now
	c := OpenDigestCache(cacheFile)
	if d := load(c); d != sumOf(v1) || len(c.entries) != 0 {
		t.Fatalf("fresh file: digest %s, %d entries (want none stored)", d, len(c.entries))
	}
	// Old enough: stored, saved, and used from a reopened cache.
	digestNow = func() time.Time { return time.Now().Add(RacyWindow + time.Second) }
	if d := load(c); d != sumOf(v1) || len(c.entries) != 1 {
		t.Fatalf("stable file: digest %s, %d entries", d, len(c.entries))
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = OpenDigestCache(cacheFile)
	abs, _ := filepath.Abs(mod)
	e := c.entries[abs]
	e.Digest = "sha256:from-the-cache"
	c.entries[abs] = e
	if d := load(c); d != "sha256:from-the-cache" {
		t.Fatalf("unchanged file did not use the cache: %s", d)
	}

	// Rewritten in place with the same size, old mtime put back: ctime
	// moved, so it is hashed again.
	time.Sleep(20 * time.Millisecond) // past a coarse timestamp tick
	fi := mustStat(t, mod)
	v2 := []byte("\x00asm\x01\x00\x00\x00version-2")
	if err := os.WriteFile(mod, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(mod, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if d := load(c); d != sumOf(v2) {
		t.Fatalf("rewritten module: digest %s, want %s", d, sumOf(v2))
	}

	// Replaced by rename (new inode), same size and mtime.
	e = c.entries[abs]
	e.Digest = "sha256:from-the-cache"
	c.entries[abs] = e
	time.Sleep(20 * time.Millisecond)
	v3 := []byte("\x00asm\x01\x00\x00\x00version-3")
	tmp := filepath.Join(b, "new.tmp")
	if err := os.WriteFile(tmp, v3, 0o644); err != nil {
		t.Fatal(err)
	}
	fi = mustStat(t, mod)
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, mod); err != nil {
		t.Fatal(err)
	}
	if d := load(c); d != sumOf(v3) {
		t.Fatalf("replaced module: digest %s, want %s", d, sumOf(v3))
	}

	// Retain drops modules that are gone; a corrupt file is an empty cache.
	c.Retain(func(string) bool { return false })
	if len(c.entries) != 0 {
		t.Fatalf("Retain kept %d entries", len(c.entries))
	}
	if err := os.WriteFile(cacheFile, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := OpenDigestCache(cacheFile); len(c.entries) != 0 {
		t.Fatal("corrupt cache file gave entries")
	}
}

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
