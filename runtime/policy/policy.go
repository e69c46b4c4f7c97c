package policy

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reefhq/reef/runtime/hostmatch"
	"github.com/reefhq/reef/runtime/skill"
)

// Decision is one allow/deny of a capability use; it is what the audit log
// and the metrics hook receive.
type Decision struct {
	Time       time.Time `json:"time"`
	Skill      string    `json:"skill"`
	Capability string    `json:"capability"`
	Value      string    `json:"value"`
	Allowed    bool      `json:"allowed"`
	Reason     string    `json:"reason,omitempty"`
	ID         string    `json:"id,omitempty"`
}

// Recorder receives every decision. Implementations must be safe for
// concurrent use and must not block for long.
type Recorder interface {
	Record(Decision)
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(Decision)

// Record implements Recorder.
func (f RecorderFunc) Record(d Decision) { f(d) }

// Recorders fans a decision out to several recorders (audit + metrics).
type Recorders []Recorder

// Record implements Recorder.
func (rs Recorders) Record(d Decision) {
	for _, r := range rs {
		if r != nil {
			r.Record(d)
		}
	}
}

// Mount is one effective filesystem mount.
type Mount struct {
	Guest string       `json:"guest"`
	Host  string       `json:"host"`
	Mode  skill.Access `json:"mode"`
}

// HostRule is an effective host allowlist: a target must match both what
// the skill requested and what the operator granted.
type HostRule struct {
	Requested hostmatch.List `json:"requested"`
	Granted   hostmatch.List `json:"granted"`
	// Methods allowed (upper-case); requested ∩ granted.
	Methods []string `json:"methods,omitempty"`
}

// Allows reports whether both lists admit the target.
func (r *HostRule) Allows(scheme, host string, port int) bool {
	return r.reason(scheme, host, port) == ""
}

// reason is why r refuses the target ("" when both lists admit it); the
// target is normalised once for both lists.
func (r *HostRule) reason(scheme, host string, port int) string {
	if r == nil {
		return "not granted"
	}
	t := hostmatch.NewTarget(scheme, host, port)
	if !r.Requested.MatchTarget(&t) {
		return "host not requested by the skill"
	}
	if !r.Granted.MatchTarget(&t) {
		return "host not granted"
	}
	return ""
}

// MailRule is the effective mail policy.
type MailRule struct {
	Accounts []string `json:"accounts"`
	// Send and SendRequested are the granted and the requested recipient
	// patterns; a recipient must match both.
	Send          []string `json:"send,omitempty"`
	SendRequested []string `json:"send_requested,omitempty"`
	Mailboxes     []string `json:"mailboxes,omitempty"` // granted ∩ requested
	Modify        bool     `json:"modify,omitempty"`
}

// Policy is the effective policy of one skill version. The zero value (and
// nil) denies everything.
type Policy struct {
	Skill     string          `json:"skill"`
	Isolation skill.Isolation `json:"isolation"`
	Limits    skill.Limits    `json:"limits"`
	Mounts    []Mount         `json:"fs,omitempty"`
	HTTP      *HostRule       `json:"http,omitempty"`
	Browser   *HostRule       `json:"browser,omitempty"`
	Eval      bool            `json:"eval,omitempty"`
	Mail      *MailRule       `json:"mail,omitempty"`
	KVQuota   skill.Size      `json:"kv_quota,omitempty"`
	Secrets   []string        `json:"secrets,omitempty"`
	// Notes explains capabilities that were requested but not granted, or
	// a grant that did not apply (digest pin mismatch).
	Notes []string `json:"notes,omitempty"`

	rec Recorder
}

// Compute returns the effective policy of s under g (nil: nothing granted).
// Decisions are reported to rec (nil: dropped). Grant values were validated
// by Load; Compute reports a malformed grant entry as an error naming the
// skill and the field.
func Compute(s *skill.Skill, g *Grant, rec Recorder) (*Policy, error) {
	if s == nil {
		return nil, fmt.Errorf("policy: nil skill")
	}
	req := s.Manifest.Capabilities
	p := &Policy{Skill: s.Name, Isolation: s.Manifest.Isolation, Limits: effectiveLimits(s.Manifest.Limits, skill.Limits{}), rec: rec}
	if p.Isolation == "" {
		p.Isolation = skill.IsolationPooled
	}
	if g == nil {
		if hasRequests(req) {
			p.Notes = append(p.Notes, "no grant for this skill: every requested capability is denied")
		}
		return p, nil
	}
	if g.Digest != "" && g.Digest != s.Digest {
		p.Notes = append(p.Notes, fmt.Sprintf("grant pinned to %s but module is %s: nothing granted", g.Digest, s.Digest))
		return p, nil
	}
	if g.Isolation != "" {
		p.Isolation = g.Isolation
	}
	p.Limits = effectiveLimits(s.Manifest.Limits, g.Limits)

	// fs
	for guest, spec := range g.FS {
		host, mode, err := ParseMountSpec(spec)
		if err != nil {
			return nil, fmt.Errorf("grant for %q: fs %q: %w", s.Name, guest, err)
		}
		want, ok := req.FS[guest]
		if !ok {
			p.Notes = append(p.Notes, fmt.Sprintf("fs %s granted but not requested: ignored", guest))
			continue
		}
		// rw only when both sides say rw: a ro request (or anything
		// unexpected in it) keeps the mount read-only.
		if want != skill.ReadWrite || mode != skill.ReadWrite {
			mode = skill.ReadOnly
		}
		p.Mounts = append(p.Mounts, Mount{Guest: path.Clean(guest), Host: host, Mode: mode})
	}
	for guest := range req.FS {
		if _, ok := g.FS[guest]; !ok {
			p.Notes = append(p.Notes, fmt.Sprintf("fs %s requested but not granted", guest))
		}
	}
	slices.SortFunc(p.Mounts, func(a, b Mount) int { return strings.Compare(a.Guest, b.Guest) })

	// http
	if req.HTTP != nil && g.HTTP != nil {
		r, err := hostRule(req.HTTP.Hosts, g.HTTP.Hosts, req.HTTP.Methods, g.HTTP.Methods)
		if err != nil {
			return nil, fmt.Errorf("grant for %q: http: %w", s.Name, err)
		}
		p.HTTP = r
	} else if req.HTTP != nil {
		p.Notes = append(p.Notes, "http requested but not granted")
	}
	// browser
	if req.Browser != nil && g.Browser != nil {
		r, err := hostRule(req.Browser.Hosts, g.Browser.Hosts, []string{"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"}, []string{"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"})
		if err != nil {
			return nil, fmt.Errorf("grant for %q: browser: %w", s.Name, err)
		}
		p.Browser = r
		p.Eval = req.Browser.Eval && g.Browser.Eval
		if req.Browser.Eval && !g.Browser.Eval {
			p.Notes = append(p.Notes, "browser.eval requested but not granted")
		}
	} else if req.Browser != nil {
		p.Notes = append(p.Notes, "browser requested but not granted")
	}
	// mail
	if req.Mail != nil && g.Mail != nil {
		m := &MailRule{Accounts: slices.Clone(g.Mail.Accounts)}
		if req.Mail.Send != nil {
			m.Send = slices.Clone(g.Mail.Send)
			m.SendRequested = slices.Clone(req.Mail.Send.To)
		}
		if req.Mail.Read != nil {
			for _, mb := range g.Mail.Read {
				if slices.ContainsFunc(req.Mail.Read.Mailboxes, func(r string) bool { return sameMailbox(r, mb) }) {
					m.Mailboxes = append(m.Mailboxes, mb)
				}
			}
			for _, mb := range req.Mail.Read.Mailboxes {
				if !slices.ContainsFunc(m.Mailboxes, func(g string) bool { return sameMailbox(g, mb) }) {
					p.Notes = append(p.Notes, fmt.Sprintf("mailbox %s requested but not granted", mb))
				}
			}
			m.Modify = req.Mail.Read.Modify && g.Mail.Modify
			if req.Mail.Read.Modify && !g.Mail.Modify {
				p.Notes = append(p.Notes, "mail modify requested but not granted")
			}
		}
		if req.Mail.Send != nil && len(g.Mail.Send) == 0 {
			p.Notes = append(p.Notes, "mail send requested but not granted")
		}
		p.Mail = m
	} else if req.Mail != nil {
		p.Notes = append(p.Notes, "mail requested but not granted")
	}
	// kv
	if req.KV != nil && g.KV != nil {
		p.KVQuota = min(req.KV.Quota, g.KV.Quota)
	} else if req.KV != nil {
		p.Notes = append(p.Notes, "kv requested but not granted")
	}
	// secrets
	for _, name := range req.Secrets {
		if slices.Contains(g.Secrets, name) {
			p.Secrets = append(p.Secrets, name)
		} else {
			p.Notes = append(p.Notes, fmt.Sprintf("secret %s requested but not granted", name))
		}
	}
	slices.Sort(p.Notes)
	return p, nil
}

func hasRequests(c skill.Capabilities) bool {
	return len(c.FS) > 0 || c.HTTP != nil || c.Browser != nil || c.Mail != nil || c.KV != nil || len(c.Secrets) > 0
}

func effectiveLimits(m, g skill.Limits) skill.Limits {
	out := m
	if out.Memory == 0 {
		out.Memory = skill.DefaultMemory
	}
	if out.Timeout == 0 {
		out.Timeout = skill.Duration(skill.DefaultTimeout)
	}
	if out.Output == 0 {
		out.Output = skill.DefaultOutput
	}
	if g.Memory != 0 && g.Memory < out.Memory {
		out.Memory = g.Memory
	}
	if g.Timeout != 0 && g.Timeout < out.Timeout {
		out.Timeout = g.Timeout
	}
	if g.Output != 0 && g.Output < out.Output {
		out.Output = g.Output
	}
	return out
}

func hostRule(req, granted, reqMethods, grantMethods []string) (*HostRule, error) {
	r := &HostRule{}
	var err error
	if r.Requested, err = hostmatch.ParseList(req); err != nil {
		return nil, fmt.Errorf("requested %w", err)
	}
	if r.Granted, err = hostmatch.ParseList(granted); err != nil {
		return nil, fmt.Errorf("granted %w", err)
	}
	norm := func(ms []string) []string {
		if len(ms) == 0 {
			return []string{"GET", "HEAD"}
		}
		out := make([]string, 0, len(ms))
		for _, m := range ms {
			out = append(out, strings.ToUpper(strings.TrimSpace(m)))
		}
		return out
	}
	gm := norm(grantMethods)
	for _, m := range norm(reqMethods) {
		if slices.Contains(gm, m) {
			r.Methods = append(r.Methods, m)
		}
	}
	return r, nil
}

// ParseMountSpec splits "HOSTDIR:ro|rw" (mode defaults to ro).
func ParseMountSpec(spec string) (host string, mode skill.Access, err error) {
	host, mode = spec, skill.ReadOnly
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		switch skill.Access(spec[i+1:]) {
		case skill.ReadOnly, skill.ReadWrite:
			host, mode = spec[:i], skill.Access(spec[i+1:])
		}
	}
	if host == "" || !path.IsAbs(host) {
		return "", "", fmt.Errorf("host directory %q must be an absolute path (HOSTDIR:ro|rw)", host)
	}
	return path.Clean(host), mode, nil
}

// record reports one decision and returns the matching error (nil if
// allowed).
func (p *Policy) record(capability, value string, allowed bool, reason string) error {
	d := Decision{Time: time.Now().UTC(), Skill: p.skillName(), Capability: capability, Value: value, Allowed: allowed, Reason: reason}
	var err error
	if !allowed {
		den := NewDenial(d.Skill, capability, value, reason)
		d.ID = den.ID
		err = den
	}
	if p != nil && p.rec != nil {
		p.rec.Record(d)
	}
	return err
}

func (p *Policy) skillName() string {
	if p == nil {
		return ""
	}
	return p.Skill
}

// Deny records and returns a denial decided outside this package (e.g. the
// http capability refusing a private address after DNS).
func (p *Policy) Deny(capability, value, reason string) error {
	return p.record(capability, value, false, reason)
}

// Allow records an allow decided outside this package.
func (p *Policy) Allow(capability, value string) {
	_ = p.record(capability, value, true, "")
}

// WithRecorder returns a copy of p that reports to rec. A nil p gives an
// empty Policy (which denies everything) reporting to rec.
func (p *Policy) WithRecorder(rec Recorder) *Policy {
	if p == nil {
		return &Policy{rec: rec}
	}
	c := *p
	c.rec = rec
	return &c
}

// CheckHTTP decides an outbound HTTP request (every redirect hop too).
// host is lower-case without brackets; port 0 means the scheme default.
func (p *Policy) CheckHTTP(method, scheme, host string, port int) error {
	value := hostValue(method, " ", scheme, host, port)
	if p == nil || p.HTTP == nil {
		return p.record(CapHTTP, value, false, "http not granted")
	}
	if why := p.HTTP.reason(scheme, host, port); why != "" {
		return p.record(CapHTTP, value, false, why)
	}
	if !slices.Contains(p.HTTP.Methods, strings.ToUpper(method)) {
		return p.record(CapHTTP, value, false, "method not allowed")
	}
	return p.record(CapHTTP, value, true, "")
}

// CheckBrowser decides one browser request (navigation, subresource,
// redirect, websocket).
func (p *Policy) CheckBrowser(scheme, host string, port int) error {
	value := hostValue("", "", scheme, host, port)
	if p == nil || p.Browser == nil {
		return p.record(CapBrowser, value, false, "browser not granted")
	}
	if why := p.Browser.reason(scheme, host, port); why != "" {
		return p.record(CapBrowser, value, false, why)
	}
	return p.record(CapBrowser, value, true, "")
}

// CheckEval decides arbitrary JavaScript evaluation.
func (p *Policy) CheckEval() error {
	if p == nil || !p.Eval {
		return p.record(CapEval, "eval", false, "browser.eval not granted")
	}
	return p.record(CapEval, "eval", true, "")
}

// hostValue is the audit value of a host decision: prefix + sep +
// scheme://host[:port], built in one allocation (it is made for every
// allowed request too).
func hostValue(prefix, sep, scheme, host string, port int) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(sep) + len(scheme) + len(host) + 3 + 2 + 6)
	b.WriteString(prefix)
	b.WriteString(sep)
	b.WriteString(scheme)
	b.WriteString("://")
	v6 := strings.IndexByte(host, ':') >= 0
	if v6 {
		b.WriteByte('[')
	}
	b.WriteString(host)
	if v6 {
		b.WriteByte(']')
	}
	if port != 0 {
		var num [20]byte
		b.WriteByte(':')
		b.Write(strconv.AppendInt(num[:0], int64(port), 10))
	}
	return b.String()
}

// Mount returns the mount whose guest path contains guestPath (longest
// match), or a denial. guestPath is cleaned lexically first ("/data/../etc"
// is "/etc"), so ".." never climbs out of a mount; "/database" is not under
// "/data". Callers must use the cleaned path (see Resolve), not the raw one.
func (p *Policy) Mount(guestPath string, write bool) (Mount, error) {
	m, _, err := p.Resolve(guestPath, write)
	return m, err
}

// Resolve is Mount that also returns the path relative to the mount's
// guest path, slash-separated and cleaned ("." for the mount itself); it
// never starts with "/" or "..".
func (p *Policy) Resolve(guestPath string, write bool) (Mount, string, error) {
	if strings.IndexByte(guestPath, 0) >= 0 {
		return Mount{}, "", p.record(CapFS, guestPath, false, "path contains a NUL byte")
	}
	clean := path.Clean("/" + guestPath)
	var best *Mount
	if p != nil {
		for i := range p.Mounts {
			m := &p.Mounts[i]
			if m.Guest == "/" || clean == m.Guest || strings.HasPrefix(clean, m.Guest+"/") {
				if best == nil || len(m.Guest) > len(best.Guest) {
					best = m
				}
			}
		}
	}
	if best == nil {
		return Mount{}, "", p.record(CapFS, guestPath, false, "path outside every granted mount")
	}
	if write && best.Mode != skill.ReadWrite {
		return Mount{}, "", p.record(CapFS, guestPath, false, "mount is read-only")
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(clean, best.Guest), "/")
	if rel == "" {
		rel = "."
	}
	_ = p.record(CapFS, clean, true, "")
	return *best, rel, nil
}

// CheckKV returns the skill's kv quota or a denial.
func (p *Policy) CheckKV(key string) (skill.Size, error) {
	if p == nil || p.KVQuota <= 0 {
		return 0, p.record(CapKV, key, false, "kv not granted")
	}
	_ = p.record(CapKV, key, true, "")
	return p.KVQuota, nil
}

// CheckSecret decides whether secret name may be injected into a request
// to scheme://host:port (which must itself be allowed for http).
func (p *Policy) CheckSecret(name, scheme, host string, port int) error {
	value := hostValue(name, " -> ", scheme, host, port)
	if p == nil || !slices.Contains(p.Secrets, name) {
		return p.record(CapSecrets, value, false, "secret not granted")
	}
	if !p.HTTP.Allows(scheme, host, port) {
		return p.record(CapSecrets, value, false, "secret aimed at a host that is not granted")
	}
	return p.record(CapSecrets, value, true, "")
}

// MailAccount picks the account a call uses: the named one if granted, or
// the only granted one when name is empty.
func (p *Policy) MailAccount(name string) (string, error) {
	if p == nil || p.Mail == nil || len(p.Mail.Accounts) == 0 {
		return "", p.record(CapMail, "account "+name, false, "mail not granted")
	}
	if name == "" {
		if len(p.Mail.Accounts) == 1 {
			return p.Mail.Accounts[0], nil
		}
		return "", p.record(CapMail, "account", false, "several accounts granted: name one")
	}
	if !slices.Contains(p.Mail.Accounts, name) {
		return "", p.record(CapMail, "account "+name, false, "account not granted")
	}
	return name, nil
}

// CheckRecipient decides one recipient address (already parsed, bare
// addr-spec).
func (p *Policy) CheckRecipient(addr string) error {
	a := strings.ToLower(strings.TrimSpace(addr))
	value := "send " + a
	if _, _, err := splitAddress(a); err != nil {
		return p.record(CapMail, value, false, "malformed recipient address")
	}
	if p == nil || p.Mail == nil || len(p.Mail.Send) == 0 {
		return p.record(CapMail, value, false, "sending not granted")
	}
	if !matchRequested(p.Mail.SendRequested, a) {
		return p.record(CapMail, value, false, "recipient not requested by the skill")
	}
	if !matchAddress(p.Mail.Send, a) {
		return p.record(CapMail, value, false, "recipient not granted")
	}
	return p.record(CapMail, value, true, "")
}

// CheckMailbox decides reading (or modifying) a mailbox.
func (p *Policy) CheckMailbox(mailbox string, modify bool) error {
	value := "read " + mailbox
	if modify {
		value = "modify " + mailbox
	}
	if p == nil || p.Mail == nil || !slices.ContainsFunc(p.Mail.Mailboxes, func(m string) bool { return sameMailbox(m, mailbox) }) {
		return p.record(CapMail, value, false, "mailbox not granted")
	}
	if modify && !p.Mail.Modify {
		return p.record(CapMail, value, false, "modify not granted")
	}
	return p.record(CapMail, value, true, "")
}
