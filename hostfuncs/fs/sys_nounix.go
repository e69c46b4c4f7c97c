//go:build !unix

package hostfs

import (
	"errors"
	"io/fs"
	"os"
)

func nlink(fs.FileInfo) uint64 { return 1 }

func setAppend(*os.File, bool) error { return errors.ErrUnsupported }

// Open flags without an os package name (not supported here).
const (
	oDirectory = 0
	oDSync     = 0
)
