package main

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi"
	hostbrowser "github.com/reefhq/reef/hostfuncs/browser"
	hostfs "github.com/reefhq/reef/hostfuncs/fs"
	hosthttp "github.com/reefhq/reef/hostfuncs/http"
	hostkv "github.com/reefhq/reef/hostfuncs/kv"
	hostmail "github.com/reefhq/reef/hostfuncs/mail"
	"github.com/reefhq/reef/runtime/config"
)

// buildModules is the one list of built-in capabilities: each is built
// from config.yaml and registered explicitly. Nothing here touches the
// network or starts a browser; capabilities connect on first use.
func buildModules(cfg *config.Config, log *slog.Logger) ([]abi.Module, []io.Closer, error) {
	var mods []abi.Module
	var closers []io.Closer
	add := func(m abi.Module) {
		mods = append(mods, m)
		if c, ok := m.(io.Closer); ok {
			closers = append(closers, c)
		}
	}

	add(hostfs.New(hostfs.Options{
		QuotaBytes:   int64(cfg.FS.QuotaBytes),
		QuotaFiles:   cfg.FS.QuotaFiles,
		MaxFileBytes: int64(cfg.FS.MaxFileBytes),
		Logger:       log.With("capability", "fs"),
	}))

	secrets := hosthttp.EnvSecrets(hosthttp.DefaultSecretPrefix)
	if cfg.Secrets.Dir != "" {
		env, files := secrets, hosthttp.FileSecrets(cfg.Secrets.Dir)
		secrets = func(name string) (string, bool) {
			if v, ok := env(name); ok {
				return v, true
			}
			return files(name)
		}
	}

	httpMod := hosthttp.New(hosthttp.Options{
		Timeout:            time.Duration(cfg.HTTP.Timeout),
		MaxResponseBytes:   int64(cfg.HTTP.MaxResponseBytes),
		MaxRequestsPerCall: cfg.HTTP.MaxRequestsPerCall,
		Secrets:            secrets,
		Logger:             log.With("capability", "http"),
	})
	add(httpMod)

	// The browser shares the http capability's guarded dialer, so a page
	// reaches exactly the addresses reef_http_fetch could.
	add(hostbrowser.New(hostbrowser.Options{
		ExecPath:    cfg.Browser.ExecPath,
		RemoteURL:   cfg.Browser.RemoteURL,
		MaxContexts: cfg.Browser.MaxContexts,
		Warm:        cfg.Browser.Warm,
		CallTimeout: time.Duration(cfg.Browser.Timeout),
		Dial:        httpMod.Guard().DialContext,
		Logger:      log.With("capability", "browser"),
	}))

	add(&lazyKV{opts: hostkv.Options{Path: cfg.KV.Path, MaxValueBytes: int64(cfg.KV.MaxValueBytes), Logger: log.With("capability", "kv")}})

	accounts := map[string]hostmail.Account{}
	for name, node := range cfg.Mail.Accounts {
		var a hostmail.Account
		if err := node.Decode(&a); err != nil {
			return nil, nil, fmt.Errorf("%s: mail.accounts.%s: %w", cfg.File, name, err)
		}
		accounts[name] = a
	}
	mail, err := hostmail.New(hostmail.Options{Accounts: accounts, Logger: log.With("capability", "mail")})
	if err != nil {
		return nil, nil, fmt.Errorf("mail: %w", err)
	}
	add(mail)

	return mods, closers, nil
}

// lazyKV opens the key-value store on the first kv call, so commands and
// skills that never use kv do not take the store's file lock (a one-shot
// `reef run` beside a running daemon).
type lazyKV struct {
	opts hostkv.Options
	once sync.Once
	mod  *hostkv.Module
	fns  []abi.Func
	err  error
}

func (l *lazyKV) Name() string { return "kv" }

func (l *lazyKV) open() (*hostkv.Module, error) {
	l.once.Do(func() {
		if l.mod, l.err = hostkv.Open(l.opts); l.err == nil {
			l.fns = l.mod.Funcs()
		}
	})
	return l.mod, l.err
}

func (l *lazyKV) Funcs() []abi.Func {
	// The function names come from a closed module so the list is known
	// without opening the store.
	var names []string
	for _, f := range (&hostkv.Module{}).Funcs() {
		names = append(names, f.Name)
	}
	out := make([]abi.Func, 0, len(names))
	for i, name := range names {
		out = append(out, abi.Func{Name: name, Handler: func(c abi.Call, req, data []byte) ([]byte, error) {
			if _, err := l.open(); err != nil {
				return nil, abi.Errorf(abi.CodeUnavailable, "key-value store: %v", err)
			}
			return l.fns[i].Handler(c, req, data)
		}})
	}
	return out
}

func (l *lazyKV) Close() error {
	if l.mod != nil {
		return l.mod.Close()
	}
	return nil
}
