package author

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoSource is matched (errors.Is) by *NoSourceError.
var ErrNoSource = errors.New("no skill source")

// NoSourceError is a skill folder without source reef can build.
type NoSourceError struct {
	Dir    string
	Detail string
}

func (e *NoSourceError) Error() string {
	msg := fmt.Sprintf("%s: no skill source to build (want go.mod/*.go, *.c, lib.rs or src/lib.rs, or assembly/index.ts)", e.Dir)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Is makes the error match ErrNoSource.
func (e *NoSourceError) Is(target error) bool { return target == ErrNoSource }

// UnknownLanguageError is a folder whose sources are in a language reef
// does not build, or in more than one language.
type UnknownLanguageError struct {
	Dir   string
	Found []string
	// Mixed lists the languages when there are several.
	Mixed []string
}

func (e *UnknownLanguageError) Error() string {
	if len(e.Mixed) > 1 {
		return fmt.Sprintf("%s: sources in several languages (%s: %s); keep one language per skill", e.Dir, strings.Join(e.Mixed, ", "), strings.Join(e.Found, ", "))
	}
	return fmt.Sprintf("%s: unknown language: found %s; reef builds Go, C, Rust and AssemblyScript skills", e.Dir, strings.Join(e.Found, ", "))
}

// ToolchainError is a compiler that is not installed; Install says how
// to get it.
type ToolchainError struct {
	Lang    Lang
	Tool    string
	Install string
	Err     error
}

func (e *ToolchainError) Error() string {
	return fmt.Sprintf("%s toolchain: %s not found: %s", e.Lang, e.Tool, e.Install)
}

func (e *ToolchainError) Unwrap() error { return e.Err }

// CompileError is a compiler that ran and failed. Output is what it
// printed.
type CompileError struct {
	Lang    Lang
	Command string
	Output  string
	// Removed names the previous module deleted because it no longer
	// matches its source ("" when there was none).
	Removed string
	Err     error
}

func (e *CompileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s build failed: %v\n$ %s\n%s", e.Lang, e.Err, e.Command, strings.TrimRight(e.Output, "\n"))
	if e.Removed != "" {
		fmt.Fprintf(&b, "\nremoved the previous %s so a stale module cannot run", e.Removed)
	}
	return b.String()
}

func (e *CompileError) Unwrap() error { return e.Err }

// ExistsError is Scaffold refusing a folder that is not empty.
type ExistsError struct {
	Dir     string
	Entries []string
}

func (e *ExistsError) Error() string {
	list := e.Entries
	more := ""
	if len(list) > 5 {
		list, more = list[:5], ", …"
	}
	return fmt.Sprintf("%s already exists and is not empty (%s%s): choose another folder or pass --force to overwrite the skill files", e.Dir, strings.Join(list, ", "), more)
}
