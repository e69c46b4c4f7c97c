//go:build unix

package hosthttp

import (
	"errors"
	"net"
	"syscall"
)

// quiet reports whether the peer of an idle connection has neither
// closed it nor sent anything: a peek at the socket that does not wait
// and consumes nothing (EAGAIN: quiet; 0 bytes: closed; data: a server
// speaking unasked).
func quiet(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && alive
}
