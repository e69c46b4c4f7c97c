package abi

import (
	"context"
	"log/slog"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/reefhq/reef/runtime/policy"
)

// Call is what a capability handler sees of the guest call it serves. The
// engine implements it; a Call is used by one goroutine at a time and is
// invalid after the handler returns (copy what you keep).
type Call interface {
	// Context is the call's context: it carries the call deadline.
	Context() context.Context
	// Skill and Function name the running call.
	Skill() string
	Function() string
	// Policy is the skill's effective policy (never nil).
	Policy() *policy.Policy
	// Logger logs with skill and function attributes.
	Logger() *slog.Logger
	// Value returns per-call state stored under key, creating it with
	// init on first use (e.g. a request counter). init may be nil.
	Value(key any, init func() any) any
}

// Handler serves one capability function: req is the JSON request, data
// the optional payload (nil when the guest passed handle 0). The returned
// bytes become the guest's response; an error becomes the error document
// (see ToDocument). Slices passed in are only valid during the call.
type Handler func(c Call, req, data []byte) ([]byte, error)

// Func is one capability function.
type Func struct {
	// Name is the import name in UserModule (see names.go).
	Name    string
	Handler Handler
}

// Module is one capability. Name is the capability ("fs", "http", …);
// Funcs is its functions. Modules are constructed by the wiring code
// (cmd/reef, server) with their configuration, and must be safe for
// concurrent use.
type Module interface {
	Name() string
	Funcs() []Func
}

// Closer is implemented by modules that hold resources (bbolt files,
// browser processes, mail connections).
type Closer interface {
	Close() error
}

// Preopen is one WASI directory offered to the guest.
type Preopen struct {
	// Guest is the guest path ("/data").
	Guest string
	// FS serves it; it must confine every access to the granted root.
	FS experimentalsys.FS
}

// Preopener is implemented by the fs capability: it returns the WASI
// preopens for a policy's mounts. The engine calls it for every new
// instance.
type Preopener interface {
	Preopens(p *policy.Policy) ([]Preopen, error)
}

// ExtismHTTP serves the Extism kernel's http_request host function. req is
// Extism's JSON request ({"url", "method", "headers"}), body the optional
// payload. The http capability implements it with the same checks as
// reef_http_fetch.
type ExtismHTTP interface {
	ExtismRequest(c Call, req, body []byte) (status int, headers map[string]string, respBody []byte, err error)
}
