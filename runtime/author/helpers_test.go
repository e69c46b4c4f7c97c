package author

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/reefhq/reef/runtime/engine"
)

// repoRoot is the repository this test runs in.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	r := FindRepo(wd)
	if r == "" {
		t.Fatal("tests must run inside the reef repository")
	}
	return r
}

// testToolchains points the AssemblyScript compiler at the repository's
// pdk/assemblyscript/node_modules (installed by `npm ci`, see Makefile),
// for skills outside the repository.
func testToolchains(t testing.TB) Toolchains {
	t.Helper()
	asc := filepath.Join(repoRoot(t), "pdk", "assemblyscript", "node_modules", ".bin", "asc")
	if _, err := os.Stat(asc); err != nil {
		t.Fatalf("AssemblyScript compiler missing: run `npm ci` in pdk/assemblyscript (make deps): %v", err)
	}
	return Toolchains{ASC: asc}
}

func newEngine(t testing.TB) *engine.Engine {
	t.Helper()
	e, err := engine.New(context.Background(), engine.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// inRepoDir makes a temporary folder inside the repository (so builds
// use the repository's PDK and go.mod) named name, removed at cleanup.
func inRepoDir(t testing.TB, name string) string {
	t.Helper()
	td := filepath.Join(repoRoot(t), "runtime", "author", "testdata")
	if err := os.MkdirAll(td, 0o755); err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp(td, "inrepo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	return filepath.Join(base, name)
}

func mustLook(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
