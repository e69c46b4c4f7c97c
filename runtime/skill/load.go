package skill

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Bundle file names.
const (
	SkillFile    = "SKILL.md"
	ManifestFile = "reef.yaml"
)

// Load reads and validates a skill. path is either a bundle folder
// (SKILL.md + reef.yaml + the module reef.yaml names) or a bare .wasm file.
//
// A bundle's files are opened through an os.Root on the folder, so a
// module path or a symlink that leads outside the bundle is refused. Every
// problem in SKILL.md and reef.yaml is reported (joined *ValidationErrors
// with file and line). The module is read and hashed but not compiled.
//
// A bare .wasm file is a skill too, so plain Extism plugins run as they
// are: Bare is set, the name is the file name without ".wasm" and must
// itself be a valid skill name (rename "count_vowels.wasm" to
// "count-vowels.wasm"; no name is rewritten, so the file name, the grant
// key and the registry entry always agree), no capability is requested,
// and Manifest.Functions is empty, which means every export is callable.
func Load(path string) (*Skill, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load skill: %w", err)
	}
	if fi.IsDir() {
		return loadBundle(path)
	}
	if !fi.Mode().IsRegular() || !strings.HasSuffix(path, ".wasm") {
		return nil, fmt.Errorf("load skill %s: not a skill folder or a .wasm file", path)
	}
	return loadBare(path)
}

func loadBare(path string) (*Skill, error) { return loadBareWith(path, LoadOptions{}) }

func loadBareWith(path string, o LoadOptions) (*Skill, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load skill %s: %w", path, err)
	}
	base := filepath.Base(abs)
	name := strings.TrimSuffix(base, ".wasm")
	if !ValidName(name) {
		r := &ValidationError{File: path, Field: "name", Rule: fmt.Sprintf("the file name %q gives the skill name %q, which %s", base, name, nameRule)}
		if alt := strings.ReplaceAll(strings.ToLower(name), "_", "-"); ValidName(alt) {
			r.Rule += fmt.Sprintf("; rename the file to %s.wasm", alt)
		}
		return nil, r
	}
	root, err := os.OpenRoot(filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("load skill %s: %w", path, err)
	}
	defer root.Close()
	wasm, sum, err := o.module()(root, base, MaxWasmSize)
	if err != nil {
		return nil, fmt.Errorf("load skill %s: %w", path, err)
	}
	s := &Skill{
		Name:     name,
		Bare:     true,
		Manifest: Manifest{Wasm: base, Isolation: IsolationPooled},
		WasmPath: abs,
		Wasm:     wasm,
		Digest:   sum,
		schemas:  newSchemaCache(nil),
	}
	return s, nil
}

func loadBundle(dir string) (*Skill, error) { return loadBundleWith(dir, LoadOptions{}) }

func (o LoadOptions) module() moduleReader {
	if o.NoWasm {
		return func(root *os.Root, name string, limit int64) ([]byte, string, error) {
			return hashModule(root, name, limit, o.Digests)
		}
	}
	return readModule
}

func loadBundleWith(dir string, o LoadOptions) (*Skill, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("load skill %s: %w", dir, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("load skill %s: %w", dir, err)
	}
	defer root.Close()
	folder := filepath.Base(abs)
	skillPath := filepath.Join(dir, SkillFile)
	manifestPath := filepath.Join(dir, ManifestFile)

	var errs []error
	s := &Skill{Dir: abs}

	md, err := readFile(root, SkillFile, MaxSkillMDSize)
	if err != nil {
		errs = append(errs, fileError(skillPath, err, "every skill folder needs SKILL.md with Agent Skills frontmatter"))
	} else {
		meta, body, _, err := parseFrontmatter(skillPath, folder, md)
		if err != nil {
			errs = append(errs, err)
		}
		s.Meta, s.Docs, s.Name = meta, body, meta.Name
	}

	var pm parsedManifest
	y, err := readFile(root, ManifestFile, MaxManifestSize)
	if err != nil {
		errs = append(errs, fileError(manifestPath, err, "every skill folder needs reef.yaml naming the module and its functions"))
	} else {
		pm, err = parseManifest(manifestPath, y)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.Manifest = pm.m
	s.WasmPath = filepath.Join(abs, filepath.FromSlash(pm.m.Wasm))
	s.Wasm, s.Digest, err = o.module()(root, filepath.FromSlash(pm.m.Wasm), MaxWasmSize)
	if err != nil {
		return nil, &ValidationError{File: manifestPath, Line: pm.wasmLine, Field: "wasm", Rule: fmt.Sprintf("%q: %v", pm.m.Wasm, fileReason(err, "build the module first (reef build)"))}
	}
	s.schemas = newSchemaCache(pm.schemas)
	return s, nil
}

// errTooLarge marks a file over its size limit.
var errTooLarge = errors.New("file too large")

// readFile reads a regular file inside root, refusing anything larger than
// limit without reading past it, and anything that is not a regular file
// (a FIFO would block, a device would never end).
func readFile(root *os.Root, name string, limit int64) ([]byte, error) {
	fi, err := root.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes; the limit is %s", errTooLarge, name, fi.Size(), Size(limit))
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	// Sized from the stat (plus ReadFrom's minimum read), so a module is
	// read without growing and re-copying its buffer.
	var buf bytes.Buffer
	buf.Grow(int(min(fi.Size(), limit)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %s", errTooLarge, name, Size(limit))
	}
	return data, nil
}

func fileError(file string, err error, hint string) error {
	return &ValidationError{File: file, Rule: fileReason(err, hint)}
}

// fileReason explains a failed read in an author's terms.
func fileReason(err error, hint string) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "file not found in the bundle; " + hint
	case strings.Contains(err.Error(), "path escapes from parent"):
		return "the path leads outside the bundle folder (through .. or a symlink), which is not allowed"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && !errors.Is(err, errTooLarge) {
		return pe.Err.Error()
	}
	return err.Error()
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Find resolves what a user typed for a skill: an existing folder or .wasm
// file is used as given; anything else must be a skill name (see
// ValidName), looked up as skillDir/<name> (a folder) and then
// skillDir/<name>.wasm. A value that is neither an existing path nor a
// valid name ("../x", "a/b", "/abs", "", ".hidden") is refused with an
// error saying why. A valid name that matches nothing wraps ErrNotFound.
func Find(skillDir, nameOrPath string) (string, error) {
	if nameOrPath == "" {
		return "", errors.New("no skill given: want a skill name, a skill folder or a .wasm file")
	}
	if fi, err := os.Stat(nameOrPath); err == nil {
		switch {
		case fi.IsDir():
			return nameOrPath, nil
		case fi.Mode().IsRegular() && strings.HasSuffix(nameOrPath, ".wasm"):
			return nameOrPath, nil
		case looksLikePath(nameOrPath):
			return "", fmt.Errorf("%s is not a skill folder or a .wasm file", nameOrPath)
		}
	}
	if looksLikePath(nameOrPath) {
		return "", fmt.Errorf("%s: no such skill folder or .wasm file (and it cannot be a skill name: names are 1-64 characters of a-z, 0-9 and single hyphens): %w", nameOrPath, ErrNotFound)
	}
	if strings.HasPrefix(nameOrPath, ".") {
		return "", fmt.Errorf("%q is not a skill name: names may not start with a dot", nameOrPath)
	}
	if !ValidName(nameOrPath) {
		return "", fmt.Errorf("%q is not a skill name: %s", nameOrPath, nameRule)
	}
	if skillDir == "" {
		return "", fmt.Errorf("skill %q: no skill directory is set (SKILL_DIR or --skill-dir); give a folder or a .wasm path instead: %w", nameOrPath, ErrNotFound)
	}
	dir := filepath.Join(skillDir, nameOrPath)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	file := dir + ".wasm"
	if fi, err := os.Stat(file); err == nil && fi.Mode().IsRegular() {
		return file, nil
	}
	return "", fmt.Errorf("skill %q: neither %s nor %s exists: %w", nameOrPath, dir, file, ErrNotFound)
}

// looksLikePath reports a value that can only be meant as a path.
func looksLikePath(s string) bool {
	return strings.ContainsAny(s, `/\`) || filepath.IsAbs(s) || s == "." || s == ".." || strings.HasSuffix(s, ".wasm")
}
