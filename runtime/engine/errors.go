package engine

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies a call failure so callers (CLI exit codes, HTTP status)
// branch without reading messages.
type Kind int

const (
	// KindGuest: the guest reported an error (Extism error_set or a
	// non-zero return code).
	KindGuest Kind = iota + 1
	// KindTrap: the guest trapped (unreachable, out-of-bounds, stack
	// overflow, a panic in a host function…).
	KindTrap
	// KindTimeout: the call ran past its timeout.
	KindTimeout
	// KindCanceled: the caller's context was canceled.
	KindCanceled
	// KindOutput: the output exceeded the output limit.
	KindOutput
	// KindNotFound: no such function.
	KindNotFound
	// KindInstance: a fresh instance could not be created (start function
	// trapped, memory over the limit…).
	KindInstance
	// KindInput: the input was refused before the guest ran.
	KindInput
	// KindClosed: the plugin was closed (skill unloaded).
	KindClosed
)

var kindNames = map[Kind]string{
	KindGuest: "guest error", KindTrap: "trap", KindTimeout: "timeout", KindCanceled: "canceled",
	KindOutput: "output too large", KindNotFound: "no such function", KindInstance: "instance failed",
	KindInput: "invalid input", KindClosed: "skill unloaded",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// CallError is the error of a failed call. It names the skill and function;
// Err carries the cause (for a trap, wazero's message with the wasm stack).
type CallError struct {
	Skill    string
	Function string
	Kind     Kind
	// Code is the guest's non-zero return code (KindGuest), else 0.
	Code uint32
	Err  error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("skill %q function %q: %s: %v", e.Skill, e.Function, e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *CallError) Unwrap() error { return e.Err }

// Is makes a timeout match context.DeadlineExceeded and a cancellation
// context.Canceled.
func (e *CallError) Is(target error) bool {
	switch e.Kind {
	case KindTimeout:
		return target == context.DeadlineExceeded
	case KindCanceled:
		return target == context.Canceled
	}
	return false
}

// LoadError is a module that cannot be loaded: not Wasm, truncated, an
// import reef does not provide, a declared function that is not exported,
// memory over the limit.
type LoadError struct {
	Skill  string
	Reason string
	Err    error
}

func (e *LoadError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("skill %q: %s: %v", e.Skill, e.Reason, e.Err)
	}
	return fmt.Sprintf("skill %q: %s", e.Skill, e.Reason)
}

// Unwrap returns the cause.
func (e *LoadError) Unwrap() error { return e.Err }

// KindOf returns the Kind of a call error, or 0.
func KindOf(err error) Kind {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return 0
}
