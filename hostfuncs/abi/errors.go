package abi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/reefhq/reef/runtime/policy"
)

// Error codes of the guest-visible error document. PDKs map "denied" to
// their language's "capability not granted" error.
const (
	CodeDenied      = "denied"
	CodeNotFound    = "not_found"
	CodeInvalid     = "invalid"
	CodeExists      = "exists"
	CodeLimit       = "limit"
	CodeTimeout     = "timeout"
	CodeIO          = "io"
	CodeUnavailable = "unavailable"
	CodeConflict    = "conflict"
)

// Error is both a Go error returned by capability handlers and the JSON
// document the guest receives.
type Error struct {
	Code       string `json:"code"`
	Capability string `json:"capability,omitempty"`
	Value      string `json:"value,omitempty"`
	Message    string `json:"message"`
	// ID is the audit id of a denial.
	ID string `json:"id,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error with a code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ToDocument converts any handler error into the guest's error document.
// It is the single place where Go errors become guest results.
func ToDocument(capability string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		out := *e
		if out.Capability == "" {
			out.Capability = capability
		}
		return &out
	}
	var d *policy.Denial
	if errors.As(err, &d) {
		return &Error{Code: CodeDenied, Capability: d.Capability, Value: d.Value, Message: d.Error(), ID: d.ID}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeTimeout, Capability: capability, Message: err.Error()}
	}
	return &Error{Code: CodeIO, Capability: capability, Message: err.Error()}
}

// Marshal encodes the document.
func (e *Error) Marshal() []byte {
	b, _ := json.Marshal(e)
	return b
}
