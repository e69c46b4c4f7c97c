package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/reefhq/reef/runtime/skill"
)

// Config is config.yaml. Zero values mean the documented default.
type Config struct {
	// Listen is the daemon's address (default 127.0.0.1:7777; REEF_LISTEN).
	Listen string `yaml:"listen,omitempty"`
	// SkillDir holds skills (default <data dir>/skills; SKILL_DIR).
	SkillDir string `yaml:"skill_dir,omitempty"`
	// GrantsFile is grants.yaml (default beside config.yaml; REEF_GRANTS).
	GrantsFile string `yaml:"grants_file,omitempty"`
	// AuditLog is the JSON-lines audit log (default <data dir>/audit.log).
	AuditLog string `yaml:"audit_log,omitempty"`
	// DataDir holds the kv store, audit log and compile cache (default
	// $XDG_DATA_HOME/reef).
	DataDir string `yaml:"data_dir,omitempty"`
	// CacheDir holds compiled modules (default <data dir>/cache; "off"
	// disables the disk cache).
	CacheDir string `yaml:"cache_dir,omitempty"`
	// CacheSize bounds the disk compile cache (default 512MiB; CACHE_SIZE).
	CacheSize skill.Size `yaml:"cache_size,omitempty"`
	// MaxWorkers bounds concurrent calls (default CPUs×2; MAX_WORKERS).
	MaxWorkers int `yaml:"max_workers,omitempty"`
	// LogLevel is debug, info, warn or error (default info; LOG_LEVEL).
	LogLevel string `yaml:"log_level,omitempty"`
	// TZ is the time zone for logs and skills' wall clock (TZ).
	TZ string `yaml:"tz,omitempty"`

	Server  Server  `yaml:"server,omitempty"`
	Auth    Auth    `yaml:"auth,omitempty"`
	HTTP    HTTP    `yaml:"http,omitempty"`
	FS      FS      `yaml:"fs,omitempty"`
	KV      KV      `yaml:"kv,omitempty"`
	Browser Browser `yaml:"browser,omitempty"`
	Mail    Mail    `yaml:"mail,omitempty"`
	Secrets Secrets `yaml:"secrets,omitempty"`

	// File is where the config was read from ("" = defaults only).
	File string `yaml:"-"`
	// Dir is reef's config directory.
	Dir string `yaml:"-"`
}

// Server tunes the daemon.
type Server struct {
	// QueueSize bounds calls waiting for a worker (default MaxWorkers×16).
	QueueSize int `yaml:"queue_size,omitempty"`
	// QueueTimeout is how long a call may wait for a worker (default 5s).
	QueueTimeout skill.Duration `yaml:"queue_timeout,omitempty"`
	// PerSkillConcurrency bounds concurrent calls of one skill (default
	// MaxWorkers).
	PerSkillConcurrency int `yaml:"per_skill_concurrency,omitempty"`
	// MaxBodyBytes bounds request bodies (default 8MiB).
	MaxBodyBytes skill.Size `yaml:"max_body,omitempty"`
	// ShutdownTimeout bounds the drain on SIGTERM (default 30s).
	ShutdownTimeout skill.Duration `yaml:"shutdown_timeout,omitempty"`
	// TLSCert and TLSKey enable HTTPS.
	TLSCert string `yaml:"tls_cert,omitempty"`
	TLSKey  string `yaml:"tls_key,omitempty"`
	// AllowedHosts are extra Host header values accepted besides the
	// listen address and localhost (DNS-rebinding defence).
	AllowedHosts []string `yaml:"allowed_hosts,omitempty"`
	// AllowedOrigins are browser origins allowed to call the API.
	AllowedOrigins []string `yaml:"allowed_origins,omitempty"`
	// Preload compiles every skill at start (default false: a skill is
	// compiled on its first call, so start is instant and idle memory holds
	// only the skills in use).
	Preload bool `yaml:"preload,omitempty"`
}

// Auth is the RBAC matrix.
type Auth struct {
	Tokens []Token `yaml:"tokens,omitempty"`
}

// Token is one bearer token, stored as a SHA-256 hash.
type Token struct {
	Name string `yaml:"name"`
	// Hash is "sha256:<hex>" of the token.
	Hash string `yaml:"hash"`
	// Role is admin, operator, invoker or viewer.
	Role string `yaml:"role"`
	// Skills are skill name patterns ("*", "web-*") the token may use
	// (invoker, viewer); empty means all.
	Skills []string `yaml:"skills,omitempty"`
}

// HTTP tunes the http capability.
type HTTP struct {
	MaxResponseBytes   skill.Size     `yaml:"max_response,omitempty"`
	Timeout            skill.Duration `yaml:"timeout,omitempty"`
	MaxRequestsPerCall int            `yaml:"max_requests_per_call,omitempty"`
}

// FS tunes the fs capability.
type FS struct {
	QuotaBytes   skill.Size `yaml:"quota,omitempty"`
	QuotaFiles   int        `yaml:"quota_files,omitempty"`
	MaxFileBytes skill.Size `yaml:"max_file,omitempty"`
}

// KV tunes the kv capability.
type KV struct {
	// Path of the bbolt file (default <data dir>/kv.db).
	Path          string     `yaml:"path,omitempty"`
	MaxValueBytes skill.Size `yaml:"max_value,omitempty"`
}

// Browser tunes the browser capability.
type Browser struct {
	ExecPath    string         `yaml:"exec_path,omitempty"`
	RemoteURL   string         `yaml:"remote_url,omitempty"`
	MaxContexts int            `yaml:"max_contexts,omitempty"`
	Timeout     skill.Duration `yaml:"timeout,omitempty"`
	// Warm is how many confined contexts are kept ready (default
	// max_contexts; -1 keeps none, to save memory).
	Warm int `yaml:"warm,omitempty"`
}

// Mail holds operator mail accounts; each is decoded by hostfuncs/mail.
type Mail struct {
	Accounts map[string]yaml.Node `yaml:"accounts,omitempty"`
}

// Secrets says where operator secrets come from: environment variables
// REEF_SECRET_<NAME> and, if set, files <Dir>/<NAME>.
type Secrets struct {
	Dir string `yaml:"dir,omitempty"`
}

// MaxFileBytes bounds config.yaml.
const MaxFileBytes = 1 << 20

// DefaultDir is reef's config directory.
func DefaultDir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "reef")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".config", "reef")
	}
	return filepath.Join(os.TempDir(), "reef-config")
}

// DefaultDataDir is reef's data directory.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "reef")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "reef")
	}
	return filepath.Join(os.TempDir(), "reef-data")
}

// Env is the environment lookup (os.LookupEnv in production).
type Env func(string) (string, bool)

// Load reads file (or, if empty, $REEF_CONFIG, else config.yaml in the
// default directory; a missing default file is not an error), applies the
// environment, fills defaults and validates.
func Load(file string, env Env) (*Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	explicit := file != ""
	if !explicit {
		if v, ok := env("REEF_CONFIG"); ok && v != "" {
			file, explicit = v, true
		}
	}
	c := &Config{}
	if !explicit {
		c.Dir = DefaultDir()
		file = filepath.Join(c.Dir, "config.yaml")
	} else {
		c.Dir = filepath.Dir(file)
	}
	data, err := os.ReadFile(file)
	switch {
	case err == nil:
		if err := parse(file, data, c); err != nil {
			return nil, err
		}
		c.File = file
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.applyEnv(env); err != nil {
		return nil, err
	}
	c.fillDefaults()
	return c, c.validate()
}

// Parse reads config.yaml bytes strictly (unknown keys are errors).
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{}
	if err := parse(file, data, c); err != nil {
		return nil, err
	}
	return c, nil
}

func parse(file string, data []byte, c *Config) error {
	if len(data) > MaxFileBytes {
		return fmt.Errorf("%s: file is %d bytes, over the %d byte limit", file, len(data), MaxFileBytes)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("%s: not valid UTF-8", file)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if line := findAlias(&n); line > 0 {
		return fmt.Errorf("%s:%d: YAML anchors and aliases are not allowed", file, line)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func findAlias(n *yaml.Node) int {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return n.Line
	}
	for _, c := range n.Content {
		if l := findAlias(c); l > 0 {
			return l
		}
	}
	return 0
}

func (c *Config) applyEnv(env Env) error {
	get := func(names ...string) (string, string, bool) {
		for _, n := range names {
			if v, ok := env(n); ok && v != "" {
				return n, v, true
			}
		}
		return "", "", false
	}
	if _, v, ok := get("REEF_SKILL_DIR", "SKILL_DIR"); ok {
		c.SkillDir = v
	}
	if _, v, ok := get("REEF_LISTEN"); ok {
		c.Listen = v
	}
	if _, v, ok := get("REEF_GRANTS"); ok {
		c.GrantsFile = v
	}
	if _, v, ok := get("REEF_DATA_DIR"); ok {
		c.DataDir = v
	}
	if _, v, ok := get("REEF_CACHE_DIR"); ok {
		c.CacheDir = v
	}
	if _, v, ok := get("REEF_LOG_LEVEL", "LOG_LEVEL"); ok {
		c.LogLevel = v
	}
	if _, v, ok := get("REEF_TZ", "TZ"); ok {
		c.TZ = v
	}
	if _, v, ok := get("REEF_BROWSER_URL"); ok {
		c.Browser.RemoteURL = v
	}
	if n, v, ok := get("REEF_CACHE_SIZE", "CACHE_SIZE"); ok {
		s, err := skill.ParseSize(v)
		if err != nil {
			return fmt.Errorf("environment %s: %w", n, err)
		}
		c.CacheSize = s
	}
	if n, v, ok := get("REEF_MAX_WORKERS", "MAX_WORKERS"); ok {
		w, err := strconv.Atoi(v)
		if err != nil || w < 1 || w > 4096 {
			return fmt.Errorf("environment %s=%q: want a whole number from 1 to 4096", n, v)
		}
		c.MaxWorkers = w
	}
	return nil
}

func (c *Config) fillDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:7777"
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir()
	}
	if c.SkillDir == "" {
		c.SkillDir = filepath.Join(c.DataDir, "skills")
	}
	if c.GrantsFile == "" {
		c.GrantsFile = filepath.Join(c.Dir, "grants.yaml")
	}
	if c.AuditLog == "" {
		c.AuditLog = filepath.Join(c.DataDir, "audit.log")
	}
	if c.CacheDir == "" {
		c.CacheDir = filepath.Join(c.DataDir, "cache")
	}
	if c.CacheSize == 0 {
		c.CacheSize = 512 << 20
	}
	if c.MaxWorkers == 0 {
		c.MaxWorkers = runtime.NumCPU() * 2
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.KV.Path == "" {
		c.KV.Path = filepath.Join(c.DataDir, "kv.db")
	}
	s := &c.Server
	if s.QueueSize == 0 {
		s.QueueSize = c.MaxWorkers * 16
	}
	if s.QueueTimeout == 0 {
		s.QueueTimeout = skill.Duration(5 * time.Second)
	}
	if s.PerSkillConcurrency == 0 {
		s.PerSkillConcurrency = c.MaxWorkers
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 8 << 20
	}
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = skill.Duration(30 * time.Second)
	}
}

func (c *Config) validate() error {
	var errs []error
	where := c.File
	if where == "" {
		where = "config"
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("%s: log_level: %w", where, err))
	}
	if c.TZ != "" {
		if _, err := time.LoadLocation(c.TZ); err != nil {
			errs = append(errs, fmt.Errorf("%s: tz %q: %w", where, c.TZ, err))
		}
	}
	if c.MaxWorkers < 1 || c.MaxWorkers > 4096 {
		errs = append(errs, fmt.Errorf("%s: max_workers %d: want 1 to 4096", where, c.MaxWorkers))
	}
	for i, t := range c.Auth.Tokens {
		switch t.Role {
		case "admin", "operator", "invoker", "viewer":
		default:
			errs = append(errs, fmt.Errorf("%s: auth.tokens[%d] (%s): role %q: want admin, operator, invoker or viewer", where, i, t.Name, t.Role))
		}
		if !strings.HasPrefix(t.Hash, "sha256:") || len(t.Hash) != 7+64 {
			errs = append(errs, fmt.Errorf("%s: auth.tokens[%d] (%s): hash must be sha256:<64 hex digits> (store hashes, never tokens)", where, i, t.Name))
		}
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		errs = append(errs, fmt.Errorf("%s: server.tls_cert and server.tls_key go together", where))
	}
	return errors.Join(errs...)
}

// ParseLevel reads a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(strings.TrimSpace(s)))); err != nil {
		return 0, fmt.Errorf("unknown log level %q (debug, info, warn, error)", s)
	}
	return l, nil
}
