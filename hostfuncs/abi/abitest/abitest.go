// Package abitest provides an abi.Call for testing capability handlers
// directly, without a Wasm guest. End-to-end tests run real guests through
// runtime/engine instead.
package abitest

import (
	"context"
	"log/slog"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// Call is a test abi.Call.
type Call struct {
	Ctx    context.Context
	SkillN string
	FuncN  string
	Pol    *policy.Policy
	Log    *slog.Logger
	values map[any]any
}

// New returns a Call for skill running under p.
func New(ctx context.Context, skill string, p *policy.Policy) *Call {
	if p == nil {
		p = &policy.Policy{Skill: skill}
	}
	return &Call{Ctx: ctx, SkillN: skill, FuncN: "test", Pol: p, Log: slog.New(slog.DiscardHandler)}
}

func (c *Call) Context() context.Context { return c.Ctx }
func (c *Call) Skill() string            { return c.SkillN }
func (c *Call) Function() string         { return c.FuncN }
func (c *Call) Policy() *policy.Policy   { return c.Pol }
func (c *Call) Logger() *slog.Logger     { return c.Log }

// Value implements abi.Call.
func (c *Call) Value(key any, init func() any) any {
	if c.values == nil {
		c.values = map[any]any{}
	}
	v, ok := c.values[key]
	if !ok && init != nil {
		v = init()
		c.values[key] = v
	}
	return v
}

var _ abi.Call = (*Call)(nil)
