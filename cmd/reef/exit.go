package main

import (
	"errors"

	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/registry"
	"github.com/reefhq/reef/runtime/skill"
)

// Exit codes, documented in README.
const (
	exitOK     = 0
	exitSkill  = 1 // the skill failed: guest error, trap, timeout
	exitUsage  = 2 // usage, configuration or load error
	exitDenied = 3 // a capability was denied
)

// usageError marks errors that are the caller's: bad flags, bad config,
// a skill that does not load.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErr(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// silentError carries an exit code for an error already reported.
type silentError struct{ code int }

func (e *silentError) Error() string { return "exit" }

// exitCode maps an error to the process exit code; the one place this
// mapping lives.
func exitCode(err error) int {
	var (
		den    *policy.Denial
		silent *silentError
		ce     *engine.CallError
		le     *engine.LoadError
		sle    *registry.SkillLoadError
		ve     *skill.ValidationError
		ue     *usageError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &silent):
		return silent.code
	case errors.As(err, &den):
		return exitDenied
	case errors.As(err, &ce):
		if ce.Kind == engine.KindNotFound || ce.Kind == engine.KindInput {
			return exitUsage
		}
		return exitSkill
	case errors.As(err, &le), errors.As(err, &sle), errors.As(err, &ve), errors.As(err, &ue):
		return exitUsage
	}
	return exitUsage
}
