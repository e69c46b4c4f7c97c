package author

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Toolchains overrides where the compilers are; empty fields use the
// defaults (the environment variables below, then the usual names).
type Toolchains struct {
	// Go is the go command ($REEF_GO, then "go").
	Go string
	// Clang is clang for wasm32-wasi ($REEF_CLANG, then clang-19, clang).
	Clang string
	// Rustc is a rustc with the wasm32-wasi standard library ($REEF_RUSTC,
	// then /usr/bin/rustc, then rustc on PATH).
	Rustc string
	// ASC is the AssemblyScript compiler ($REEF_ASC, then
	// node_modules/.bin/asc in the skill folder or a parent, then the
	// repository's pdk/assemblyscript/node_modules, then asc on PATH).
	ASC string
}

const (
	installC    = "install the Debian packages clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 (apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32)"
	installRust = "install the Debian packages rustc libstd-rust-dev-wasm32 (apt-get install rustc libstd-rust-dev-wasm32); rustup's rustc needs `rustup target add wasm32-wasi`"
	installGo   = "install Go 1.24 or later (https://go.dev/dl/) and put `go` on PATH"
	installNode = "install Node.js 18+ and npm (apt-get install nodejs npm)"
)

func lookPath(cands ...string) string {
	for _, c := range cands {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// pinned resolves an explicit override (field, then environment
// variable): it must exist, it never falls back.
func pinned(field, env string) (string, bool, error) {
	v := field
	if v == "" {
		v = os.Getenv(env)
	}
	if v == "" {
		return "", false, nil
	}
	p, err := exec.LookPath(v)
	return p, true, err
}

func (t Toolchains) goCmd() (string, error) {
	if p, ok, err := pinned(t.Go, "REEF_GO"); ok {
		if err != nil {
			return "", &ToolchainError{Lang: Go, Tool: t.Go + os.Getenv("REEF_GO"), Install: installGo, Err: err}
		}
		return p, nil
	}
	if p := lookPath("go"); p != "" {
		return p, nil
	}
	return "", &ToolchainError{Lang: Go, Tool: "go", Install: installGo}
}

func (t Toolchains) clang() (string, error) {
	if p, ok, err := pinned(t.Clang, "REEF_CLANG"); ok {
		if err != nil {
			return "", &ToolchainError{Lang: C, Tool: "clang-19", Install: installC, Err: err}
		}
		return p, nil
	}
	p := lookPath("clang-19", "clang")
	if p == "" {
		return "", &ToolchainError{Lang: C, Tool: "clang-19", Install: installC}
	}
	return p, nil
}

// rustc prefers Debian's /usr/bin/rustc: a rustup rustc earlier on PATH
// usually has no wasm32-wasi standard library.
func (t Toolchains) rustc() (string, error) {
	if p, ok, err := pinned(t.Rustc, "REEF_RUSTC"); ok {
		if err != nil {
			return "", &ToolchainError{Lang: Rust, Tool: "rustc", Install: installRust, Err: err}
		}
		return p, nil
	}
	if fi, err := os.Stat("/usr/bin/rustc"); err == nil && !fi.IsDir() {
		return "/usr/bin/rustc", nil
	}
	if p := lookPath("rustc"); p != "" {
		return p, nil
	}
	return "", &ToolchainError{Lang: Rust, Tool: "rustc", Install: installRust}
}

// rustTargetCheck reports a rustc without the wasm32-wasi std.
func rustTargetCheck(rustc string) error {
	out, err := exec.Command(rustc, "--print", "sysroot").Output()
	if err != nil {
		return nil // let the compile report it
	}
	lib := filepath.Join(strings.TrimSpace(string(out)), "lib", "rustlib", "wasm32-wasi")
	if _, err := os.Stat(lib); err != nil {
		return &ToolchainError{Lang: Rust, Tool: rustc + " wasm32-wasi standard library", Install: installRust}
	}
	return nil
}

// asc finds the AssemblyScript compiler for a skill in dir.
func (t Toolchains) asc(dir, repo string) (string, error) {
	if lookPath("node") == "" {
		return "", &ToolchainError{Lang: AS, Tool: "node", Install: installNode}
	}
	if p, ok, err := pinned(t.ASC, "REEF_ASC"); ok {
		if err != nil {
			return "", &ToolchainError{Lang: AS, Tool: "asc (AssemblyScript 0.28)", Install: "set REEF_ASC to an existing asc command, or unset it", Err: err}
		}
		return p, nil
	}
	for d := dir; ; {
		c := filepath.Join(d, "node_modules", ".bin", "asc")
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if repo != "" {
		c := filepath.Join(repo, "pdk", "assemblyscript", "node_modules", ".bin", "asc")
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
		return "", &ToolchainError{Lang: AS, Tool: "asc (AssemblyScript 0.28)",
			Install: "run `npm ci` in " + filepath.Join(repo, "pdk", "assemblyscript") + " (or `make deps`)"}
	}
	if p := lookPath("asc"); p != "" {
		return p, nil
	}
	return "", &ToolchainError{Lang: AS, Tool: "asc (AssemblyScript 0.28)",
		Install: "run `npm install --save-dev assemblyscript@0.28` in " + dir + " (or set REEF_ASC to the asc command)"}
}

// repoModule is the module path that marks the reef repository.
const repoModule = "github.com/reefhq/reef"

// FindRepo returns the root of the reef repository containing dir, or "".
func FindRepo(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for d := abs; ; {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			for _, line := range bytes.Split(b, []byte("\n")) {
				f := strings.Fields(string(line))
				if len(f) == 2 && f[0] == "module" {
					if f[1] == repoModule {
						return d
					}
					break
				}
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}
