package policy

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Capability names used in decisions, denials, audit lines and metrics.
const (
	CapFS      = "fs"
	CapHTTP    = "http"
	CapBrowser = "browser"
	CapEval    = "browser.eval"
	CapMail    = "mail"
	CapKV      = "kv"
	CapSecrets = "secrets"
)

// Denial is the one error type for a refused capability use. Callers branch
// with errors.As; server maps it to 403 / code "denied", the CLI to exit 3.
type Denial struct {
	// Skill is the skill that asked.
	Skill string
	// Capability is one of the Cap… constants.
	Capability string
	// Value is what was asked for: a path, host, URL, recipient, mailbox….
	Value string
	// Reason says which rule refused it ("not requested by the skill",
	// "not granted", "private address", …).
	Reason string
	// ID correlates this error with its audit line.
	ID string
}

func (d *Denial) Error() string {
	return fmt.Sprintf("skill %q: %s denied for %q: %s (audit id %s)", d.Skill, d.Capability, d.Value, d.Reason, d.ID)
}

// NewDenial builds a Denial with a fresh ID.
func NewDenial(skill, capability, value, reason string) *Denial {
	return &Denial{Skill: skill, Capability: capability, Value: value, Reason: reason, ID: newID()}
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
