package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// grantOptions are the capability flags shared by grant and revoke.
type grantOptions struct {
	fs, http, httpMethods, browser, mailAccount, mailSend, mailRead, secrets []string
	browserEval, mailModify, pin, all                                        bool
	kv, isolation                                                            string
}

func (o *grantOptions) flags(cmd *cobra.Command, revoke bool) {
	f := cmd.Flags()
	f.StringArrayVar(&o.fs, "fs", nil, "filesystem mount GUEST=HOSTDIR:ro|rw (revoke: GUEST)")
	f.StringArrayVar(&o.http, "http", nil, "HTTP host pattern, e.g. api.example.org, *.example.org, http://127.0.0.1:8080")
	f.StringArrayVar(&o.httpMethods, "http-method", nil, "HTTP method (default GET, HEAD)")
	f.StringArrayVar(&o.browser, "browser", nil, "browser host pattern")
	f.BoolVar(&o.browserEval, "browser-eval", false, "arbitrary JavaScript in the browser")
	f.StringArrayVar(&o.mailAccount, "mail-account", nil, "mail account name from config.yaml")
	f.StringArrayVar(&o.mailSend, "mail-send", nil, "recipient pattern, e.g. *@corp.example")
	f.StringArrayVar(&o.mailRead, "mail-read", nil, "mailbox, e.g. INBOX")
	f.BoolVar(&o.mailModify, "mail-modify", false, "mark seen and move in granted mailboxes")
	f.StringArrayVar(&o.secrets, "secret", nil, "operator secret name the host may inject")
	if revoke {
		f.BoolVar(&o.all, "all", false, "remove every grant of the skill")
		f.BoolVar(&o.pin, "unpin", false, "remove the digest pin")
		f.StringVar(&o.kv, "kv", "", "any value: remove the key-value grant")
		f.Lookup("kv").NoOptDefVal = "all"
	} else {
		f.StringVar(&o.kv, "kv", "", "key-value quota, e.g. 1MiB")
		f.BoolVar(&o.pin, "pin", false, "pin the grant to the skill's current wasm digest")
		f.StringVar(&o.isolation, "isolation", "", "force isolation: pooled or call")
	}
}

func newGrantCmd(f *factory) *cobra.Command {
	o := &grantOptions{}
	cmd := &cobra.Command{
		Use:   "grant SKILL [flags]",
		Short: "Grant capabilities to a skill (edits grants.yaml, keeping comments)",
		Long: `Grant capabilities to a skill. What a skill can use is what it requests
in reef.yaml intersected with what is granted here; everything else is
denied. grants.yaml is edited in place (comments kept) and written
atomically.

  reef grant web-text --browser '*.example.org'
  reef grant notes --fs /data=/srv/notes:rw --kv 1MiB
  reef grant mail-send --mail-account work --mail-send '*@corp.example'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGrant(f, args[0], o, false)
		},
	}
	o.flags(cmd, false)
	return cmd
}

func newRevokeCmd(f *factory) *cobra.Command {
	o := &grantOptions{}
	cmd := &cobra.Command{
		Use:   "revoke SKILL [flags]",
		Short: "Revoke capabilities from a skill (edits grants.yaml)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGrant(f, args[0], o, true)
		},
	}
	o.flags(cmd, true)
	return cmd
}

func runGrant(f *factory, name string, o *grantOptions, revoke bool) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	// A path may be given instead of a name; the grant is keyed by name.
	var digest string
	if s, err := f.loadSkill(name); err == nil {
		name = s.Name
		digest = s.Digest
	} else if o.pin && !revoke {
		return err
	} else if err := policy.ValidSkillName(filepath.Base(name)); err != nil {
		return usageErr(err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.GrantsFile), 0o700); err != nil {
		return usageErr(fmt.Errorf("config directory: %w", err))
	}
	err = policy.UpdateGrants(cfg.GrantsFile, func(g *policy.Grants) error {
		if revoke && o.all {
			if !g.Revoke(name) {
				return fmt.Errorf("skill %q has no grant", name)
			}
			return nil
		}
		gr, err := g.Skill(name)
		if err != nil {
			return err
		}
		if revoke {
			return applyRevoke(gr, o)
		}
		return applyGrant(gr, o, digest)
	})
	if err != nil {
		return usageErr(err)
	}
	verb := "granted"
	if revoke {
		verb = "revoked"
	}
	fmt.Fprintf(f.out, "%s: %s (%s)\n", name, verb, cfg.GrantsFile)
	return nil
}

func applyGrant(gr *policy.Grant, o *grantOptions, digest string) error {
	for _, v := range o.fs {
		guest, spec, err := policy.ParseFSFlag(v)
		if err != nil {
			return err
		}
		if err := gr.AddFS(guest, spec); err != nil {
			return err
		}
	}
	steps := []struct {
		vals []string
		add  func(string) error
	}{
		{o.http, gr.AddHTTPHost}, {o.httpMethods, gr.AddHTTPMethod}, {o.browser, gr.AddBrowserHost},
		{o.mailAccount, gr.AddMailAccount}, {o.mailSend, gr.AddMailSend}, {o.mailRead, gr.AddMailRead},
		{o.secrets, gr.AddSecret},
	}
	for _, st := range steps {
		for _, v := range st.vals {
			if err := st.add(v); err != nil {
				return err
			}
		}
	}
	if o.browserEval {
		if err := gr.SetBrowserEval(true); err != nil {
			return err
		}
	}
	if o.mailModify {
		gr.SetMailModify(true)
	}
	if o.kv != "" {
		q, err := skill.ParseSize(o.kv)
		if err != nil {
			return fmt.Errorf("--kv: %w", err)
		}
		if err := gr.SetKV(q); err != nil {
			return err
		}
	}
	if o.isolation != "" {
		if err := gr.SetIsolation(skill.Isolation(o.isolation)); err != nil {
			return err
		}
	}
	if o.pin {
		if err := gr.SetDigest(digest); err != nil {
			return err
		}
	}
	return nil
}

func applyRevoke(gr *policy.Grant, o *grantOptions) error {
	steps := []struct {
		vals   []string
		remove func(string) bool
		what   string
	}{
		{o.fs, gr.RemoveFS, "fs"}, {o.http, gr.RemoveHTTPHost, "http host"}, {o.httpMethods, gr.RemoveHTTPMethod, "http method"},
		{o.browser, gr.RemoveBrowserHost, "browser host"}, {o.mailAccount, gr.RemoveMailAccount, "mail account"},
		{o.mailSend, gr.RemoveMailSend, "mail recipient"}, {o.mailRead, gr.RemoveMailRead, "mailbox"}, {o.secrets, gr.RemoveSecret, "secret"},
	}
	for _, st := range steps {
		for _, v := range st.vals {
			if !st.remove(v) {
				return fmt.Errorf("%s %q was not granted", st.what, v)
			}
		}
	}
	if o.browserEval {
		if err := gr.SetBrowserEval(false); err != nil {
			return err
		}
	}
	if o.mailModify {
		gr.SetMailModify(false)
	}
	if o.kv != "" && !gr.RemoveKV() {
		return fmt.Errorf("kv was not granted")
	}
	if o.pin {
		gr.Digest = ""
	}
	return nil
}
