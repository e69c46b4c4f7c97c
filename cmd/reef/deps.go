package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/config"
	"github.com/reefhq/reef/runtime/engine"
	"github.com/reefhq/reef/runtime/policy"
)

// runtimeDeps is what commands that run skills need.
type runtimeDeps struct {
	cfg     *config.Config
	eng     *engine.Engine
	grants  *policy.Grants
	audit   *policy.Audit
	rec     policy.Recorder
	modules []abi.Module
	closers []io.Closer
}

// openRuntime loads grants (a syntax error stops reef here, with the
// location), opens the audit log, builds the capabilities and the engine.
func (f *factory) openRuntime(ctx context.Context) (*runtimeDeps, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	grants, err := policy.LoadGrants(cfg.GrantsFile)
	if err != nil {
		return nil, usageErr(err)
	}
	d := &runtimeDeps{cfg: cfg, grants: grants}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, usageErr(fmt.Errorf("data directory: %w", err))
	}
	if d.audit, err = policy.OpenAudit(cfg.AuditLog); err != nil {
		return nil, usageErr(err)
	}
	d.rec = d.audit
	if f.recorder != nil {
		d.rec = policy.Recorders{d.audit, f.recorder}
	}
	mods, closers, err := buildModules(cfg, f.Logger())
	if err != nil {
		d.close(ctx)
		return nil, usageErr(err)
	}
	d.modules, d.closers = mods, closers
	ec := engine.NewConfig().WithLogger(f.Logger()).WithModules(mods...).WithRecorder(d.rec).WithMaxIdle(cfg.MaxWorkers)
	if lvl, err := config.ParseLevel(cfg.LogLevel); err == nil {
		ec = ec.WithGuestLogLevel(lvl)
	}
	if cfg.CacheDir != "off" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err == nil {
			ec = ec.WithCacheDir(cfg.CacheDir).WithCacheLimit(int64(cfg.CacheSize))
		}
	}
	if d.eng, err = engine.New(ctx, ec); err != nil {
		d.close(ctx)
		return nil, err
	}
	return d, nil
}

func (d *runtimeDeps) close(ctx context.Context) {
	var errs []error
	if d.eng != nil {
		errs = append(errs, d.eng.Close(ctx))
	}
	for _, c := range d.closers {
		errs = append(errs, c.Close())
	}
	if d.audit != nil {
		errs = append(errs, d.audit.Close())
	}
	_ = errors.Join(errs...)
}
