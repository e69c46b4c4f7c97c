// Package guestbuild compiles test guests outside `reef build`: C with
// reef's C PDK and Go for wasip1, with the flags `reef build` uses. The
// test binaries that need fresh modules of their own (hostile guests,
// bundled skills at the source's current state) share it.
package guestbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tool is a program a test binary needs: any one of Bins on PATH.
type Tool struct {
	Bins []string
	Hint string // how to install it
}

// The tools the builders below run.
var (
	Clang = Tool{[]string{"clang-19"}, "apt-get install -y clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 (or `make deps`)"}
	Go    = Tool{[]string{"go"}, "install Go 1.26 (https://go.dev/dl/)"}
)

// Require reports the first tool with none of its binaries on PATH.
func Require(tools ...Tool) error {
	for _, t := range tools {
		found := false
		for _, b := range t.Bins {
			if _, err := exec.LookPath(b); err == nil {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s is required: %s", strings.Join(t.Bins, " or "), t.Hint)
		}
	}
	return nil
}

// C compiles the C file src against the C PDK in repo/pdk/c into out and
// returns the module. extra flags go before the output.
func C(repo, src, out string, extra ...string) ([]byte, error) {
	args := []string{"--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Werror",
		"-I", filepath.Join(repo, "pdk", "c"), "-Wl,--strip-all"}
	args = append(append(args, extra...), "-o", out, src)
	return run(exec.Command("clang-19", args...), src, out)
}

// GoPackage compiles the Go package in dir for wasip1 as a reactor into
// out and returns the module.
func GoPackage(dir, out string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	return run(cmd, dir, out)
}

func run(cmd *exec.Cmd, src, out string) ([]byte, error) {
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building %s: %v\n%s", src, err, b)
	}
	return os.ReadFile(out)
}

// CompileCache is a directory for wazero's compiled code that outlives
// the test run (Go guests take seconds to compile, much longer under
// -race): <user cache>/reef/<name>, else tmp/compiled. Entries are keyed
// by module digest and wazero version, so a stale one is never used.
func CompileCache(name, tmp string) string {
	if d, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(d, "reef", name)
		if os.MkdirAll(p, 0o700) == nil {
			return p
		}
	}
	return filepath.Join(tmp, "compiled")
}
