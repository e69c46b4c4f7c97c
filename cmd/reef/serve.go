package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/reefhq/reef/runtime/metrics"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/registry"
	"github.com/reefhq/reef/runtime/server"
	"github.com/reefhq/reef/runtime/skill"
)

type serveOptions struct {
	listen string
}

func newServeCmd(f *factory) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: HTTP API, metrics, hot reload",
		Long: `Run reef as a daemon: the HTTP API under /v1 (invoke, list, inspect,
reload, grants), /healthz, /readyz and /metrics, reloading skills and
grants as their files change.

Every endpoint but the probes needs a bearer token (config.yaml
auth.tokens, or $REEF_ADMIN_TOKEN). With none configured, reef generates an
admin token on first start, stores it in admin.token in its config
directory (mode 0600), prints it once, and listens on loopback only.

SIGINT or SIGTERM drains: new calls get 503, in-flight calls finish within
server.shutdown_timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", "", "address to listen on (default $REEF_LISTEN, then config.yaml listen, then 127.0.0.1:7777)")
	return cmd
}

func runServe(ctx context.Context, f *factory, o *serveOptions) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	if o.listen != "" {
		cfg.Listen = o.listen
	}
	log := f.Logger()
	var opts []server.Option
	envTok := os.Getenv("REEF_ADMIN_TOKEN")
	if envTok != "" {
		opts = append(opts, server.WithToken("REEF_ADMIN_TOKEN", server.RoleAdmin, envTok))
	}
	if len(cfg.Auth.Tokens) == 0 && envTok == "" {
		tok, path, created, err := server.EnsureAdminToken(cfg.Dir)
		if err != nil {
			return usageErr(err)
		}
		opts = append(opts, server.WithToken(server.AdminTokenFile, server.RoleAdmin, tok))
		if created {
			fmt.Fprintf(f.err, "reef: no token configured; generated an admin token (shown once, stored in %s):\n\n    %s\n\n", path, tok)
		} else {
			fmt.Fprintf(f.err, "reef: no token configured; using the admin token in %s\n", path)
		}
		if !server.IsLoopback(cfg.Listen) {
			lb := server.LoopbackOnly(cfg.Listen)
			log.Warn("no token configured: listening on loopback only; run `reef setup` or set REEF_ADMIN_TOKEN to listen elsewhere", "asked", cfg.Listen, "listen", lb)
			cfg.Listen = lb
		}
	}

	prom := prometheus.NewRegistry()
	var reg *registry.Registry
	m := metrics.New(prom, metrics.Options{Version: version, Source: func() metrics.Snapshot { return metrics.RegistrySnapshot(reg) }})
	// Capability denials go to the audit log and the metrics counter.
	f.recorder = m.Recorder()
	d, err := f.openRuntime(ctx)
	if err != nil {
		return err
	}
	defer d.close(context.WithoutCancel(ctx))
	var digests *skill.DigestCache
	if !cfg.Server.Preload && cfg.CacheDir != "off" {
		// Lazy loading hashes every module at start; unchanged modules'
		// digests come from here instead (the engine still checks the
		// bytes it compiles).
		digests = skill.OpenDigestCache(filepath.Join(cfg.CacheDir, "module-digests.json"))
	}
	reg = registry.New(registry.Options{
		Dir: cfg.SkillDir, Engine: d.eng, Grants: d.grants, Recorder: d.rec, Logger: log,
		Lazy:        !cfg.Server.Preload,
		Digests:     digests,
		OnLoadError: func(name string, err error) { m.LoadError(name) },
		OnSwap: func(name string, removed bool) {
			if removed {
				m.Forget(name)
			}
		},
	})
	defer reg.Close()
	audit := d.audit
	opts = append(opts,
		server.WithRegistry(reg), server.WithConfig(cfg), server.WithLogger(log), server.WithMetrics(m, prom),
		server.WithGrantsFile(cfg.GrantsFile), server.WithWatch(0), server.WithVersion(version),
		server.WithAudit(func(a server.AdminAction) { auditAdmin(audit, a, cfg.GrantsFile, cfg.SkillDir) }),
	)
	srv, err := server.New(opts...)
	if err != nil {
		return usageErr(err)
	}
	if srv.Tokens() == 0 {
		return usageErr(fmt.Errorf("no bearer token: every request would be refused"))
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return usageErr(fmt.Errorf("listen: %w", err))
	}
	scheme := "http"
	if cfg.Server.TLSCert != "" {
		scheme = "https"
	}
	log.Info("reef serving", "url", scheme+"://"+ln.Addr().String(), "skill_dir", cfg.SkillDir, "grants", cfg.GrantsFile, "workers", cfg.MaxWorkers, "tokens", srv.Tokens())
	fmt.Fprintf(f.err, "reef: serving on %s://%s (skills in %s)\n", scheme, ln.Addr(), cfg.SkillDir)
	return srv.Serve(ctx, ln)
}

// auditAdmin writes one admin action to the audit log.
func auditAdmin(a *policy.Audit, act server.AdminAction, grantsFile, skillDir string) {
	if a == nil {
		return
	}
	target := filepath.Clean(skillDir)
	if act.Action == "grants.write" {
		target = grantsFile
	}
	result := "ok"
	if !act.OK {
		result = "failed"
	}
	a.AdminDetail(fmt.Sprintf("%s (%s) from %s", act.Token, act.Role, act.Remote), act.Action, target,
		fmt.Sprintf("%s: %s (request %s)", result, act.Detail, act.ID))
}
