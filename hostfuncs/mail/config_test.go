package hostmail

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// mailConfig mirrors how the lead embeds accounts in config.yaml.
type mailConfig struct {
	Mail struct {
		Accounts map[string]Account `yaml:"accounts" json:"accounts"`
	} `yaml:"mail" json:"mail"`
}

func TestConfigYAML(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg mailConfig
	if err := yaml.Unmarshal(good, &cfg); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, a := range cfg.Mail.Accounts {
		if err := a.Validate(name); err != nil {
			t.Fatalf("valid account: %v", err)
		}
	}
	work := cfg.Mail.Accounts["work"]
	if work.SMTP.Port != 587 || work.SMTP.TLS != TLSStartTLS || work.IMAP.PasswordFile != "/run/secrets/imap" || time.Duration(work.IMAP.Timeout) != 20*time.Second {
		t.Fatalf("decoded %+v %+v", work.SMTP, work.IMAP)
	}

	tests := []struct {
		name, yaml, want string
	}{
		{"literal password", "smtp: {host: smtp.corp.example, username: u, password: hunter22}", `literal "password" is not allowed`},
		{"literal pass", "imap: {host: imap.corp.example, username: u, pass: hunter22}", `literal "password" is not allowed`},
		{"unknown key", "smtp: {host: smtp.corp.example, hots: x}", `unknown key "hots"`},
		{"not a mapping", "smtp: [a, b]", "must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Account
			err := yaml.Unmarshal([]byte(tt.yaml), &a)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Fatalf("error echoes the password: %v", err)
			}
		})
	}
}

func TestConfigJSONRejectsPassword(t *testing.T) {
	var a Account
	err := json.Unmarshal([]byte(`{"smtp":{"host":"smtp.corp.example","username":"u","password":"hunter22"}}`), &a)
	if err == nil || !strings.Contains(err.Error(), "password_env") || strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("got %v", err)
	}
	if err := json.Unmarshal([]byte(`{"smtp":{"host":"h","username":"u","password_env":"P"}}`), &a); err != nil {
		t.Fatal(err)
	}
}

func TestAccountValidate(t *testing.T) {
	srv := func(mod func(*Server)) *Server {
		s := &Server{Host: "mail.corp.example", Port: 587, TLS: TLSStartTLS, Username: "robot@corp.example", PasswordEnv: "MAIL_PASS"}
		if mod != nil {
			mod(s)
		}
		return s
	}
	tests := []struct {
		name string
		acc  Account
		want string // "" = valid
	}{
		{"smtp only", Account{SMTP: srv(nil)}, ""},
		{"imap only", Account{IMAP: srv(nil)}, ""},
		{"default port and tls", Account{SMTP: srv(func(s *Server) { s.Port, s.TLS = 0, "" })}, ""},
		{"ipv6 host", Account{SMTP: srv(func(s *Server) { s.Host = "::1" })}, ""},
		{"none to loopback with password", Account{SMTP: srv(func(s *Server) { s.Host, s.TLS = "127.0.0.1", TLSNone })}, ""},
		{"relay without auth", Account{SMTP: srv(func(s *Server) { s.TLS, s.Username, s.PasswordEnv = TLSNone, "", "" }), From: "a@corp.example"}, ""},
		{"nothing", Account{}, "needs an smtp or an imap server"},
		{"no host", Account{SMTP: srv(func(s *Server) { s.Host = "" })}, "host is required"},
		{"host with port", Account{SMTP: srv(func(s *Server) { s.Host = "mail.corp.example:25" })}, "without port"},
		{"host with scheme", Account{SMTP: srv(func(s *Server) { s.Host = "smtp://x" })}, "without port or scheme"},
		{"port", Account{SMTP: srv(func(s *Server) { s.Port = 70000 })}, "port 70000"},
		{"negative port", Account{IMAP: srv(func(s *Server) { s.Port = -1 })}, "port -1"},
		{"tls value", Account{SMTP: srv(func(s *Server) { s.TLS = "ssl" })}, `tls "ssl"`},
		{"clear-text password to remote", Account{SMTP: srv(func(s *Server) { s.TLS = TLSNone })}, "clear text"},
		{"both password sources", Account{SMTP: srv(func(s *Server) { s.PasswordFile = "/x" })}, "only one of"},
		{"no password source", Account{SMTP: srv(func(s *Server) { s.PasswordEnv = "" })}, "needs password_env or password_file"},
		{"password without user", Account{SMTP: srv(func(s *Server) { s.Username = "" }), From: "a@corp.example"}, "without a username"},
		{"bad env name", Account{SMTP: srv(func(s *Server) { s.PasswordEnv = "MAIL-PASS" })}, "password_env"},
		{"relative password file", Account{SMTP: srv(func(s *Server) { s.PasswordEnv, s.PasswordFile = "", "pass.txt" })}, "absolute path"},
		{"relative ca file", Account{SMTP: srv(func(s *Server) { s.CAFile = "ca.pem" })}, "ca_file"},
		{"username with newline", Account{SMTP: srv(func(s *Server) { s.Username = "a\r\nb" })}, "control character"},
		{"imap without user", Account{IMAP: srv(func(s *Server) { s.Username, s.PasswordEnv = "", "" })}, "username is required"},
		{"smtp without sender", Account{SMTP: srv(func(s *Server) { s.Username = "robot" })}, "from"},
		{"bad from", Account{SMTP: srv(nil), From: "not an address"}, "from"},
		{"from with newline", Account{SMTP: srv(nil), From: "a@corp.example\r\nBcc: x@y"}, "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.acc.Validate("work")
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			case err != nil && !strings.Contains(err.Error(), `mail account "work"`):
				t.Fatalf("error does not name the account: %v", err)
			}
		})
	}
	if err := (Account{SMTP: srv(nil)}).Validate("bad name"); err == nil {
		t.Fatal("account name with a space accepted")
	}
}

func TestNewRejectsBadCAFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{Accounts: map[string]Account{"work": {SMTP: &Server{Host: "127.0.0.1", CAFile: bad}, From: "a@corp.example"}}})
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("got %v", err)
	}
}

func TestInsecureSkipVerifyIsLogged(t *testing.T) {
	var buf bytes.Buffer
	_, err := New(Options{
		Logger:   slog.New(slog.NewTextHandler(&buf, nil)),
		Accounts: map[string]Account{"work": {SMTP: &Server{Host: "127.0.0.1", InsecureSkipVerify: true}, From: "a@corp.example"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "insecure_skip_verify") {
		t.Fatalf("no warning logged: %q", buf.String())
	}
}

func TestPasswordSources(t *testing.T) {
	t.Setenv("REEF_TEST_MAIL_PASS", "from-env")
	s := &Server{PasswordEnv: "REEF_TEST_MAIL_PASS"}
	if p, err := s.password(); err != nil || p != "from-env" {
		t.Fatalf("env: %q %v", p, err)
	}
	s = &Server{PasswordEnv: "REEF_TEST_MAIL_UNSET"}
	if _, err := s.password(); err == nil || !strings.Contains(err.Error(), "REEF_TEST_MAIL_UNSET is not set") {
		t.Fatalf("unset env: %v", err)
	}
	s = &Server{PasswordFile: passwordFile(t, "from-file")}
	if p, err := s.password(); err != nil || p != "from-file" {
		t.Fatalf("file: %q %v", p, err)
	}
	s = &Server{PasswordFile: filepath.Join(t.TempDir(), "missing")}
	if _, err := s.password(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: %v", err)
	}
}
