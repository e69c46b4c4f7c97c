package policy

import "github.com/reefhq/reef/runtime/skill"

// Grants is grants.yaml: what the operator allows each skill. Read it with
// LoadGrants, edit it with UpdateGrants; the format is described in
// README-grants.md.
type Grants struct {
	// Skills maps a skill name to its grant. A skill without an entry gets
	// nothing.
	Skills map[string]*Grant `yaml:"skills" json:"skills"`
}

// Grant is what one skill may use. Every field is empty by default, which
// grants nothing.
type Grant struct {
	// Digest pins the grant to one module ("sha256:<hex>"); a skill whose
	// wasm has another digest gets nothing. Empty: any version.
	Digest string `yaml:"digest,omitempty" json:"digest,omitempty"`
	// Isolation overrides the manifest's isolation ("pooled" or "call").
	Isolation skill.Isolation `yaml:"isolation,omitempty" json:"isolation,omitempty"`
	// FS maps a guest path to "HOSTDIR:ro" or "HOSTDIR:rw". A guest path
	// the skill did not request is ignored; rw granted to a ro request
	// stays ro.
	FS map[string]string `yaml:"fs,omitempty" json:"fs,omitempty"`
	// HTTP lists host patterns (see runtime/hostmatch) and methods.
	HTTP *HostGrant `yaml:"http,omitempty" json:"http,omitempty"`
	// Browser lists host patterns for the headless browser; Eval allows
	// arbitrary JavaScript.
	Browser *BrowserGrant `yaml:"browser,omitempty" json:"browser,omitempty"`
	// Mail binds accounts and recipient/mailbox patterns.
	Mail *MailGrant `yaml:"mail,omitempty" json:"mail,omitempty"`
	// KV grants a key-value namespace of at most Quota bytes.
	KV *KVGrant `yaml:"kv,omitempty" json:"kv,omitempty"`
	// Secrets lists operator secrets the host may inject for this skill.
	Secrets []string `yaml:"secrets,omitempty" json:"secrets,omitempty"`
	// Limits lowers (never raises above the manifest's) per-call limits;
	// zero fields keep the manifest's.
	Limits skill.Limits `yaml:"limits,omitempty" json:"limits,omitempty"`
}

// HostGrant is a host allowlist with methods (empty methods: GET, HEAD).
type HostGrant struct {
	Hosts   []string `yaml:"hosts" json:"hosts"`
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
}

// BrowserGrant is the browser allowlist.
type BrowserGrant struct {
	Hosts []string `yaml:"hosts" json:"hosts"`
	Eval  bool     `yaml:"eval,omitempty" json:"eval,omitempty"`
}

// MailGrant binds mail accounts (configured in config.yaml) and patterns.
type MailGrant struct {
	Accounts []string `yaml:"accounts,omitempty" json:"accounts,omitempty"`
	// Send lists recipient patterns: "*@corp.example", "a@b.org".
	Send []string `yaml:"send,omitempty" json:"send,omitempty"`
	// Read lists mailboxes.
	Read   []string `yaml:"read,omitempty" json:"read,omitempty"`
	Modify bool     `yaml:"modify,omitempty" json:"modify,omitempty"`
}

// KVGrant grants a namespace.
type KVGrant struct {
	Quota skill.Size `yaml:"quota" json:"quota"`
}
