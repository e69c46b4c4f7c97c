package hostfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// refusal is a use of the filesystem that reef refuses by rule (as opposed
// to an error of the host filesystem). Every refusal becomes a recorded
// *policy.Denial whose reason is the refusal's text.
type refusal string

func (r refusal) Error() string { return string(r) }

const (
	errSpecial     refusal = "not a regular file or directory (device, FIFO or socket)"
	errHardLink    refusal = "file has several hard links and may alias a file outside the mount"
	errKernelFS    refusal = "file is on a kernel filesystem (procfs, sysfs, …)"
	errSymlinkMake refusal = "creating symbolic links is not allowed"
	errLinkMake    refusal = "creating hard links is not allowed"
	errLinkOut     refusal = "symbolic link points outside the mount"
	errEscape      refusal = "path escapes the mount (symbolic link or ..)"
	errCrossMount  refusal = "rename across mounts"
	errReadOnly    refusal = "mount is read-only"
)

// QuotaError reports a write that would exceed a quota. Handlers return it
// to the guest with code "limit"; WASI writes fail with EIO.
type QuotaError struct {
	Skill string
	// Kind is "bytes", "files" or "file size".
	Kind string
	// Limit is the quota; Want what the skill would use.
	Limit, Want int64
}

func (e *QuotaError) Error() string {
	switch e.Kind {
	case "file size":
		return fmt.Sprintf("skill %q: file would be %d bytes, more than the %d-byte file size limit", e.Skill, e.Want, e.Limit)
	case "read":
		return fmt.Sprintf("skill %q: read of %d bytes exceeds the %d-byte read limit (pass offset and length)", e.Skill, e.Want, e.Limit)
	}
	return fmt.Sprintf("skill %q: fs quota exceeded: would use %d %s of %d", e.Skill, e.Want, e.Kind, e.Limit)
}

func invalidf(format string, args ...any) error {
	return abi.Errorf(abi.CodeInvalid, format, args...)
}

// guestError is the one place where the handlers' Go errors become guest
// errors: refusals become recorded denials (code "denied"), os errors
// become abi.Error codes with a message naming the operation and the
// guest path — never a host path.
func guestError(p *policy.Policy, op, value string, err error) error {
	if err == nil {
		return nil
	}
	var (
		ae *abi.Error
		d  *policy.Denial
		r  refusal
		q  *QuotaError
	)
	switch {
	case errors.As(err, &ae), errors.As(err, &d):
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &r):
		return p.Deny(policy.CapFS, value, string(r))
	case isEscape(err):
		return p.Deny(policy.CapFS, value, string(errEscape))
	case errors.As(err, &q):
		return &abi.Error{Code: abi.CodeLimit, Capability: policy.CapFS, Value: value, Message: q.Error()}
	}
	code := abi.CodeIO
	switch {
	case errors.Is(err, fs.ErrNotExist):
		code = abi.CodeNotFound
	case errors.Is(err, fs.ErrExist):
		code = abi.CodeExists
	case errors.Is(err, fs.ErrPermission):
		code = abi.CodeDenied
	case errors.Is(err, fs.ErrInvalid), errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.ENAMETOOLONG),
		errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EXDEV), errors.Is(err, syscall.EBUSY):
		code = abi.CodeInvalid
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EFBIG), errors.Is(err, syscall.EDQUOT):
		code = abi.CodeLimit
	}
	return &abi.Error{Code: code, Capability: policy.CapFS, Value: value, Message: fmt.Sprintf("%s %s: %s", op, value, errText(err))}
}

// errText is the text of the innermost system error: os errors carry host
// paths in their messages, which guests must not see.
func errText(err error) string {
	var (
		pe *os.PathError
		le *os.LinkError
		se *os.SyscallError
		me *mountError
	)
	switch {
	case errors.As(err, &me):
		return me.Error()
	case errors.As(err, &pe):
		return pe.Err.Error()
	case errors.As(err, &le):
		return le.Err.Error()
	case errors.As(err, &se):
		return se.Err.Error()
	}
	return err.Error()
}

// errnoOf is the WASI layer's counterpart of guestError: refusals are
// recorded as denials and become EPERM (EROFS for read-only mounts),
// quota errors EIO (wazero's errno set has no ENOSPC/EDQUOT/EFBIG), the
// rest the matching errno.
func errnoOf(p *policy.Policy, value string, err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	var (
		r refusal
		q *QuotaError
		e experimentalsys.Errno
	)
	switch {
	case errors.As(err, &r):
		_ = p.Deny(policy.CapFS, value, string(r))
		if r == errReadOnly {
			return experimentalsys.EROFS
		}
		return experimentalsys.EPERM
	case isEscape(err):
		_ = p.Deny(policy.CapFS, value, string(errEscape))
		return experimentalsys.EPERM
	case errors.As(err, &q):
		return experimentalsys.EIO
	case errors.As(err, &e):
		return e
	}
	return experimentalsys.UnwrapOSError(err)
}
