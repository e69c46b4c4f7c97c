package reef

import "errors"

// Sentinel errors matched with errors.Is against the *Error a capability
// call returns, one per code of the host's error document.
var (
	// ErrDenied: the capability (or this value of it) is not granted.
	ErrDenied = errors.New("capability not granted")
	// ErrNotFound: no such file, key, message or element.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request was malformed.
	ErrInvalid = errors.New("invalid request")
	// ErrExists: the target already exists.
	ErrExists = errors.New("already exists")
	// ErrLimit: a size, count, quota or rate limit was hit.
	ErrLimit = errors.New("limit exceeded")
	// ErrTimeout: the operation ran out of time.
	ErrTimeout = errors.New("timed out")
	// ErrIO: the host failed (storage, network protocol).
	ErrIO = errors.New("host I/O error")
	// ErrUnavailable: the service is unreachable or not configured.
	ErrUnavailable = errors.New("unavailable")
	// ErrConflict: the operation conflicts with the current state.
	ErrConflict = errors.New("conflict")
)

var codeErrors = map[string]error{
	"denied": ErrDenied, "not_found": ErrNotFound, "invalid": ErrInvalid, "exists": ErrExists,
	"limit": ErrLimit, "timeout": ErrTimeout, "io": ErrIO, "unavailable": ErrUnavailable, "conflict": ErrConflict,
}

// Error is the error document a capability returns
// ({"code","capability","value","message","id"}).
type Error struct {
	// Code is one of denied, not_found, invalid, exists, limit, timeout,
	// io, unavailable, conflict.
	Code string
	// Capability is fs, http, browser, mail or kv.
	Capability string
	// Value is what was refused (a path, a host, a key), when known.
	Value string
	// Message is the host's explanation.
	Message string
	// ID is the audit id of a denial.
	ID string
}

// Error reads "capability not granted: <message>" for a denial and
// "<code>: <message>" otherwise.
func (e *Error) Error() string {
	if e.Code == "denied" {
		return "capability not granted: " + e.Message
	}
	return e.Code + ": " + e.Message
}

// Is matches the sentinel of e's code (ErrDenied for "denied", …).
func (e *Error) Is(target error) bool {
	s, ok := codeErrors[e.Code]
	return ok && s == target
}

// parseErrorDoc decodes the host's error document; an unreadable one
// still becomes an *Error (code "io") that says so.
func parseErrorDoc(b []byte) *Error {
	v, err := ParseJSON(b)
	m := jObj(v)
	if err != nil || m == nil {
		return &Error{Code: "io", Message: "capability error document is not a JSON object: " + string(b)}
	}
	return &Error{Code: jStr(m, "code"), Capability: jStr(m, "capability"), Value: jStr(m, "value"), Message: jStr(m, "message"), ID: jStr(m, "id")}
}
