package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/charmbracelet/huh"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/reefhq/reef/runtime/config"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/registry"
	"github.com/reefhq/reef/runtime/server"
	"github.com/reefhq/reef/runtime/skill"
)

type setupOptions struct {
	yes            bool
	listen         string
	tlsCert        string
	tlsKey         string
	adminTokenFile string
	newAdmin       bool
	invokers       []string
	grant          []string
	grantAll       bool
	mounts         []string
}

func newSetupCmd(f *factory) *cobra.Command {
	o := &setupOptions{}
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Set up the daemon: listen address, skills to grant, tokens",
		Long: `Set up reef: the daemon's network address (and TLS), which skills of the
skill directory get what they request, and the bearer tokens of the RBAC
matrix (an admin token, optional invoker tokens limited to skill patterns).

Interactive in a terminal; with --yes it asks nothing and takes the flags
(and defaults) instead. Writes config.yaml and grants.yaml atomically.
Running it again edits both files: existing tokens, grants and settings
not named are kept. New tokens are shown once (or written to
--admin-token-file); only their SHA-256 hashes are stored.`,
		Example: `  reef setup
  reef setup --yes --listen 0.0.0.0:7777 --skill-dir /srv/skills --grant-all \
      --mount files:/data=/srv/data:ro --invoker assistant:web-*,hello \
      --admin-token-file /run/secrets/reef-admin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSetup(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.yes, "yes", "y", false, "ask nothing: use the flags and defaults")
	fl.StringVar(&o.listen, "listen", "", "daemon listen address (default: keep, else 127.0.0.1:7777)")
	fl.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (with --tls-key); without TLS put reef behind a reverse proxy or tunnel for remote use")
	fl.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file")
	fl.StringVar(&o.adminTokenFile, "admin-token-file", "", "write a new admin token to this file (mode 0600) instead of printing it")
	fl.BoolVar(&o.newAdmin, "new-admin-token", false, "create an admin token even if one exists")
	fl.StringArrayVar(&o.invokers, "invoker", nil, "create an invoker token NAME:PATTERN[,PATTERN…] (skill name patterns, e.g. assistant:web-*,hello); repeatable")
	fl.StringArrayVar(&o.grant, "grant", nil, "grant SKILL what it requests; repeatable")
	fl.BoolVar(&o.grantAll, "grant-all", false, "grant every skill in the skill directory what it requests")
	fl.StringArrayVar(&o.mounts, "mount", nil, "host directory for a granted fs request: SKILL:GUEST=HOSTDIR[:ro|rw]; repeatable")
	return cmd
}

// setupPlan is everything the wizard decided, before anything is written.
type setupPlan struct {
	configFile string
	listen     string
	tlsCert    string
	tlsKey     string
	skillDir   string
	newAdmin   bool
	invokers   []invokerSpec
	grants     map[string]bool              // skills to grant what they request
	mounts     map[string]map[string]string // skill -> guest -> "HOSTDIR:mode"
}

type invokerSpec struct {
	name     string
	patterns []string
}

func parseInvoker(s string) (invokerSpec, error) {
	name, pats, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(pats) == "" {
		return invokerSpec{}, fmt.Errorf("invoker %q: want NAME:PATTERN[,PATTERN…]", s)
	}
	spec := invokerSpec{name: name}
	for _, p := range strings.Split(pats, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return invokerSpec{}, fmt.Errorf("invoker %q: pattern %q: %w", s, p, err)
		}
		spec.patterns = append(spec.patterns, p)
	}
	if len(spec.patterns) == 0 {
		return invokerSpec{}, fmt.Errorf("invoker %q: no skill pattern", s)
	}
	return spec, nil
}

// parseMount reads SKILL:GUEST=HOSTDIR[:ro|rw].
func parseMount(s string) (skillName, guest, spec string, err error) {
	skillName, rest, ok := strings.Cut(s, ":")
	if !ok || skillName == "" {
		return "", "", "", fmt.Errorf("--mount %q: want SKILL:GUEST=HOSTDIR[:ro|rw]", s)
	}
	guest, spec, err = policy.ParseFSFlag(rest)
	if err != nil {
		return "", "", "", fmt.Errorf("--mount %q: %w", s, err)
	}
	return skillName, guest, spec, nil
}

func (f *factory) setupConfigFile() string {
	if f.g.configFile != "" {
		return f.g.configFile
	}
	if v := os.Getenv("REEF_CONFIG"); v != "" {
		return v
	}
	return filepath.Join(config.DefaultDir(), "config.yaml")
}

func runSetup(ctx context.Context, f *factory, o *setupOptions) error {
	file := f.setupConfigFile()
	existing := &config.Config{}
	if data, err := os.ReadFile(file); err == nil {
		if existing, err = config.Parse(file, data); err != nil {
			return usageErr(fmt.Errorf("existing %w (fix it or move it away, then run setup again)", err))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return usageErr(fmt.Errorf("config: %w", err))
	}
	p := &setupPlan{configFile: file, listen: existing.Listen, tlsCert: existing.Server.TLSCert, tlsKey: existing.Server.TLSKey,
		skillDir: existing.SkillDir, grants: map[string]bool{}, mounts: map[string]map[string]string{}}
	if p.listen == "" {
		p.listen = "127.0.0.1:7777"
	}
	if o.listen != "" {
		p.listen = o.listen
	}
	if o.tlsCert != "" || o.tlsKey != "" {
		p.tlsCert, p.tlsKey = o.tlsCert, o.tlsKey
	}
	if f.g.skillDir != "" {
		p.skillDir = f.g.skillDir
	}
	if p.skillDir == "" {
		if v := os.Getenv("SKILL_DIR"); v != "" {
			p.skillDir = v
		} else {
			p.skillDir = filepath.Join(config.DefaultDataDir(), "skills")
		}
	}
	hasAdmin := slices.ContainsFunc(existing.Auth.Tokens, func(t config.Token) bool { return t.Role == "admin" })
	p.newAdmin = o.newAdmin || !hasAdmin
	for _, s := range o.invokers {
		spec, err := parseInvoker(s)
		if err != nil {
			return usageErr(err)
		}
		p.invokers = append(p.invokers, spec)
	}
	for _, m := range o.mounts {
		sk, guest, spec, err := parseMount(m)
		if err != nil {
			return usageErr(err)
		}
		if p.mounts[sk] == nil {
			p.mounts[sk] = map[string]string{}
		}
		p.mounts[sk][guest] = spec
	}
	for _, g := range o.grant {
		p.grants[g] = true
	}

	if !o.yes {
		if !isTerminal(f.in) {
			return usageErr(errors.New("reef setup is interactive and standard input is not a terminal: run it in a terminal, or pass --yes with flags"))
		}
		if err := setupInteractive(ctx, f, p, existing); err != nil {
			if errors.Is(err, huh.ErrUserAborted) {
				fmt.Fprintln(f.err, "setup canceled; nothing written")
				return &silentError{code: exitUsage}
			}
			return err
		}
	} else {
		skills, err := scanForSetup(ctx, p.skillDir)
		if err != nil {
			return err
		}
		if o.grantAll {
			for _, s := range skills {
				p.grants[s.Name] = true
			}
		}
		for name := range p.grants {
			if !slices.ContainsFunc(skills, func(s *skill.Skill) bool { return s.Name == name }) {
				return usageErr(fmt.Errorf("--grant %s: no such skill in %s", name, p.skillDir))
			}
		}
	}
	return applySetup(ctx, f, p, o, existing)
}

func isTerminal(r io.Reader) bool {
	fl, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := fl.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// scanForSetup lists the loadable skills of dir (broken ones are reported
// and skipped).
func scanForSetup(ctx context.Context, dir string) ([]*skill.Skill, error) {
	reg := registry.New(registry.Options{Dir: dir})
	_ = reg.Scan(ctx)
	var out []*skill.Skill
	for _, st := range reg.List() {
		if st.Entry != nil {
			out = append(out, st.Entry.Skill)
		}
	}
	return out, nil
}

// describeRequests is one line per requested capability.
func describeRequests(c skill.Capabilities) []string {
	var out []string
	guests := make([]string, 0, len(c.FS))
	for g := range c.FS {
		guests = append(guests, g)
	}
	sort.Strings(guests)
	for _, g := range guests {
		out = append(out, fmt.Sprintf("fs %s (%s)", g, c.FS[g]))
	}
	if c.HTTP != nil {
		m := "GET, HEAD"
		if len(c.HTTP.Methods) > 0 {
			m = strings.Join(c.HTTP.Methods, ", ")
		}
		out = append(out, fmt.Sprintf("http %s [%s]", strings.Join(c.HTTP.Hosts, ", "), m))
	}
	if c.Browser != nil {
		s := "browser " + strings.Join(c.Browser.Hosts, ", ")
		if c.Browser.Eval {
			s += " +eval"
		}
		out = append(out, s)
	}
	if c.Mail != nil {
		if c.Mail.Send != nil {
			out = append(out, "mail send to "+strings.Join(c.Mail.Send.To, ", "))
		}
		if c.Mail.Read != nil {
			out = append(out, "mail read "+strings.Join(c.Mail.Read.Mailboxes, ", "))
		}
	}
	if c.KV != nil {
		out = append(out, "kv "+c.KV.Quota.String())
	}
	if len(c.Secrets) > 0 {
		out = append(out, "secrets "+strings.Join(c.Secrets, ", "))
	}
	return out
}

func setupInteractive(ctx context.Context, f *factory, p *setupPlan, existing *config.Config) error {
	in, _ := f.in.(*os.File)
	out, _ := f.out.(*os.File)
	run := func(groups ...*huh.Group) error {
		form := huh.NewForm(groups...)
		if in != nil {
			form = form.WithInput(in)
		}
		if out != nil {
			form = form.WithOutput(out)
		}
		return form.Run()
	}
	// 1. Network and skill library.
	if err := run(huh.NewGroup(
		huh.NewNote().Title("reef setup").Description("Network, skills and tokens. Existing settings, tokens and grants are kept; Ctrl+C cancels without writing."),
		huh.NewInput().Title("Listen address").Description("host:port of the daemon. 127.0.0.1 keeps it on this machine; for remote use prefer a reverse proxy or tunnel, or give TLS files below.").
			Value(&p.listen).Validate(validListen),
		huh.NewInput().Title("TLS certificate file (empty: plain HTTP)").Value(&p.tlsCert),
		huh.NewInput().Title("TLS key file (empty: plain HTTP)").Value(&p.tlsKey),
		huh.NewInput().Title("Skill directory").Value(&p.skillDir).Validate(func(s string) error {
			if strings.TrimSpace(s) == "" {
				return errors.New("a skill directory is required")
			}
			return nil
		}),
	)); err != nil {
		return err
	}
	if (p.tlsCert == "") != (p.tlsKey == "") {
		return usageErr(errors.New("give both a TLS certificate and a key, or neither"))
	}
	// 2. Which skills get what they request.
	skills, err := scanForSetup(ctx, p.skillDir)
	if err != nil {
		return err
	}
	if len(skills) > 0 {
		var opts []huh.Option[string]
		var chosen []string
		for _, s := range skills {
			reqs := describeRequests(s.Manifest.Capabilities)
			label := s.Name + " — requests nothing"
			if len(reqs) > 0 {
				label = s.Name + " — " + strings.Join(reqs, "; ")
			}
			opt := huh.NewOption(label, s.Name)
			if p.grants[s.Name] {
				opt = opt.Selected(true)
			}
			opts = append(opts, opt)
		}
		if err := run(huh.NewGroup(huh.NewMultiSelect[string]().Title(fmt.Sprintf("Skills in %s: grant what they request (space toggles, enter confirms)", p.skillDir)).
			Options(opts...).Value(&chosen))); err != nil {
			return err
		}
		for _, n := range chosen {
			p.grants[n] = true
		}
		// Host directories for fs requests.
		var fields []huh.Field
		type slot struct {
			skill, guest string
			mode         skill.Access
			host         *string
		}
		var slots []slot
		for _, s := range skills {
			if !p.grants[s.Name] {
				continue
			}
			for guest, mode := range s.Manifest.Capabilities.FS {
				host := new(string)
				slots = append(slots, slot{s.Name, guest, mode, host})
				fields = append(fields, huh.NewInput().Title(fmt.Sprintf("%s: host directory for %s (%s; empty: not granted)", s.Name, guest, mode)).Value(host).Validate(func(v string) error {
					if v != "" && !filepath.IsAbs(v) {
						return errors.New("an absolute path, please")
					}
					return nil
				}))
			}
		}
		if len(fields) > 0 {
			if err := run(huh.NewGroup(fields...)); err != nil {
				return err
			}
			for _, sl := range slots {
				if *sl.host == "" {
					continue
				}
				if p.mounts[sl.skill] == nil {
					p.mounts[sl.skill] = map[string]string{}
				}
				p.mounts[sl.skill][sl.guest] = *sl.host + ":" + string(sl.mode)
			}
		}
	} else {
		fmt.Fprintf(f.err, "no skills in %s yet; run reef setup again after adding some\n", p.skillDir)
	}
	// 3. Tokens.
	createAdmin := p.newAdmin
	var invokers string
	adminTitle := "Create an admin token? (none exists yet)"
	if slices.ContainsFunc(existing.Auth.Tokens, func(t config.Token) bool { return t.Role == "admin" }) {
		adminTitle = "Create another admin token? (one exists)"
	}
	if err := run(huh.NewGroup(
		huh.NewConfirm().Title(adminTitle).Value(&createAdmin),
		huh.NewInput().Title("Invoker tokens (optional)").Description("NAME:PATTERN[,PATTERN…], several separated by spaces; e.g. assistant:web-*,hello").Value(&invokers).Validate(func(s string) error {
			for _, x := range strings.Fields(s) {
				if _, err := parseInvoker(x); err != nil {
					return err
				}
			}
			return nil
		}),
	)); err != nil {
		return err
	}
	p.newAdmin = createAdmin
	for _, x := range strings.Fields(invokers) {
		spec, _ := parseInvoker(x)
		p.invokers = append(p.invokers, spec)
	}
	// 4. Confirm.
	ok := true
	if err := run(huh.NewGroup(huh.NewConfirm().Title(fmt.Sprintf("Write %s and the grants?", p.configFile)).Value(&ok))); err != nil {
		return err
	}
	if !ok {
		return huh.ErrUserAborted
	}
	return nil
}

func validListen(s string) error {
	if !strings.Contains(s, ":") {
		return fmt.Errorf("%q: want host:port, e.g. 127.0.0.1:7777", s)
	}
	return nil
}

// newToken is a token created by this run, shown once.
type newToken struct {
	name, role, token string
	skills            []string
}

func uniqueName(existing []config.Token, base string) string {
	name := base
	for i := 2; slices.ContainsFunc(existing, func(t config.Token) bool { return t.Name == name }); i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}

func applySetup(ctx context.Context, f *factory, p *setupPlan, o *setupOptions, existing *config.Config) error {
	if err := validListen(p.listen); err != nil {
		return usageErr(fmt.Errorf("--listen %w", err))
	}
	if (p.tlsCert == "") != (p.tlsKey == "") {
		return usageErr(errors.New("--tls-cert and --tls-key go together"))
	}
	tokens := slices.Clone(existing.Auth.Tokens)
	var created []newToken
	if p.newAdmin {
		nt := newToken{name: uniqueName(tokens, "admin"), role: "admin", token: server.GenerateToken()}
		tokens = append(tokens, config.Token{Name: nt.name, Role: nt.role, Hash: server.HashToken(nt.token)})
		created = append(created, nt)
	}
	for _, inv := range p.invokers {
		nt := newToken{name: inv.name, role: "invoker", token: server.GenerateToken(), skills: inv.patterns}
		tok := config.Token{Name: nt.name, Role: nt.role, Hash: server.HashToken(nt.token), Skills: inv.patterns}
		if i := slices.IndexFunc(tokens, func(t config.Token) bool { return t.Name == inv.name }); i >= 0 {
			if tokens[i].Role != "invoker" {
				return usageErr(fmt.Errorf("--invoker %s: a %s token of that name exists", inv.name, tokens[i].Role))
			}
			tokens[i] = tok // a new secret for the same name: rotation
		} else {
			tokens = append(tokens, tok)
		}
		created = append(created, nt)
	}

	// config.yaml: edit the document so comments and unrelated keys stay.
	data, err := os.ReadFile(p.configFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return usageErr(fmt.Errorf("config: %w", err))
	}
	out, err := editConfig(data, p, tokens)
	if err != nil {
		return usageErr(fmt.Errorf("config %s: %w", p.configFile, err))
	}
	dir := filepath.Dir(p.configFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return usageErr(fmt.Errorf("config: %w", err))
	}
	// Validate the new file exactly as reef will read it, then swap it in.
	tmp, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return usageErr(fmt.Errorf("config: %w", err))
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName)
	if err := os.WriteFile(tmpName, out, 0o600); err != nil {
		return usageErr(fmt.Errorf("config: %w", err))
	}
	cfg, err := config.Load(tmpName, func(string) (string, bool) { return "", false })
	if err != nil {
		return usageErr(fmt.Errorf("the new config does not load (nothing written): %w", err))
	}
	grantsFile := cfg.GrantsFile
	if f.g.grantsFile != "" {
		grantsFile = f.g.grantsFile
	}

	// Write token files before anything is committed, so a failure leaves
	// the old setup intact.
	if o.adminTokenFile != "" {
		for _, nt := range created {
			if nt.role == "admin" {
				if err := server.WriteFileAtomic(o.adminTokenFile, []byte(nt.token+"\n"), 0o600); err != nil {
					return usageErr(fmt.Errorf("--admin-token-file: %w", err))
				}
			}
		}
	}
	if err := server.WriteFileAtomic(p.configFile, out, 0o600); err != nil {
		return usageErr(fmt.Errorf("config: %w", err))
	}

	// grants.yaml
	skills, _ := scanForSetup(ctx, p.skillDir)
	var notes []string
	if len(p.grants) > 0 {
		if err := os.MkdirAll(filepath.Dir(grantsFile), 0o700); err != nil {
			return usageErr(fmt.Errorf("grants: %w", err))
		}
		err := policy.UpdateGrants(grantsFile, func(g *policy.Grants) error {
			for _, s := range skills {
				if !p.grants[s.Name] {
					continue
				}
				n, err := grantRequested(g, s, p.mounts[s.Name])
				if err != nil {
					return err
				}
				notes = append(notes, n...)
			}
			return nil
		})
		if err != nil {
			return usageErr(fmt.Errorf("grants: %w", err))
		}
	}

	w := f.out
	fmt.Fprintf(w, "wrote %s\n", p.configFile)
	if len(p.grants) > 0 {
		names := make([]string, 0, len(p.grants))
		for n := range p.grants {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "granted %s in %s\n", strings.Join(names, ", "), grantsFile)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if !server.IsLoopback(p.listen) && p.tlsCert == "" {
		fmt.Fprintf(w, "note: %s is reachable from the network over plain HTTP; use TLS (--tls-cert/--tls-key) or a reverse proxy/tunnel, and add public host names to server.allowed_hosts\n", p.listen)
	}
	for _, nt := range created {
		if nt.role == "admin" && o.adminTokenFile != "" {
			fmt.Fprintf(w, "admin token %q written to %s\n", nt.name, o.adminTokenFile)
			continue
		}
		scope := ""
		if len(nt.skills) > 0 {
			scope = " (skills " + strings.Join(nt.skills, ", ") + ")"
		}
		fmt.Fprintf(w, "%s token %q%s — shown once, store it now:\n    %s\n", nt.role, nt.name, scope, nt.token)
	}
	return nil
}

// grantRequested grants skill s what it requests, with host directories
// for its fs requests from mounts (requests without one are left out and
// reported).
func grantRequested(g *policy.Grants, s *skill.Skill, mounts map[string]string) ([]string, error) {
	gr, err := g.Skill(s.Name)
	if err != nil {
		return nil, err
	}
	var notes []string
	c := s.Manifest.Capabilities
	for guest, mode := range c.FS {
		spec, ok := mounts[guest]
		if !ok {
			notes = append(notes, fmt.Sprintf("%s requests fs %s (%s): not granted without a host directory (reef grant %s --fs %s=HOSTDIR:%s)", s.Name, guest, mode, s.Name, guest, mode))
			continue
		}
		if err := gr.AddFS(guest, spec); err != nil {
			return nil, fmt.Errorf("%s fs %s: %w", s.Name, guest, err)
		}
	}
	if c.HTTP != nil {
		for _, h := range c.HTTP.Hosts {
			if err := gr.AddHTTPHost(h); err != nil {
				return nil, fmt.Errorf("%s http: %w", s.Name, err)
			}
		}
		for _, m := range c.HTTP.Methods {
			if err := gr.AddHTTPMethod(m); err != nil {
				return nil, fmt.Errorf("%s http: %w", s.Name, err)
			}
		}
	}
	if c.Browser != nil {
		for _, h := range c.Browser.Hosts {
			if err := gr.AddBrowserHost(h); err != nil {
				return nil, fmt.Errorf("%s browser: %w", s.Name, err)
			}
		}
		if c.Browser.Eval {
			if err := gr.SetBrowserEval(true); err != nil {
				return nil, err
			}
		}
	}
	if c.Mail != nil {
		if c.Mail.Send != nil {
			for _, to := range c.Mail.Send.To {
				if err := gr.AddMailSend(to); err != nil {
					return nil, fmt.Errorf("%s mail: %w", s.Name, err)
				}
			}
		}
		if c.Mail.Read != nil {
			for _, mb := range c.Mail.Read.Mailboxes {
				if err := gr.AddMailRead(mb); err != nil {
					return nil, fmt.Errorf("%s mail: %w", s.Name, err)
				}
			}
			gr.SetMailModify(c.Mail.Read.Modify)
		}
		notes = append(notes, fmt.Sprintf("%s uses mail: bind an account with reef grant %s --mail-account NAME", s.Name, s.Name))
	}
	if c.KV != nil {
		if err := gr.SetKV(c.KV.Quota); err != nil {
			return nil, fmt.Errorf("%s kv: %w", s.Name, err)
		}
	}
	for _, sec := range c.Secrets {
		if err := gr.AddSecret(sec); err != nil {
			return nil, fmt.Errorf("%s secrets: %w", s.Name, err)
		}
	}
	return notes, nil
}

// editConfig sets listen, skill_dir, server.tls_cert/tls_key and
// auth.tokens in a config.yaml document, keeping everything else
// (comments included).
func editConfig(data []byte, p *setupPlan, tokens []config.Token) ([]byte, error) {
	var doc yaml.Node
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, err
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
		doc.Content[0].HeadComment = "reef configuration, written by reef setup (edits and comments are kept on re-runs)."
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("top level is not a mapping")
	}
	setScalar(root, "listen", p.listen)
	setScalar(root, "skill_dir", p.skillDir)
	srv := mappingAt(root, "server")
	if p.tlsCert != "" {
		setScalar(srv, "tls_cert", p.tlsCert)
		setScalar(srv, "tls_key", p.tlsKey)
	} else {
		deleteKey(srv, "tls_cert")
		deleteKey(srv, "tls_key")
	}
	if len(srv.Content) == 0 {
		deleteKey(root, "server")
	}
	auth := mappingAt(root, "auth")
	var tn yaml.Node
	if err := tn.Encode(tokens); err != nil {
		return nil, err
	}
	setNode(auth, "tokens", &tn)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func keyIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func setNode(m *yaml.Node, key string, v *yaml.Node) {
	if i := keyIndex(m, key); i >= 0 {
		v.HeadComment, v.LineComment = m.Content[i+1].HeadComment, m.Content[i+1].LineComment
		m.Content[i+1] = v
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

func setScalar(m *yaml.Node, key, value string) {
	setNode(m, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}

func deleteKey(m *yaml.Node, key string) {
	if i := keyIndex(m, key); i >= 0 {
		m.Content = append(m.Content[:i], m.Content[i+2:]...)
	}
}

// mappingAt returns the mapping under key, creating it.
func mappingAt(m *yaml.Node, key string) *yaml.Node {
	if i := keyIndex(m, key); i >= 0 && m.Content[i+1].Kind == yaml.MappingNode {
		return m.Content[i+1]
	}
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	setNode(m, key, n)
	return n
}
