package engine_test

import (
	"context"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
)

// Compiled code is shared by every engine and extism plugin the tests
// create, so each fixture is compiled once per test binary (compiling the
// Go fixture under -race is the slowest step of the suite).
var (
	testCacheDir string
	sharedCache  wazero.CompilationCache
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "reef-engine-cache-")
	if err != nil {
		panic(err)
	}
	testCacheDir = dir
	sharedCache = wazero.NewCompilationCache()
	code := m.Run()
	_ = sharedCache.Close(context.Background())
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// extismRuntimeConfig is go-sdk's runtime config with the shared cache.
func extismRuntimeConfig() wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().WithCompilationCache(sharedCache)
}
