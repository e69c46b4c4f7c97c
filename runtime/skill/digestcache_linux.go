package skill

import (
	"os"
	"syscall"
)

// identityOf reads the identity of an open file (ok false: not cacheable).
func identityOf(fi os.FileInfo) (fileIdentity, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileIdentity{}, false
	}
	return fileIdentity{
		Size:    fi.Size(),
		MtimeNs: st.Mtim.Nano(),
		CtimeNs: st.Ctim.Nano(),
		Ino:     uint64(st.Ino),
		Dev:     uint64(st.Dev),
	}, true
}
