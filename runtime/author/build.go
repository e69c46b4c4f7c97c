package author

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/reefhq/reef/pdk"
	"github.com/reefhq/reef/runtime/skill"
)

// BuildOptions configure Build.
type BuildOptions struct {
	// Progress receives one line per step ("nil" = silent).
	Progress io.Writer
	// Toolchains overrides compiler locations.
	Toolchains Toolchains
	// ExtismOnly builds against the plain Extism kernel ABI instead of
	// reef's bulk-copy extensions (the module then also runs under
	// Extism hosts that provide the capabilities it imports).
	ExtismOnly bool
}

// BuildResult describes a built module.
type BuildResult struct {
	Lang Lang
	// Wasm is the absolute path of the module written.
	Wasm   string
	Size   int64
	Digest string // "sha256:<hex>"
	// Flags are the compiler flags that made it (for the record).
	Command  string
	Duration time.Duration
}

// wasmName reads reef.yaml's `wasm` (default <folder>.wasm when reef.yaml
// is missing). The module must be a plain file name in the folder or a
// relative path below it.
func wasmName(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "reef.yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return filepath.Base(dir) + ".wasm", nil
	}
	if err != nil {
		return "", err
	}
	m, err := skill.ParseManifest(filepath.Join(dir, "reef.yaml"), b)
	if err != nil {
		return "", err
	}
	w := filepath.FromSlash(m.Wasm)
	if w == "" {
		w = filepath.Base(dir) + ".wasm"
	}
	if filepath.IsAbs(w) || !filepath.IsLocal(w) {
		return "", fmt.Errorf("reef.yaml: wasm %q must be a path inside the skill folder", m.Wasm)
	}
	return w, nil
}

// Build compiles the skill in dir and writes its module where reef.yaml's
// `wasm` says (beside SKILL.md), atomically.
func Build(ctx context.Context, dir string, opts BuildOptions) (*BuildResult, error) {
	start := time.Now()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("build: %s is not a folder", dir)
	}
	src, err := detect(abs)
	if err != nil {
		return nil, err
	}
	name, err := wasmName(abs)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	out := filepath.Join(abs, name)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	b := &builder{ctx: ctx, dir: abs, src: src, opts: opts, repo: FindRepo(abs), progress: opts.Progress}
	b.step("%s skill in %s", langName(src.lang), dir)
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-"+strings.ToLower(rand.Text()[:8]))
	defer os.Remove(tmp)
	cmdline, err := b.compile(tmp)
	if err != nil {
		var ce *CompileError
		if errors.As(err, &ce) {
			if rerr := os.Remove(out); rerr == nil {
				ce.Removed = name
			}
		}
		return nil, err
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		return nil, fmt.Errorf("build: reading compiler output: %w", err)
	}
	if len(data) < 8 || !bytes.Equal(data[:4], []byte("\x00asm")) {
		return nil, &CompileError{Lang: src.lang, Command: cmdline, Err: errors.New("the compiler wrote no WebAssembly module")}
	}
	if err := syncFile(tmp); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	sum := sha256.Sum256(data)
	return &BuildResult{Lang: src.lang, Wasm: out, Size: int64(len(data)), Digest: "sha256:" + hex.EncodeToString(sum[:]),
		Command: cmdline, Duration: time.Since(start)}, nil
}

func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func langName(l Lang) string {
	switch l {
	case Go:
		return "Go"
	case C:
		return "C"
	case Rust:
		return "Rust"
	case AS:
		return "AssemblyScript"
	}
	return string(l)
}

type builder struct {
	ctx      context.Context
	dir      string
	repo     string
	src      *source
	opts     BuildOptions
	progress io.Writer
}

func (b *builder) step(format string, args ...any) {
	if b.progress != nil {
		fmt.Fprintf(b.progress, "reef build: "+format+"\n", args...)
	}
}

// run executes one compiler command in the skill folder; a failure is a
// *CompileError carrying its output.
func (b *builder) run(env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(b.ctx, name, args...)
	cmd.Dir = b.dir
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	line := shellLine(env, name, args)
	b.step("$ %s", line)
	t := time.Now()
	err := cmd.Run()
	if err != nil {
		return line, &CompileError{Lang: b.src.lang, Command: line, Output: buf.String(), Err: err}
	}
	b.step("compiled in %s", time.Since(t).Round(time.Millisecond))
	return line, nil
}

func shellLine(env []string, name string, args []string) string {
	parts := append([]string{}, env...)
	parts = append(parts, filepath.Base(name))
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func (b *builder) compile(out string) (string, error) {
	switch b.src.lang {
	case Go:
		return b.buildGo(out)
	case C:
		return b.buildC(out)
	case Rust:
		return b.buildRust(out)
	case AS:
		return b.buildAS(out)
	}
	return "", fmt.Errorf("build: unsupported language %q", b.src.lang)
}

// GoFlags are the flags reef builds Go skills with: c-shared reactor,
// no symbol tables or DWARF (-s -w) and no file paths (-trimpath).
var GoFlags = []string{"build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w"}

// usesTypedJSON reports whether the Go sources use the PDK's
// encoding/json helpers; when none does, the skill is built with
// -tags reef_nojson (about 440 KiB smaller).
func (b *builder) usesTypedJSON() bool {
	for _, f := range b.src.files {
		data, err := os.ReadFile(filepath.Join(b.dir, f))
		if err != nil {
			return true
		}
		s := string(data)
		for _, w := range []string{".Run(", ".Run[", "InputJSON", "OutputJSON", ".Logf("} {
			if strings.Contains(s, w) {
				return true
			}
		}
	}
	return false
}

func (b *builder) buildGo(out string) (string, error) {
	goCmd, err := b.opts.Toolchains.goCmd()
	if err != nil {
		return "", err
	}
	env := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}
	var tags []string
	if b.opts.ExtismOnly {
		tags = append(tags, "reef_extism")
	}
	lean := !b.usesTypedJSON()
	try := func(tags []string) (string, error) {
		args := append([]string{}, GoFlags...)
		if len(tags) > 0 {
			args = append(args, "-tags", strings.Join(tags, ","))
		}
		args = append(args, "-o", out, ".")
		return b.run(env, goCmd, args...)
	}
	if lean {
		line, err := try(append(tags, "reef_nojson"))
		if err == nil {
			return line, nil
		}
		b.step("lean build (-tags reef_nojson) failed; retrying with the full PDK")
	}
	return try(tags)
}

// CFlags are the clang flags for C skills.
var CFlags = []string{"--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Wl,--strip-all", "-Wl,--gc-sections"}

func (b *builder) buildC(out string) (string, error) {
	clang, err := b.opts.Toolchains.clang()
	if err != nil {
		return "", err
	}
	inc, cleanup, err := b.pdkDir("c", []string{"c/reef.h"})
	if err != nil {
		return "", err
	}
	defer cleanup()
	args := append([]string{}, CFlags...)
	if b.opts.ExtismOnly {
		args = append(args, "-DREEF_EXTISM_ONLY")
	}
	args = append(args, "-I", inc, "-o", out)
	args = append(args, b.src.files...)
	line, err := b.run(nil, clang, args...)
	if err != nil {
		var ce *CompileError
		if errors.As(err, &ce) && strings.Contains(ce.Output, "libclang_rt.builtins") {
			return line, &ToolchainError{Lang: C, Tool: "libclang_rt.builtins for wasm32", Install: installC, Err: err}
		}
		if errors.As(err, &ce) && (strings.Contains(ce.Output, "wasm-ld") && strings.Contains(ce.Output, "not found") ||
			strings.Contains(ce.Output, "'stdlib.h' file not found") || strings.Contains(ce.Output, "'stddef.h' file not found")) {
			return line, &ToolchainError{Lang: C, Tool: "wasm-ld / wasi-libc", Install: installC, Err: err}
		}
	}
	return line, err
}

// RustFlags are the rustc flags for Rust skills: smallest code
// (opt-level=z: Rust skills spend their time in host calls and JSON, and
// z is about 5% smaller than s), LTO and one codegen unit (about 40%
// smaller than -O alone), symbols stripped, and a 128 KiB stack instead
// of rustc's 1 MiB default: the initial memory drops from 17 pages to 3,
// which is most of the instantiation cost (see pdk/rust/README.md).
var RustFlags = []string{"--edition", "2021", "--crate-type", "cdylib", "--target", "wasm32-wasi",
	"-C", "opt-level=z", "-C", "lto", "-C", "codegen-units=1", "-C", "strip=symbols", "-C", "panic=abort",
	"-C", "link-arg=-zstack-size=131072"}

// WasmOptFlags are the flags of binaryen's wasm-opt, run over a Rust
// module when wasm-opt is on PATH (Debian package binaryen): about 15%
// smaller (base64: 58.9 -> 49.7 KiB). clang runs wasm-opt by itself after
// linking when it finds it, so C skills need no extra step.
var WasmOptFlags = []string{"-Oz"}

func (b *builder) buildRust(out string) (string, error) {
	rustc, err := b.opts.Toolchains.rustc()
	if err != nil {
		return "", err
	}
	if err := rustTargetCheck(rustc); err != nil {
		return "", err
	}
	args := append([]string{}, RustFlags...)
	if b.opts.ExtismOnly {
		args = append(args, "--cfg", "reef_extism")
	}
	args = append(args, "-o", out, b.src.entry)
	line, err := b.run(nil, rustc, args...)
	if err != nil {
		return line, err
	}
	return b.wasmOpt(line, out), nil
}

// wasmOpt shrinks the module at out with wasm-opt when it is installed.
// It is an optimisation only: when wasm-opt is missing or fails, the
// compiler's module stays as it is.
func (b *builder) wasmOpt(line, out string) string {
	opt := lookPath("wasm-opt")
	if opt == "" {
		return line
	}
	tmp := out + ".opt"
	defer os.Remove(tmp)
	args := append(append([]string{}, WasmOptFlags...), out, "-o", tmp)
	oline, err := b.run(nil, opt, args...)
	if err != nil {
		b.step("wasm-opt failed, keeping the compiler's module: %v", err)
		return line
	}
	if err := os.Rename(tmp, out); err != nil {
		b.step("wasm-opt: %v; keeping the compiler's module", err)
		return line
	}
	return line + " && " + oline
}

// ASFlags are the asc flags for AssemblyScript skills; the abort handler
// comes from the PDK so modules import nothing from "env".
var ASFlags = []string{"-O3", "--runtime", "incremental", "--noAssert", "--use", "abort=~lib/@reefhq/as-pdk/assembly/index/reefAbort"}

func (b *builder) buildAS(out string) (string, error) {
	asc, err := b.opts.Toolchains.asc(b.dir, b.repo)
	if err != nil {
		return "", err
	}
	nm, cleanup, err := b.asPackage()
	if err != nil {
		return "", err
	}
	defer cleanup()
	args := []string{b.src.entry, "-o", out}
	args = append(args, ASFlags...)
	args = append(args, "--path", nm)
	if b.opts.ExtismOnly {
		args = append(args, "--use", "REEF_EXTISM_ONLY=NaN")
	}
	return b.run(nil, asc, args...)
}

// pdkDir returns the directory holding one PDK: the repository's when the
// skill is inside it, otherwise a temporary copy of the embedded files.
func (b *builder) pdkDir(kit string, files []string) (string, func(), error) {
	if b.repo != "" {
		return filepath.Join(b.repo, "pdk", kit), func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "reef-pdk-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	for _, f := range files {
		if err := copyEmbedded(f, filepath.Join(tmp, strings.TrimPrefix(f, kit+"/"))); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	b.step("using the PDK embedded in reef (%s)", kit)
	return tmp, cleanup, nil
}

// asPackage lays out node_modules/@reefhq/as-pdk in a temporary folder for
// asc --path, from the repository or the embedded copy.
func (b *builder) asPackage() (string, func(), error) {
	tmp, err := os.MkdirTemp("", "reef-as-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	dst := filepath.Join(tmp, "node_modules", "@reefhq", "as-pdk")
	files, err := fs.Glob(pdk.FS, "assemblyscript/assembly/*.ts")
	if err != nil {
		cleanup()
		return "", nil, err
	}
	files = append(files, "assemblyscript/package.json", "assemblyscript/index.ts")
	for _, f := range files {
		rel := strings.TrimPrefix(f, "assemblyscript/")
		var err error
		if b.repo != "" {
			err = copyFile(filepath.Join(b.repo, "pdk", filepath.FromSlash(f)), filepath.Join(dst, rel))
		} else {
			err = copyEmbedded(f, filepath.Join(dst, rel))
		}
		if err != nil {
			cleanup()
			return "", nil, err
		}
	}
	return filepath.Join(tmp, "node_modules"), cleanup, nil
}

func copyEmbedded(name, dst string) error {
	data, err := pdk.FS.ReadFile(name)
	if err != nil {
		return err
	}
	return writeFile(dst, data, 0o644)
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeFile(dst, data, 0o644)
}

// writeFile writes atomically (temp file, fsync, rename).
func writeFile(dst string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
