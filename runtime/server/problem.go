package server

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
)

// Stable error codes of problem documents. Clients branch on these, never
// on titles or details.
const (
	CodeNotFound     = "not_found"
	CodeDenied       = "denied"
	CodeTimeout      = "timeout"
	CodeTrap         = "trap"
	CodeTooLarge     = "too_large"
	CodeOverloaded   = "overloaded"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeBadRequest   = "bad_request"
	CodeUnavailable  = "unavailable"
	CodeGuestError   = "guest_error"
	CodeMethod       = "method_not_allowed"
	CodeInternal     = "internal"
)

var codeTitles = map[string]string{
	CodeNotFound:     "Not found",
	CodeDenied:       "Capability denied",
	CodeTimeout:      "Skill call timed out",
	CodeTrap:         "Skill trapped",
	CodeTooLarge:     "Too large",
	CodeOverloaded:   "Overloaded",
	CodeUnauthorized: "Unauthorized",
	CodeForbidden:    "Forbidden",
	CodeBadRequest:   "Bad request",
	CodeUnavailable:  "Unavailable",
	CodeGuestError:   "Skill reported an error",
	CodeMethod:       "Method not allowed",
	CodeInternal:     "Internal error",
}

// ProblemContentType is the media type of error bodies (RFC 7807).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 7807 problem document with reef's extensions.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Code is the stable machine-readable error code.
	Code string `json:"code"`
	// ID correlates the response with the server log line.
	ID string `json:"id"`
	// AuditID is the audit log id of a capability denial.
	AuditID    string `json:"audit_id,omitempty"`
	Skill      string `json:"skill,omitempty"`
	Function   string `json:"function,omitempty"`
	Capability string `json:"capability,omitempty"`
	// Pointer is the JSON pointer of invalid input.
	Pointer string `json:"pointer,omitempty"`
}

func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

func problem(status int, code, detail string) *Problem {
	return &Problem{Type: "urn:reef:problem:" + code, Title: codeTitles[code], Status: status, Code: code, Detail: detail}
}

// writeProblem sends p with the request's id. Retry-After is set for
// overloaded and unavailable.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	rs := stateOf(w)
	p.ID = rs.id
	if p.Instance == "" {
		p.Instance = r.URL.Path
	}
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	switch p.Code {
	case CodeOverloaded, CodeUnavailable:
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", strconv.Itoa(1))
		}
	case CodeUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="reef"`)
	}
	b, _ := json.Marshal(p)
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
	rs.problem = p
}

// newID returns a request id: 16 hex digits from the runtime's
// per-thread ChaCha8 generator (math/rand/v2). A request id correlates a
// response with its log line; it is not a secret, so it needs no
// crypto/rand read per request.
func newID() string {
	var b [16]byte
	const digits = "0123456789abcdef"
	v := rand.Uint64()
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}
