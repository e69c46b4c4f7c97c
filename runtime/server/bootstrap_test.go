package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/server"
)

func TestEnsureAdminToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reef")
	tok, path, created, err := server.EnsureAdminToken(dir)
	if err != nil || !created || !strings.HasPrefix(tok, "reef_") || len(tok) < 40 {
		t.Fatalf("first: %q %v %v", tok, created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi.Mode().Perm(), err)
	}
	again, _, created, err := server.EnsureAdminToken(dir)
	if err != nil || created || again != tok {
		t.Fatalf("second: %q %v %v", again, created, err)
	}
	// A token file others can read is refused, not used.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := server.EnsureAdminToken(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable token accepted: %v", err)
	}
	if a, b := server.GenerateToken(), server.GenerateToken(); a == b {
		t.Fatal("tokens repeat")
	}
}

func TestLoopback(t *testing.T) {
	cases := []struct {
		in, out string
		loop    bool
	}{
		{"127.0.0.1:7777", "127.0.0.1:7777", true},
		{"localhost:80", "localhost:80", true},
		{"[::1]:7777", "[::1]:7777", true},
		{"0.0.0.0:7777", "127.0.0.1:7777", false},
		{":8080", "127.0.0.1:8080", false},
		{"[::]:9000", "127.0.0.1:9000", false},
		{"10.0.0.5:7777", "127.0.0.1:7777", false},
	}
	for _, c := range cases {
		if got := server.IsLoopback(c.in); got != c.loop {
			t.Errorf("IsLoopback(%q) = %v", c.in, got)
		}
		if got := server.LoopbackOnly(c.in); got != c.out {
			t.Errorf("LoopbackOnly(%q) = %q, want %q", c.in, got, c.out)
		}
	}
}

func TestNewRejectsBadTokens(t *testing.T) {
	cases := []server.Option{
		server.WithConfig(&configT{Auth: authT{Tokens: []tokenT{{Name: "x", Role: "root", Hash: server.HashToken("a")}}}}),
		server.WithConfig(&configT{Auth: authT{Tokens: []tokenT{{Name: "x", Role: "admin", Hash: "sha256:zz"}}}}),
		server.WithConfig(&configT{Auth: authT{Tokens: []tokenT{{Name: "x", Role: "viewer", Hash: server.HashToken("a"), Skills: []string{"[bad"}}}}}),
		server.WithToken("env", server.RoleAdmin, ""),
	}
	for i, o := range cases {
		if _, err := server.New(o); err == nil {
			t.Errorf("case %d: accepted", i)
		}
	}
}
