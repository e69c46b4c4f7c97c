package hostmail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/reefhq/reef/runtime/skill"
)

// TLS modes of a Server.
const (
	// TLSNone is a plain TCP connection. Passwords are only sent over it to
	// a loopback server (the SMTP and IMAP clients refuse otherwise).
	TLSNone = "none"
	// TLSStartTLS upgrades a plain connection with STARTTLS; a server
	// without STARTTLS is an error, never a silent downgrade.
	TLSStartTLS = "starttls"
	// TLSImplicit is TLS from the first byte (SMTPS 465, IMAPS 993).
	TLSImplicit = "tls"
)

// DefaultTimeout bounds each network operation of a call when an account
// sets no timeout (the call's own deadline still applies).
const DefaultTimeout = 30 * time.Second

// Account is one operator-configured mail account: config.yaml
// mail.accounts.NAME. Skills refer to it by NAME and never see its
// credentials.
type Account struct {
	// SMTP sends mail; nil: the account cannot send.
	SMTP *Server `yaml:"smtp,omitempty" json:"smtp,omitempty"`
	// IMAP reads mail; nil: the account cannot read.
	IMAP *Server `yaml:"imap,omitempty" json:"imap,omitempty"`
	// From is the sender address of every message sent through the
	// account ("Reports <reports@corp.example>" or a bare address). Empty:
	// the SMTP username, which must then be an address. Skills cannot set
	// the sender.
	From string `yaml:"from,omitempty" json:"from,omitempty"`
}

// Server is how to reach and log in to one SMTP or IMAP server.
//
// A literal password is deliberately not a field: a "password" key is
// rejected when decoding YAML or JSON, so credentials stay out of
// config.yaml (and out of backups and bug reports of it).
type Server struct {
	Host string `yaml:"host" json:"host"`
	// Port 0 takes the usual port of the protocol and TLS mode: SMTP
	// 25/587/465 and IMAP 143/143/993 for none/starttls/tls.
	Port int `yaml:"port,omitempty" json:"port,omitempty"`
	// TLS is none, starttls or tls (the default).
	TLS string `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Username logs in; empty: no authentication (SMTP relay only).
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	// PasswordFile is the absolute path of a file holding the password
	// (trailing newline ignored). Exactly one of PasswordEnv and
	// PasswordFile is required with a Username.
	PasswordFile string `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	// InsecureSkipVerify turns certificate verification off. It is an
	// explicit opt-out, logged at warn level when the module starts.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
	// CAFile is a PEM file of extra root CAs trusted for this server, on
	// top of the system roots (a private CA, or a test server).
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// Timeout bounds each network operation (default DefaultTimeout).
	Timeout skill.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// serverKeys are the accepted keys of a Server, in YAML and JSON.
var serverKeys = []string{"host", "port", "tls", "username", "password_env", "password_file", "insecure_skip_verify", "ca_file", "timeout"}

var errLiteralPassword = errors.New(`literal "password" is not allowed: put the password in an environment variable or a file and name it with password_env or password_file`)

func checkServerKey(k string) error {
	switch strings.ToLower(k) {
	case "password", "pass", "passwd", "secret":
		return errLiteralPassword
	}
	for _, known := range serverKeys {
		if k == known {
			return nil
		}
	}
	return fmt.Errorf("unknown key %q (known: %s)", k, strings.Join(serverKeys, ", "))
}

// UnmarshalYAML implements yaml.Unmarshaler: it rejects a literal password
// and unknown keys even when the enclosing decoder is not strict.
func (s *Server) UnmarshalYAML(value *yaml.Node) error {
	if value.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: mail server must be a mapping", value.Line)
	}
	for i := 0; i+1 < len(value.Content); i += 2 {
		if err := checkServerKey(value.Content[i].Value); err != nil {
			return fmt.Errorf("line %d: mail server: %w", value.Content[i].Line, err)
		}
	}
	type plain Server
	var p plain
	if err := value.Decode(&p); err != nil {
		return err
	}
	*s = Server(p)
	return nil
}

// UnmarshalJSON implements json.Unmarshaler with the same rules as YAML.
func (s *Server) UnmarshalJSON(b []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("mail server: %w", err)
	}
	for k := range keys {
		if err := checkServerKey(k); err != nil {
			return fmt.Errorf("mail server: %w", err)
		}
	}
	type plain Server
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("mail server: %w", err)
	}
	*s = Server(p)
	return nil
}

// Validate checks the account named name; the error names the account and
// the field. It does not read the password (that happens at use time).
func (a Account) Validate(name string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n\x00") {
		return fmt.Errorf("mail account %q: name must be non-empty without spaces", name)
	}
	if a.SMTP == nil && a.IMAP == nil {
		return fmt.Errorf("mail account %q: needs an smtp or an imap server", name)
	}
	if a.SMTP != nil {
		if err := a.SMTP.validate(); err != nil {
			return fmt.Errorf("mail account %q: smtp: %w", name, err)
		}
		if _, err := a.sender(); err != nil {
			return fmt.Errorf("mail account %q: %w", name, err)
		}
	}
	if a.IMAP != nil {
		if err := a.IMAP.validate(); err != nil {
			return fmt.Errorf("mail account %q: imap: %w", name, err)
		}
		if a.IMAP.Username == "" {
			return fmt.Errorf("mail account %q: imap: username is required", name)
		}
	}
	return nil
}

// sender is the From address of the account.
func (a Account) sender() (*mail.Address, error) {
	from := a.From
	if from == "" && a.SMTP != nil {
		from = a.SMTP.Username
	}
	if from == "" {
		return nil, errors.New("from: no sender address (set from, or use an address as smtp username)")
	}
	if hasControl(from) {
		return nil, fmt.Errorf("from %q: contains a control character", from)
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("from %q: not an address: %w", from, err)
	}
	return addr, nil
}

func (s *Server) validate() error {
	switch {
	case s.Host == "":
		return errors.New("host is required")
	case strings.ContainsAny(s.Host, " \t\r\n\x00/@[]") || (strings.Contains(s.Host, ":") && net.ParseIP(s.Host) == nil):
		return fmt.Errorf("host %q: want a host name or IP address without port or scheme", s.Host)
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("port %d: want 1-65535 (or 0 for the default)", s.Port)
	}
	switch s.TLS {
	case "", TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("tls %q: want none, starttls or tls", s.TLS)
	}
	if hasControl(s.Username) {
		return errors.New("username contains a control character")
	}
	switch {
	case s.PasswordEnv != "" && s.PasswordFile != "":
		return errors.New("set only one of password_env and password_file")
	case s.Username != "" && s.PasswordEnv == "" && s.PasswordFile == "":
		return errors.New("username needs password_env or password_file")
	case s.Username == "" && (s.PasswordEnv != "" || s.PasswordFile != ""):
		return errors.New("password_env/password_file without a username")
	}
	if s.tlsMode() == TLSNone && s.Username != "" && !isLoopbackHost(s.Host) {
		return fmt.Errorf("tls none with a username would send the password in clear text to %s: use starttls or tls (tls none is only allowed with credentials for localhost/loopback servers)", s.Host)
	}
	if s.PasswordEnv != "" && !validEnvName(s.PasswordEnv) {
		return fmt.Errorf("password_env %q: want an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", s.PasswordEnv)
	}
	if s.PasswordFile != "" && !filepath.IsAbs(s.PasswordFile) {
		return fmt.Errorf("password_file %q: want an absolute path", s.PasswordFile)
	}
	if s.CAFile != "" && !filepath.IsAbs(s.CAFile) {
		return fmt.Errorf("ca_file %q: want an absolute path", s.CAFile)
	}
	if s.Timeout < 0 {
		return fmt.Errorf("timeout %s: must be positive", time.Duration(s.Timeout))
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func validEnvName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

func (s *Server) tlsMode() string {
	if s.TLS == "" {
		return TLSImplicit
	}
	return s.TLS
}

func (s *Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return time.Duration(s.Timeout)
	}
	return DefaultTimeout
}

// port returns the configured port or the default of the protocol.
func (s *Server) port(smtp bool) int {
	if s.Port != 0 {
		return s.Port
	}
	switch {
	case smtp && s.tlsMode() == TLSImplicit:
		return 465
	case smtp && s.tlsMode() == TLSStartTLS:
		return 587
	case smtp:
		return 25
	case s.tlsMode() == TLSImplicit:
		return 993
	}
	return 143
}

// password reads the password at use time. Errors name the variable or
// file, never a value.
func (s *Server) password() (string, error) {
	switch {
	case s.PasswordEnv != "":
		v, ok := os.LookupEnv(s.PasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("password: environment variable %s is not set", s.PasswordEnv)
		}
		return v, nil
	case s.PasswordFile != "":
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("password: reading password_file %s: %w", s.PasswordFile, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("password: password_file %s is empty", s.PasswordFile)
		}
		return v, nil
	}
	return "", nil
}

// hasControl reports C0 controls (CR, LF, NUL, …) and DEL. Tab is a
// control too: none of the values checked with it needs one.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
