package abi

// ResponseBuffer is an optional extension of Call: an engine that
// implements it lends a handler memory its response can be handed to the
// guest from without a copy. reef's engine implements it with a block of
// the per-call kernel arena; abitest.Call does not, so a handler must work
// without it:
//
//	buf := make([]byte, n)
//	if rb, ok := c.(abi.ResponseBuffer); ok {
//		if b := rb.ResponseBuffer(n); b != nil {
//			buf = b
//		}
//	}
//	k, err := f.ReadAt(buf, off) // fill it
//	return buf[:k], err
//
// # Contract
//
//   - ResponseBuffer(n) returns a slice of length n, or nil when n bytes
//     do not fit in the call's memory limit (the handler then allocates as
//     usual and the engine reports the limit as before).
//   - The buffer is not zeroed: return only bytes you wrote (io.ReaderAt's
//     n, not len(buf)). Whatever else it holds comes from earlier calls of
//     the same guest instance, which that guest could already read, so a
//     mistake here cannot expose another skill's data — but it would hand
//     the guest stale bytes as if they were the response.
//   - A handler that returns a prefix of the most recently lent buffer
//     (same first byte, length <= n) has that prefix handed out as the
//     response without a copy; the rest of the buffer is released. Any
//     other slice is copied, as without the extension, and the lent buffer
//     is released.
//   - The buffer belongs to the engine: it is valid only until the handler
//     returns and must not be retained or written afterwards.
//   - Asking again releases the earlier buffer (its memory may be lent
//     anew): ask once per call, and do not use an earlier buffer after.
type ResponseBuffer interface {
	ResponseBuffer(n int) []byte
}
