package skill

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LoadOptions tune LoadWith.
type LoadOptions struct {
	// NoWasm leaves Skill.Wasm nil: the module is hashed as it streams
	// through a small buffer instead of being held in memory. For callers
	// that compile later from WasmPath and check the bytes they re-read
	// against Digest (the daemon's lazy loading). Every check Load makes on
	// the module file (regular file, size limit, inside the bundle) is made
	// the same way, with the same errors.
	NoWasm bool
	// Digests, with NoWasm, supplies the digests of unchanged modules
	// without reading them (see DigestCache). nil: every module is hashed.
	Digests *DigestCache
}

// LoadWith is Load with options.
func LoadWith(path string, o LoadOptions) (*Skill, error) {
	if !o.NoWasm {
		return Load(path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load skill: %w", err)
	}
	if fi.IsDir() {
		return loadBundleWith(path, o)
	}
	if !fi.Mode().IsRegular() || !strings.HasSuffix(path, ".wasm") {
		return nil, fmt.Errorf("load skill %s: not a skill folder or a .wasm file", path)
	}
	return loadBareWith(path, o)
}

// digestNow is the clock of the racily-clean rule (tests move it).
var digestNow = time.Now

// moduleReader gives a module's bytes (readFile) or only its digest
// (hashFile), with the same checks and errors.
type moduleReader func(root *os.Root, name string, limit int64) (wasm []byte, digest string, err error)

func readModule(root *os.Root, name string, limit int64) ([]byte, string, error) {
	b, err := readFile(root, name, limit)
	if err != nil {
		return nil, "", err
	}
	return b, digest(b), nil
}

// hashModule is readFile's twin that keeps no bytes: the same stat,
// regular-file and size checks, then sha256 over the stream.
func hashModule(root *os.Root, name string, limit int64, cache *DigestCache) ([]byte, string, error) {
	fi, err := root.Stat(name)
	if err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > limit {
		return nil, "", fmt.Errorf("%w: %s is %d bytes; the limit is %s", errTooLarge, name, fi.Size(), Size(limit))
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil || !ofi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%s is not a regular file", name)
	}
	abs := filepath.Join(root.Name(), name)
	id, idOK := identityOf(ofi)
	if idOK && id.Size <= limit {
		if d, ok := cache.lookup(abs, id); ok {
			return nil, d, nil
		}
	}
	started := digestNow()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, limit+1))
	if err != nil {
		return nil, "", err
	}
	if n > limit {
		return nil, "", fmt.Errorf("%w: %s is larger than %s", errTooLarge, name, Size(limit))
	}
	sum := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if idOK && cache != nil {
		if after, err := f.Stat(); err == nil {
			if id2, ok := identityOf(after); ok {
				cache.store(abs, id, id2, started, sum)
			}
		}
	}
	return nil, sum, nil
}
