//go:build !linux

package skill

import "os"

// identityOf: without a portable ctime and inode, nothing is cached.
func identityOf(os.FileInfo) (fileIdentity, bool) { return fileIdentity{}, false }
