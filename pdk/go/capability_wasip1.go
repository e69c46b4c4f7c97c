//go:build wasip1

package reef

import (
	"encoding/json"
	"fmt"
)

// Error is the error document a capability returns.
type Error struct {
	Code       string `json:"code"`
	Capability string `json:"capability,omitempty"`
	Value      string `json:"value,omitempty"`
	Message    string `json:"message"`
	ID         string `json:"id,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Is makes a denial match ErrDenied.
func (e *Error) Is(target error) bool { return target == ErrDenied && e.Code == "denied" }

// call runs one capability function: req is JSON-encoded, data optional.
func call(fn func(req, data uint64) int64, req any, data []byte) ([]byte, error) {
	rb, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	rh := store(rb)
	var dh uint64
	if data != nil {
		dh = store(data)
	}
	r := fn(rh, dh)
	if r < 0 {
		var e Error
		if err := json.Unmarshal(load(uint64(-r)), &e); err != nil {
			return nil, fmt.Errorf("capability error (unreadable document): %w", err)
		}
		return nil, &e
	}
	return load(uint64(r)), nil
}
