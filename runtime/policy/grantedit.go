package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/reefhq/reef/runtime/skill"
)

// Validate checks every value of g with the rules LoadGrants applies to a
// file; errors name the field ("skills.web-text.http.hosts[1]: …").
func (g *Grants) Validate() error {
	if g == nil {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(g.Skills)) {
		if err := ValidSkillName(name); err != nil {
			return &GrantsError{Field: "skills", Err: err}
		}
		if err := g.Skills[name].validate("skills." + name); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks every value of one grant (field names start at the
// grant).
func (gr *Grant) Validate() error { return gr.validate("") }

func (gr *Grant) validate(field string) error {
	if gr == nil {
		return nil
	}
	fail := func(f string, err error) error { return &GrantsError{Field: join(field, f), Err: err} }
	if gr.Digest != "" {
		if err := checkDigest(gr.Digest); err != nil {
			return fail("digest", err)
		}
	}
	if gr.Isolation != "" {
		if err := checkIsolation(gr.Isolation); err != nil {
			return fail("isolation", err)
		}
	}
	for _, guest := range slices.Sorted(maps.Keys(gr.FS)) {
		if err := checkGuestPath(guest); err != nil {
			return fail("fs."+guest, err)
		}
		if _, _, err := parseMountSpecStrict(gr.FS[guest]); err != nil {
			return fail("fs."+guest, err)
		}
	}
	list := func(f string, vs []string, check func(string) (string, error)) error {
		seen := map[string]bool{}
		for i, v := range vs {
			k, err := check(v)
			if err != nil {
				return fail(fmt.Sprintf("%s[%d]", f, i), err)
			}
			if seen[k] {
				return fail(fmt.Sprintf("%s[%d]", f, i), fmt.Errorf("%q listed twice", v))
			}
			seen[k] = true
		}
		return nil
	}
	if h := gr.HTTP; h != nil {
		if err := list("http.hosts", h.Hosts, canonHost); err != nil {
			return err
		}
		if err := list("http.methods", h.Methods, canonMethod); err != nil {
			return err
		}
	}
	if b := gr.Browser; b != nil {
		if err := list("browser.hosts", b.Hosts, canonHost); err != nil {
			return err
		}
	}
	if m := gr.Mail; m != nil {
		if err := list("mail.accounts", m.Accounts, canonAccount); err != nil {
			return err
		}
		if err := list("mail.send", m.Send, canonRecipient); err != nil {
			return err
		}
		if err := list("mail.read", m.Read, canonMailbox); err != nil {
			return err
		}
	}
	if gr.KV != nil {
		if err := checkQuota(gr.KV.Quota); err != nil {
			return fail("kv.quota", err)
		}
	}
	if err := list("secrets", gr.Secrets, canonSecret); err != nil {
		return err
	}
	if gr.Limits.Memory != 0 {
		if err := checkMemory(gr.Limits.Memory); err != nil {
			return fail("limits.memory", err)
		}
	}
	if gr.Limits.Timeout < 0 {
		return fail("limits.timeout", errors.New("timeout must be positive"))
	}
	if gr.Limits.Output < 0 {
		return fail("limits.output", errors.New("output limit must be positive"))
	}
	return nil
}

// Skill returns the grant of name, creating an empty one (which grants
// nothing yet) if there is none.
func (g *Grants) Skill(name string) (*Grant, error) {
	if err := ValidSkillName(name); err != nil {
		return nil, err
	}
	if g.Skills == nil {
		g.Skills = map[string]*Grant{}
	}
	gr := g.Skills[name]
	if gr == nil {
		gr = &Grant{}
		g.Skills[name] = gr
	}
	return gr, nil
}

// Revoke removes the whole entry of name and reports whether there was one.
func (g *Grants) Revoke(name string) bool {
	if _, ok := g.Skills[name]; !ok {
		return false
	}
	delete(g.Skills, name)
	return true
}

// RevokeAll clears every capability, pin and limit of the grant; the skill
// keeps an (empty) entry.
func (gr *Grant) RevokeAll() { *gr = Grant{} }

// SetDigest pins the grant to one module digest ("" unpins).
func (gr *Grant) SetDigest(d string) error {
	if d != "" {
		if err := checkDigest(d); err != nil {
			return err
		}
	}
	gr.Digest = d
	return nil
}

// SetIsolation overrides the manifest's isolation ("" keeps the manifest's).
func (gr *Grant) SetIsolation(i skill.Isolation) error {
	if i != "" {
		if err := checkIsolation(i); err != nil {
			return err
		}
	}
	gr.Isolation = i
	return nil
}

// ParseFSFlag splits the CLI form "GUEST=HOSTDIR[:ro|rw]" and validates
// both halves.
func ParseFSFlag(s string) (guest, spec string, err error) {
	guest, spec, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("fs %q: want GUEST=HOSTDIR:ro|rw, e.g. /data=/srv/data:ro", s)
	}
	if err := checkGuestPath(guest); err != nil {
		return "", "", fmt.Errorf("fs %q: %w", s, err)
	}
	if _, _, err := parseMountSpecStrict(spec); err != nil {
		return "", "", fmt.Errorf("fs %q: %w", s, err)
	}
	return guest, spec, nil
}

// AddFS maps guest path to "HOSTDIR:ro|rw" (mode defaults to ro),
// replacing an earlier mapping of the same guest path. The spec is stored
// in canonical form ("/srv/data:ro").
func (gr *Grant) AddFS(guest, spec string) error {
	if err := checkGuestPath(guest); err != nil {
		return err
	}
	host, mode, err := parseMountSpecStrict(spec)
	if err != nil {
		return err
	}
	if gr.FS == nil {
		gr.FS = map[string]string{}
	}
	gr.FS[guest] = host + ":" + string(mode)
	return nil
}

// RemoveFS drops the mapping of guest and reports whether there was one.
func (gr *Grant) RemoveFS(guest string) bool {
	if _, ok := gr.FS[guest]; !ok {
		return false
	}
	delete(gr.FS, guest)
	if len(gr.FS) == 0 {
		gr.FS = nil
	}
	return true
}

// addCanon appends v (canonicalised by canon) unless an equal entry is
// already there.
func addCanon(list []string, v string, canon func(string) (string, error)) ([]string, error) {
	c, err := canon(v)
	if err != nil {
		return list, err
	}
	for _, x := range list {
		if xc, err := canon(x); err == nil && xc == c || x == c {
			return list, nil
		}
	}
	return append(list, c), nil
}

// removeCanon drops every entry equal to v after canonicalisation.
func removeCanon(list []string, v string, canon func(string) (string, error)) ([]string, bool) {
	c, err := canon(v)
	if err != nil {
		c = v
	}
	n := len(list)
	list = slices.DeleteFunc(list, func(x string) bool {
		xc, err := canon(x)
		return x == v || err == nil && xc == c
	})
	if len(list) == 0 {
		list = nil
	}
	return list, len(list) != n
}

// AddHTTPHost grants outbound HTTP to a host pattern (see hostmatch).
func (gr *Grant) AddHTTPHost(pattern string) error {
	h := gr.HTTP
	if h == nil {
		h = &HostGrant{}
	}
	hosts, err := addCanon(h.Hosts, pattern, canonHost)
	if err != nil {
		return err
	}
	h.Hosts, gr.HTTP = hosts, h
	return nil
}

// RemoveHTTPHost revokes a host pattern; the http grant disappears with
// its last host.
func (gr *Grant) RemoveHTTPHost(pattern string) bool {
	if gr.HTTP == nil {
		return false
	}
	var ok bool
	gr.HTTP.Hosts, ok = removeCanon(gr.HTTP.Hosts, pattern, canonHost)
	if len(gr.HTTP.Hosts) == 0 {
		gr.HTTP = nil
	}
	return ok
}

// AddHTTPMethod allows a method besides the default GET and HEAD (once any
// method is listed, only the listed ones are allowed). It needs an http
// grant with at least one host.
func (gr *Grant) AddHTTPMethod(method string) error {
	if gr.HTTP == nil {
		return errors.New("grant http hosts before methods")
	}
	ms, err := addCanon(gr.HTTP.Methods, method, canonMethod)
	if err != nil {
		return err
	}
	gr.HTTP.Methods = ms
	return nil
}

// RemoveHTTPMethod revokes a method.
func (gr *Grant) RemoveHTTPMethod(method string) bool {
	if gr.HTTP == nil {
		return false
	}
	var ok bool
	gr.HTTP.Methods, ok = removeCanon(gr.HTTP.Methods, method, canonMethod)
	return ok
}

// AddBrowserHost grants the headless browser a host pattern.
func (gr *Grant) AddBrowserHost(pattern string) error {
	b := gr.Browser
	if b == nil {
		b = &BrowserGrant{}
	}
	hosts, err := addCanon(b.Hosts, pattern, canonHost)
	if err != nil {
		return err
	}
	b.Hosts, gr.Browser = hosts, b
	return nil
}

// RemoveBrowserHost revokes a browser host pattern; the browser grant
// disappears with its last host.
func (gr *Grant) RemoveBrowserHost(pattern string) bool {
	if gr.Browser == nil {
		return false
	}
	var ok bool
	gr.Browser.Hosts, ok = removeCanon(gr.Browser.Hosts, pattern, canonHost)
	if len(gr.Browser.Hosts) == 0 {
		gr.Browser = nil
	}
	return ok
}

// SetBrowserEval allows or forbids arbitrary JavaScript; allowing needs a
// browser grant with at least one host.
func (gr *Grant) SetBrowserEval(on bool) error {
	if gr.Browser == nil {
		if !on {
			return nil
		}
		return errors.New("grant browser hosts before eval")
	}
	gr.Browser.Eval = on
	return nil
}

func (gr *Grant) mail() *MailGrant {
	if gr.Mail == nil {
		gr.Mail = &MailGrant{}
	}
	return gr.Mail
}

func (gr *Grant) pruneMail() {
	if m := gr.Mail; m != nil && len(m.Accounts) == 0 && len(m.Send) == 0 && len(m.Read) == 0 && !m.Modify {
		gr.Mail = nil
	}
}

func (gr *Grant) addMail(list *[]string, v string, canon func(string) (string, error)) error {
	out, err := addCanon(*list, v, canon)
	if err != nil {
		gr.pruneMail()
		return err
	}
	*list = out
	return nil
}

// AddMailAccount binds an account configured in config.yaml.
func (gr *Grant) AddMailAccount(name string) error {
	return gr.addMail(&gr.mail().Accounts, name, canonAccount)
}

// AddMailSend allows sending to a recipient pattern ("a@b.org",
// "*@corp.example", "*@*.corp.example").
func (gr *Grant) AddMailSend(pattern string) error {
	return gr.addMail(&gr.mail().Send, pattern, canonRecipient)
}

// AddMailRead allows reading a mailbox.
func (gr *Grant) AddMailRead(mailbox string) error {
	return gr.addMail(&gr.mail().Read, mailbox, canonMailbox)
}

// SetMailModify allows (or forbids) marking messages seen and moving them.
func (gr *Grant) SetMailModify(on bool) {
	if on {
		gr.mail().Modify = true
		return
	}
	if gr.Mail != nil {
		gr.Mail.Modify = false
		gr.pruneMail()
	}
}

func (gr *Grant) removeMail(list func(*MailGrant) *[]string, v string, canon func(string) (string, error)) bool {
	if gr.Mail == nil {
		return false
	}
	l := list(gr.Mail)
	var ok bool
	*l, ok = removeCanon(*l, v, canon)
	gr.pruneMail()
	return ok
}

// RemoveMailAccount unbinds an account.
func (gr *Grant) RemoveMailAccount(name string) bool {
	return gr.removeMail(func(m *MailGrant) *[]string { return &m.Accounts }, name, canonAccount)
}

// RemoveMailSend revokes a recipient pattern.
func (gr *Grant) RemoveMailSend(pattern string) bool {
	return gr.removeMail(func(m *MailGrant) *[]string { return &m.Send }, pattern, canonRecipient)
}

// RemoveMailRead revokes a mailbox.
func (gr *Grant) RemoveMailRead(mailbox string) bool {
	return gr.removeMail(func(m *MailGrant) *[]string { return &m.Read }, mailbox, canonMailbox)
}

// SetKV grants a key-value namespace of at most quota bytes.
func (gr *Grant) SetKV(quota skill.Size) error {
	if err := checkQuota(quota); err != nil {
		return err
	}
	gr.KV = &KVGrant{Quota: quota}
	return nil
}

// RemoveKV revokes the key-value namespace (its data stays on disk).
func (gr *Grant) RemoveKV() bool {
	ok := gr.KV != nil
	gr.KV = nil
	return ok
}

// AddSecret lets the host inject an operator secret for this skill.
func (gr *Grant) AddSecret(name string) error {
	s, err := addCanon(gr.Secrets, name, canonSecret)
	if err != nil {
		return err
	}
	gr.Secrets = s
	return nil
}

// RemoveSecret revokes a secret.
func (gr *Grant) RemoveSecret(name string) bool {
	var ok bool
	gr.Secrets, ok = removeCanon(gr.Secrets, name, canonSecret)
	return ok
}

// Clone returns a deep copy of g.
func (g *Grants) Clone() *Grants {
	out := &Grants{Skills: make(map[string]*Grant, len(g.Skills))}
	for k, v := range g.Skills {
		out.Skills[k] = v.Clone()
	}
	return out
}

// Clone returns a deep copy of gr.
func (gr *Grant) Clone() *Grant {
	if gr == nil {
		return nil
	}
	c := *gr
	c.FS = maps.Clone(gr.FS)
	c.Secrets = slices.Clone(gr.Secrets)
	if gr.HTTP != nil {
		h := *gr.HTTP
		h.Hosts, h.Methods = slices.Clone(h.Hosts), slices.Clone(h.Methods)
		c.HTTP = &h
	}
	if gr.Browser != nil {
		b := *gr.Browser
		b.Hosts = slices.Clone(b.Hosts)
		c.Browser = &b
	}
	if gr.Mail != nil {
		m := *gr.Mail
		m.Accounts, m.Send, m.Read = slices.Clone(m.Accounts), slices.Clone(m.Send), slices.Clone(m.Read)
		c.Mail = &m
	}
	if gr.KV != nil {
		k := *gr.KV
		c.KV = &k
	}
	return &c
}

// normalized returns a copy in which empty lists and maps are nil, so two
// grants that read back the same compare equal.
func (gr *Grant) normalized() *Grant {
	if gr == nil {
		return &Grant{}
	}
	c := gr.Clone()
	nilIfEmpty := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	if len(c.FS) == 0 {
		c.FS = nil
	}
	c.Secrets = nilIfEmpty(c.Secrets)
	if c.HTTP != nil {
		c.HTTP.Hosts, c.HTTP.Methods = nilIfEmpty(c.HTTP.Hosts), nilIfEmpty(c.HTTP.Methods)
	}
	if c.Browser != nil {
		c.Browser.Hosts = nilIfEmpty(c.Browser.Hosts)
	}
	if c.Mail != nil {
		c.Mail.Accounts, c.Mail.Send, c.Mail.Read = nilIfEmpty(c.Mail.Accounts), nilIfEmpty(c.Mail.Send), nilIfEmpty(c.Mail.Read)
	}
	return c
}
