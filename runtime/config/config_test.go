package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDefaultsAndEnv(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(f, []byte("listen: 127.0.0.1:9999\nmax_workers: 3\nlog_level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(f, envOf(map[string]string{"SKILL_DIR": "/s1", "REEF_SKILL_DIR": "/s2", "CACHE_SIZE": "64MiB", "XDG_DATA_HOME": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.MaxWorkers != 3 || c.SkillDir != "/s2" || c.CacheSize != 64<<20 || c.GrantsFile != filepath.Join(dir, "grants.yaml") {
		t.Fatalf("%+v", c)
	}
	if c.Server.QueueSize != 48 {
		t.Fatalf("queue size default = %d", c.Server.QueueSize)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"unknown key", "listen: x\nbogus: 1\n", nil, "field bogus not found"},
		{"syntax", "listen: [\n", nil, "config.yaml"},
		{"alias", "a: &x 1\nlisten: *x\n", nil, "anchors and aliases"},
		{"bad level", "log_level: loud\n", nil, "unknown log level"},
		{"bad workers env", "", map[string]string{"MAX_WORKERS": "zero"}, "MAX_WORKERS"},
		{"bad cache env", "", map[string]string{"CACHE_SIZE": "lots"}, "CACHE_SIZE"},
		{"bad tz", "tz: Mars/Olympus\n", nil, "Mars/Olympus"},
		{"token role", "auth:\n  tokens:\n    - {name: a, hash: x, role: god}\n", nil, "role \"god\""},
		{"plain token", "auth:\n  tokens:\n    - {name: a, hash: secret, role: admin}\n", nil, "store hashes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(f, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(f, envOf(c.env))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestMissingExplicitFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), envOf(nil)); err == nil {
		t.Fatal("missing explicit config file accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:1\nmax_workers: 2\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse("config.yaml", b)
	})
}
