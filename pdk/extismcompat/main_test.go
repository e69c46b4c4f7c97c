package extismcompat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// pluginWasm is testdata/plugin/index.ts compiled by TestMain.
var pluginWasm []byte

func TestMain(m *testing.M) {
	wasm, err := buildPlugin()
	if err != nil {
		fmt.Fprintf(os.Stderr, "extismcompat: %v\n", err)
		os.Exit(1)
	}
	pluginWasm = wasm
	os.Exit(m.Run())
}

// buildPlugin compiles the AssemblyScript plugin with the asc installed in
// pdk/assemblyscript/node_modules. A missing compiler is a failure, not a
// skip: the compatibility claim must be tested.
func buildPlugin() ([]byte, error) {
	modules, err := filepath.Abs(filepath.Join("..", "assemblyscript", "node_modules"))
	if err != nil {
		return nil, err
	}
	asc := filepath.Join(modules, ".bin", "asc")
	if _, err := os.Stat(asc); err != nil {
		return nil, fmt.Errorf("AssemblyScript compiler not found at %s (%w): run `make deps` or `cd pdk/assemblyscript && npm ci`", asc, err)
	}
	if _, err := os.Stat(filepath.Join(modules, "@extism", "as-pdk", "index.ts")); err != nil {
		return nil, fmt.Errorf("@extism/as-pdk not installed (%w): run `make deps` or `cd pdk/assemblyscript && npm ci`", err)
	}
	src, err := os.ReadFile(filepath.Join("testdata", "plugin", "index.ts"))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "extismcompat-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "index.ts"), src, 0o644); err != nil {
		return nil, err
	}
	// asc resolves "@extism/as-pdk" through node_modules beside the source.
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, asc, "index.ts", "--outFile", "plugin.wasm", "-O3", "--use", "abort=index/myAbort")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("asc failed: %w\n%s", err, out.String())
	}
	return os.ReadFile(filepath.Join(dir, "plugin.wasm"))
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
