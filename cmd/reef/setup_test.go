package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reefhq/reef/runtime/config"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/server"
)

// setupLibrary is a skill directory with skills requesting fs+kv, http,
// and nothing.
func setupLibrary(t *testing.T) string {
	t.Helper()
	dir := testSkills(t) // greet.wasm, spin.wasm: request nothing
	greet, _ := os.ReadFile(filepath.Join(dir, "greet.wasm"))
	bundle := func(name, caps string) {
		d := filepath.Join(dir, name)
		_ = os.MkdirAll(d, 0o755)
		files := map[string]string{
			"SKILL.md":  fmt.Sprintf("---\nname: %s\ndescription: Test skill %s.\n---\n", name, name),
			"reef.yaml": fmt.Sprintf("wasm: %s.wasm\nfunctions: [{ name: greet }]\ncapabilities:\n%s", name, caps),
		}
		for f, c := range files {
			if err := os.WriteFile(filepath.Join(d, f), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, name+".wasm"), greet, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bundle("files", "  fs: { /data: rw }\n  kv: { quota: 1MiB }\n")
	bundle("web", "  http: { hosts: [api.example.org], methods: [GET, POST] }\n")
	return dir
}

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

var tokenRE = regexp.MustCompile(`(\w+) token "([^"]+)"[^\n]*\n\s+(reef_[A-Za-z0-9_-]+)`)

func TestSetupFlags(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	for _, v := range []string{"REEF_CONFIG", "REEF_GRANTS", "REEF_LISTEN", "SKILL_DIR", "REEF_SKILL_DIR"} {
		t.Setenv(v, "")
	}
	lib := setupLibrary(t)
	cfgFile := filepath.Join(home, "config", "reef", "config.yaml")
	adminFile := filepath.Join(home, "admin-secret")
	code, out, errOut := runMain(t, "setup", "--yes", "--config-file", cfgFile, "--skill-dir", lib, "--listen", "0.0.0.0:7777",
		"--grant", "files", "--grant", "web", "--mount", "files:/data=/srv/data:rw", "--invoker", "assistant:web*,greet", "--admin-token-file", adminFile)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	cfg, err := config.Load(cfgFile, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:7777" || cfg.SkillDir != lib || len(cfg.Auth.Tokens) != 2 {
		t.Fatalf("config: %+v", cfg)
	}
	adminTok, _ := os.ReadFile(adminFile)
	if fi, _ := os.Stat(adminFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file mode %v", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(cfgFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v", fi.Mode().Perm())
	}
	admin, inv := cfg.Auth.Tokens[0], cfg.Auth.Tokens[1]
	if admin.Role != "admin" || admin.Hash != server.HashToken(strings.TrimSpace(string(adminTok))) {
		t.Fatalf("admin token: %+v", admin)
	}
	m := tokenRE.FindStringSubmatch(out)
	if m == nil || m[1] != "invoker" || m[2] != "assistant" || inv.Hash != server.HashToken(m[3]) || strings.Join(inv.Skills, ",") != "web*,greet" {
		t.Fatalf("invoker token: %+v\n%s", inv, out)
	}
	raw, _ := os.ReadFile(cfgFile)
	if strings.Contains(string(raw), m[3]) || strings.Contains(string(raw), strings.TrimSpace(string(adminTok))) {
		t.Fatal("a clear-text token was stored in config.yaml")
	}
	if !strings.Contains(out, "plain HTTP") {
		t.Errorf("no warning about a non-loopback plain HTTP listener:\n%s", out)
	}
	g, err := policy.LoadGrants(cfg.GrantsFile)
	if err != nil {
		t.Fatal(err)
	}
	files, web := g.Skills["files"], g.Skills["web"]
	if files == nil || files.FS["/data"] != "/srv/data:rw" || files.KV == nil || files.KV.Quota != 1<<20 {
		t.Fatalf("files grant: %+v", files)
	}
	if web == nil || web.HTTP == nil || strings.Join(web.HTTP.Hosts, ",") != "api.example.org" || len(web.HTTP.Methods) != 2 {
		t.Fatalf("web grant: %+v", web)
	}
	if g.Skills["greet"] != nil {
		t.Fatal("a skill that was not chosen got a grant")
	}

	// A comment the operator adds is kept; a re-run adds, never clobbers.
	if err := os.WriteFile(cfgFile, append([]byte("# my note\n"), raw...), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runMain(t, "setup", "--yes", "--config-file", cfgFile, "--invoker", "second:greet")
	if code != 0 {
		t.Fatalf("re-run: exit %d\n%s\n%s", code, out, errOut)
	}
	cfg2, err := config.Load(cfgFile, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	raw2, _ := os.ReadFile(cfgFile)
	if len(cfg2.Auth.Tokens) != 3 || cfg2.Auth.Tokens[0].Hash != admin.Hash || cfg2.Auth.Tokens[1].Hash != inv.Hash || cfg2.Auth.Tokens[2].Name != "second" ||
		cfg2.Listen != "0.0.0.0:7777" || cfg2.SkillDir != lib || !strings.Contains(string(raw2), "# my note") {
		t.Fatalf("re-run config:\n%s", raw2)
	}
	if strings.Contains(out, "admin token") {
		t.Fatalf("re-run made another admin token:\n%s", out)
	}
	if g2, _ := policy.LoadGrants(cfg.GrantsFile); g2.Skills["files"] == nil || g2.Skills["files"].FS["/data"] != "/srv/data:rw" {
		t.Fatal("re-run lost grants")
	}
}

func TestSetupErrors(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	lib := setupLibrary(t)
	cfgFile := filepath.Join(home, "c", "config.yaml")
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown skill", []string{"--yes", "--grant", "nosuch"}, "no such skill"},
		{"bad mount", []string{"--yes", "--mount", "files:data=/x"}, "--mount"},
		{"bad invoker", []string{"--yes", "--invoker", "nopattern"}, "NAME:PATTERN"},
		{"bad listen", []string{"--yes", "--listen", "7777"}, "host:port"},
		{"tls half", []string{"--yes", "--tls-cert", "/c.pem"}, "go together"},
		{"not a terminal", nil, "not a terminal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runMain(t, append([]string{"setup", "--config-file", cfgFile, "--skill-dir", lib}, c.args...)...)
			if code != exitUsage || !strings.Contains(errOut, c.msg) {
				t.Fatalf("exit %d, stderr %q (want %q)\n%s", code, errOut, c.msg, out)
			}
			if _, err := os.Stat(cfgFile); err == nil {
				t.Fatal("a failed setup wrote the config")
			}
		})
	}
}

// TestSetupInteractive drives the wizard in a real terminal (tmux): it
// types answers, then checks what was written.
func TestSetupInteractive(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux not found (%v): the interactive wizard test needs it (Debian package tmux)", err)
	}
	bin := buildReef(t)
	home := t.TempDir()
	lib := setupLibrary(t)
	cfgFile := filepath.Join(home, "config.yaml")
	session := fmt.Sprintf("reef-setup-%d", time.Now().UnixNano())
	sock := filepath.Join(home, "tmux.sock")
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	env := isolatedEnv(home)
	script := fmt.Sprintf("env -i %s %s setup --config-file %s --skill-dir %s; echo REEF_EXIT=$?; sleep 60",
		shellQuote(env), bin, cfgFile, lib)
	tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "60", "sh", "-c", script)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", sock, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-t", session) }
	waitScreen := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(screen(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %q; screen:\n%s", want, screen())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	keys := func(k ...string) { tmux(append([]string{"send-keys", "-t", session}, k...)...) }

	waitScreen("Listen address")
	keys("C-u")
	keys("-l", "127.0.0.1:7788")
	keys("Enter")                         // listen
	keys("Enter")                         // TLS cert: none
	keys("Enter")                         // TLS key: none
	keys("Enter")                         // skill dir (prefilled)
	waitScreen("grant what they request") // skills: files, greet, spin, web
	waitScreen("web — http api.example.org")
	keys("x")                    // files
	keys("Down", "Down", "Down") // web
	keys("x")
	keys("Enter")
	waitScreen("files: host directory for /data")
	keys("-l", "/srv/files")
	keys("Enter")
	waitScreen("Create an admin token?")
	keys("Enter") // yes (default)
	waitScreen("Invoker tokens")
	keys("-l", "bot:web")
	keys("Enter")
	waitScreen("Write " + cfgFile)
	keys("Enter")
	waitScreen("REEF_EXIT=")
	final := screen()
	if !strings.Contains(final, "REEF_EXIT=0") {
		t.Fatalf("wizard failed:\n%s", final)
	}
	m := regexp.MustCompile(`admin token "admin"[^\n]*\n\s+(reef_[A-Za-z0-9_-]+)`).FindStringSubmatch(final)
	if m == nil {
		t.Fatalf("admin token not shown:\n%s", final)
	}
	cfg, err := config.Load(cfgFile, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7788" || len(cfg.Auth.Tokens) != 2 || cfg.Auth.Tokens[0].Hash != server.HashToken(m[1]) ||
		cfg.Auth.Tokens[1].Name != "bot" || cfg.Auth.Tokens[1].Skills[0] != "web" {
		t.Fatalf("config after the wizard: %+v", cfg)
	}
	g, err := policy.LoadGrants(cfg.GrantsFile)
	if err != nil {
		t.Fatal(err)
	}
	if g.Skills["files"] == nil || g.Skills["files"].FS["/data"] != "/srv/files:rw" || g.Skills["web"] == nil || g.Skills["greet"] != nil || g.Skills["spin"] != nil {
		t.Fatalf("grants after the wizard: %+v", g.Skills)
	}
}

func shellQuote(env []string) string {
	var b strings.Builder
	for _, kv := range env {
		b.WriteString("'" + strings.ReplaceAll(kv, "'", `'\''`) + "' ")
	}
	return b.String()
}
