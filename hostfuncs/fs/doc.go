// Package hostfs is reef's filesystem capability: the reef_fs_* host
// functions and the WASI preopens, both confined to the directories the
// operator granted (policy.Policy.Mounts).
//
// # Confinement
//
// Every mount is opened as an *os.Root. os.Root resolves each path one
// component at a time with openat(2) and O_NOFOLLOW, reads symbolic links
// itself and refuses any link that is absolute or leads above the root, so
// "..", absolute paths and symlinks pointing out — including links swapped
// in after a check — cannot leave the mount. On top of os.Root this package
// refuses what os.Root allows:
//
//   - opening anything but a regular file or a directory (FIFOs, sockets,
//     device nodes): files are opened with O_NONBLOCK, so a FIFO cannot
//     block the host, then fstat'ed and refused;
//   - files on procfs, sysfs and similar kernel filesystems (fstatfs on
//     Linux), so a grant or bind mount that reaches /proc leaks nothing;
//   - creating hard links (always), and writing through an existing file
//     whose link count is above one (it may alias a file outside the
//     mount); reef_fs_write never writes through a link at all, it
//     replaces the directory entry;
//   - creating symbolic links from the guest (always refused), and
//     reading the target of a link that points outside the mount;
//   - any write, create, remove, rename, chmod or time change on a
//     read-only mount.
//
// Every refusal is a *policy.Denial recorded through the policy's
// Recorder (audit log and metrics) naming the skill, "fs" and the guest
// path; handlers return it to the guest as an error document with code
// "denied", the WASI layer as EPERM (EROFS for read-only mounts).
//
// # Quotas
//
// Options.QuotaBytes and QuotaFiles bound the sum over all of a skill's
// read-write mounts; MaxFileBytes bounds one file. Usage is measured by
// walking the mounts at first use and then tracked by delta on every
// change this package makes (handlers and WASI alike). Changes made on the
// host behind reef's back are seen on the next walk: a write that would
// exceed a quota re-walks once (at most once a second) before it is
// refused, so a stale over-count never refuses a write that fits.
// See README.md for exactly what WASI writes enforce.
//
// # Atomic writes
//
// reef_fs_write writes a temporary file in the target's directory, fsyncs
// it, renames it over the target and fsyncs the directory: a reader sees
// the old or the new content, never a mix, and a failure leaves the old
// file intact.
package hostfs
