package skill

import (
	"encoding/json"
	"time"
)

// Skill is one parsed, validated skill bundle. It is immutable after Load.
type Skill struct {
	// Name is the skill's name: the SKILL.md name (equal to the folder
	// name), or for a bare .wasm file the file name without extension.
	Name string
	// Dir is the bundle folder; empty for a bare .wasm file.
	Dir string
	// Bare reports a plain .wasm file loaded without SKILL.md/reef.yaml:
	// no capabilities, every exported function callable.
	Bare bool
	// Meta is the Agent Skills frontmatter of SKILL.md (zero for Bare).
	Meta Frontmatter
	// Docs is the Markdown body of SKILL.md after the frontmatter.
	Docs string
	// Manifest is reef.yaml (defaults filled in).
	Manifest Manifest
	// WasmPath is the absolute path of the module file.
	WasmPath string
	// Wasm holds the module bytes.
	Wasm []byte
	// Digest is "sha256:<hex>" of Wasm.
	Digest string

	// schemas caches compiled input schemas for ValidateInput; set by Load
	// (nil in a Skill built by hand: schemas are then compiled per call).
	schemas *schemaCache
}

// Version is the skill's metadata.version, or the first 12 hex digits of its
// digest when none is declared.
func (s *Skill) Version() string {
	if v := s.Meta.Metadata["version"]; v != "" {
		return v
	}
	if len(s.Digest) >= 7+12 {
		return s.Digest[7 : 7+12]
	}
	return s.Digest
}

// Function returns the declared function called name.
func (s *Skill) Function(name string) (Function, bool) {
	for _, f := range s.Manifest.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// Frontmatter is the strict Agent Skills frontmatter of SKILL.md. Any other
// key is rejected.
type Frontmatter struct {
	Name          string            `yaml:"name" json:"name"`
	Description   string            `yaml:"description" json:"description"`
	License       string            `yaml:"license,omitempty" json:"license,omitempty"`
	Compatibility string            `yaml:"compatibility,omitempty" json:"compatibility,omitempty"`
	Metadata      map[string]string `yaml:"metadata,omitempty" json:"metadata,omitempty"`
	AllowedTools  string            `yaml:"allowed-tools,omitempty" json:"allowed-tools,omitempty"`
}

// Isolation selects how instances serve calls.
type Isolation string

const (
	// IsolationPooled reuses warm instances between calls (the default).
	IsolationPooled Isolation = "pooled"
	// IsolationCall gives every call a clean instance.
	IsolationCall Isolation = "call"
)

// Access is the mode of a filesystem mount.
type Access string

const (
	ReadOnly  Access = "ro"
	ReadWrite Access = "rw"
)

// Manifest is reef.yaml.
type Manifest struct {
	// Wasm is the module file, relative to the bundle folder.
	Wasm         string       `yaml:"wasm" json:"wasm"`
	Functions    []Function   `yaml:"functions" json:"functions"`
	Capabilities Capabilities `yaml:"capabilities,omitempty" json:"capabilities"`
	Limits       Limits       `yaml:"limits,omitempty" json:"limits"`
	// Isolation defaults to pooled.
	Isolation Isolation `yaml:"isolation,omitempty" json:"isolation"`
}

// Function is one callable export.
type Function struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Input is the JSON Schema of the function's input, as JSON; nil when
	// the manifest declares none.
	Input json.RawMessage `yaml:"-" json:"input,omitempty"`
}

// Capabilities is what a skill requests. Nothing is given by default; the
// operator's grant decides what is really usable (policy.Effective).
type Capabilities struct {
	// FS maps a guest path (absolute, e.g. "/data") to ro or rw.
	FS      map[string]Access `yaml:"fs,omitempty" json:"fs,omitempty"`
	HTTP    *HTTPRequest      `yaml:"http,omitempty" json:"http,omitempty"`
	Browser *BrowserRequest   `yaml:"browser,omitempty" json:"browser,omitempty"`
	Mail    *MailRequest      `yaml:"mail,omitempty" json:"mail,omitempty"`
	KV      *KVRequest        `yaml:"kv,omitempty" json:"kv,omitempty"`
	// Secrets are names of operator secrets the host may inject into
	// requests; the guest never reads their values.
	Secrets []string `yaml:"secrets,omitempty" json:"secrets,omitempty"`
}

// HTTPRequest asks for outbound HTTP.
type HTTPRequest struct {
	// Hosts are host patterns: "api.example.org", "*.example.org",
	// optionally with a port ("example.org:8443") or a scheme
	// ("http://127.0.0.1:8080").
	Hosts []string `yaml:"hosts" json:"hosts"`
	// Methods defaults to GET and HEAD when empty.
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
}

// BrowserRequest asks for the headless browser.
type BrowserRequest struct {
	Hosts []string `yaml:"hosts" json:"hosts"`
	// Eval asks for arbitrary JavaScript evaluation (browser.eval).
	Eval bool `yaml:"eval,omitempty" json:"eval,omitempty"`
}

// MailRequest asks for mail.
type MailRequest struct {
	Send *MailSend `yaml:"send,omitempty" json:"send,omitempty"`
	Read *MailRead `yaml:"read,omitempty" json:"read,omitempty"`
}

// MailSend lists recipient patterns ("*@example.org", "a@b.org").
type MailSend struct {
	To []string `yaml:"to" json:"to"`
}

// MailRead lists mailboxes; Modify asks to mark seen and move.
type MailRead struct {
	Mailboxes []string `yaml:"mailboxes" json:"mailboxes"`
	Modify    bool     `yaml:"modify,omitempty" json:"modify,omitempty"`
}

// KVRequest asks for a key-value namespace of at most Quota bytes.
type KVRequest struct {
	Quota Size `yaml:"quota" json:"quota"`
}

// Limits bound one call. Zero fields take the defaults below.
type Limits struct {
	Memory  Size     `yaml:"memory,omitempty" json:"memory"`
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout"`
	Output  Size     `yaml:"output,omitempty" json:"output"`
}

// Defaults for Limits.
const (
	DefaultMemory  = 64 << 20
	DefaultTimeout = 10 * time.Second
	DefaultOutput  = 4 << 20
	// MaxMemory is the largest memory limit a manifest may ask for (4 GiB is
	// wasm32's own ceiling).
	MaxMemory = 4 << 30
)
