package author

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Stale reports whether the skill in dir needs a build: its module is
// missing, or older than a source file or reef.yaml.
func Stale(dir string) (bool, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	src, err := detect(abs)
	if err != nil {
		return false, err
	}
	name, err := wasmName(abs)
	if err != nil {
		return false, err
	}
	wi, err := os.Stat(filepath.Join(abs, name))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, f := range append([]string{"reef.yaml", "go.mod"}, src.files...) {
		fi, err := os.Stat(filepath.Join(abs, filepath.FromSlash(f)))
		if err == nil && fi.ModTime().After(wi.ModTime()) {
			return true, nil
		}
	}
	return false, nil
}
