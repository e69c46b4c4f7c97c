package hostfs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"syscall"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// maxWalkDepth bounds directory recursion (a directory swapped for a link
// to an ancestor while walking cannot recurse forever).
const maxWalkDepth = 256

// errSkipDir tells walk not to descend into a directory.
var errSkipDir = errors.New("skip directory")

// readDirInfo lists the directory rel inside r with lstat information for
// each entry. Entries are looked up relative to the open directory
// (fstatat), never through a host path, so a directory swapped for a
// symbolic link while listing cannot make it describe files outside the
// root. Entries removed while listing are skipped.
func readDirInfo(r *os.Root, rel string, limit int) ([]fs.FileInfo, *os.Root, error) {
	// os.Root.OpenRoot reports a file with an untyped "not a directory"
	// error: stat first for a proper ENOTDIR.
	if fi, err := r.Stat(rel); err != nil {
		return nil, nil, err
	} else if !fi.IsDir() {
		return nil, nil, &os.PathError{Op: "readdir", Path: rel, Err: syscall.ENOTDIR}
	}
	sub, err := r.OpenRoot(rel)
	if err != nil {
		return nil, nil, err
	}
	d, err := sub.Open(".")
	if err != nil {
		sub.Close()
		return nil, nil, err
	}
	if err := checkKernelFS(d); err != nil {
		d.Close()
		sub.Close()
		return nil, nil, err
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		sub.Close()
		return nil, nil, err
	}
	if limit > 0 && len(ents) > limit {
		sub.Close()
		return nil, nil, abi.Errorf(abi.CodeLimit, "directory has %d entries, more than the %d a listing returns", len(ents), limit)
	}
	out := make([]fs.FileInfo, 0, len(ents))
	for _, e := range ents {
		fi, err := sub.Lstat(e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			sub.Close()
			return nil, nil, err
		}
		out = append(out, fi)
	}
	return out, sub, nil
}

// walk calls fn for every entry below rel (not rel itself) in lexical
// order per directory, without following symbolic links. fn returning
// errSkipDir for a directory skips its contents.
func walk(ctx context.Context, r *os.Root, rel string, fn func(rel string, fi fs.FileInfo) error) error {
	return walkDepth(ctx, r, rel, ".", 0, fn)
}

func walkDepth(ctx context.Context, r *os.Root, dir, prefix string, depth int, fn func(string, fs.FileInfo) error) error {
	if depth > maxWalkDepth {
		return &os.PathError{Op: "walk", Path: prefix, Err: errors.New("directory tree too deep")}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	infos, sub, err := readDirInfo(r, dir, 0)
	if err != nil {
		if depth > 0 && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer sub.Close()
	for _, fi := range infos {
		p := path.Join(prefix, fi.Name())
		err := fn(p, fi)
		if errors.Is(err, errSkipDir) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if err := walkDepth(ctx, sub, fi.Name(), p, depth+1, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
