package hostfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// kernelFS are the filesystems whose files expose the host (process
// memory and environment, kernel and device state) rather than data.
var kernelFS = map[int64]string{
	unix.PROC_SUPER_MAGIC:    "procfs",
	unix.SYSFS_MAGIC:         "sysfs",
	unix.DEBUGFS_MAGIC:       "debugfs",
	unix.TRACEFS_MAGIC:       "tracefs",
	unix.SECURITYFS_MAGIC:    "securityfs",
	unix.BPF_FS_MAGIC:        "bpffs",
	unix.DEVPTS_SUPER_MAGIC:  "devpts",
	0x62656570:               "configfs",
	unix.EFIVARFS_MAGIC:      "efivarfs",
	unix.CGROUP_SUPER_MAGIC:  "cgroupfs",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2fs",
}

// checkKernelFS refuses files on procfs, sysfs and their kind.
func checkKernelFS(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var st unix.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstatfs(int(fd), &st) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fstatfs", Path: f.Name(), Err: serr}
	}
	if _, ok := kernelFS[int64(st.Type)]; ok {
		return errKernelFS
	}
	return nil
}
