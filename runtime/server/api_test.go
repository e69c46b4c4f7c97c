package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/reefhq/reef/runtime/config"
	"github.com/reefhq/reef/runtime/server"
)

func TestInvoke(t *testing.T) {
	h := startServer(t, harnessOpts{})
	cases := []struct {
		name, skill, fn, input string
		status                 int
		code                   string // problem code, or "" for success
		body, ctype            string
	}{
		{"bare skill, text output", "greet", "greet", "reef", 200, "", "Hello, reef!", "application/octet-stream"},
		{"json output", "hello", "echo", `{"a":[1,2]}`, 200, "", `{"a":[1,2]}`, "application/json"},
		{"schema ok", "hello", "greet", `"Ada"`, 200, "", `Hello, "Ada"!`, "application/octet-stream"},
		{"schema: wrong type", "hello", "greet", `42`, 400, server.CodeBadRequest, "", ""},
		{"schema: not JSON", "hello", "greet", `{`, 400, server.CodeBadRequest, "", ""},
		{"undeclared function", "hello", "nope", `"x"`, 404, server.CodeNotFound, "", ""},
		{"bare: no such export", "greet", "nope", `x`, 404, server.CodeNotFound, "", ""},
		{"unknown skill", "nosuch", "f", ``, 404, server.CodeNotFound, "", ""},
		{"guest error", "hello", "fail", ``, 500, server.CodeGuestError, "", ""},
		{"trap", "slow", "trap", ``, 500, server.CodeTrap, "", ""},
		{"timeout", "slow", "loop", ``, 504, server.CodeTimeout, "", ""},
		{"output too large", "slow", "bigout", ``, 500, server.CodeTooLarge, "", ""},
		{"denied", "deny", "fetch", ``, 403, server.CodeDenied, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.invoke(tokAdmin, c.skill, c.fn, c.input)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.code == "" {
				if string(r.Body) != c.body || r.Header.Get("Content-Type") != c.ctype {
					t.Fatalf("got %q (%s), want %q (%s)", r.Body, r.Header.Get("Content-Type"), c.body, c.ctype)
				}
				if r.Header.Get("X-Reef-Skill-Version") == "" {
					t.Fatalf("no X-Reef-Skill-Version")
				}
				return
			}
			p := r.problem(t)
			if p.Code != c.code {
				t.Fatalf("code %q, want %q: %s", p.Code, c.code, r.Body)
			}
			if c.code == server.CodeDenied {
				if p.AuditID == "" || p.Capability != "http" || !strings.Contains(p.Detail, p.AuditID) {
					t.Fatalf("denial without audit id/capability: %s", r.Body)
				}
			}
			if c.code == server.CodeBadRequest && p.Pointer == "" {
				t.Fatalf("input error without pointer: %s", r.Body)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	h := startServer(t, harnessOpts{cfg: func(c *configT) { c.Server.MaxBodyBytes = 1024 }})
	r := h.invoke(tokAdmin, "hello", "echo", strings.Repeat("x", 1025))
	if r.Status != 413 || r.problem(t).Code != server.CodeTooLarge {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	r = h.invoke(tokAdmin, "hello", "echo", `"`+strings.Repeat("x", 1000)+`"`)
	if r.Status != 200 {
		t.Fatalf("status %d under the limit: %s", r.Status, r.Body)
	}
}

func TestListAndInspect(t *testing.T) {
	h := startServer(t, harnessOpts{})
	r := h.do("GET", "/v1/skills", tokAdmin, nil)
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var list struct{ Skills []server.SkillSummary }
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.Skills {
		names = append(names, s.Name)
		if s.Status != "ok" {
			t.Errorf("%s: status %s", s.Name, s.Status)
		}
	}
	if got := strings.Join(names, ","); got != "deny,greet,hello,slow,spin" {
		t.Fatalf("skills %s", got)
	}
	r = h.do("GET", "/v1/skills/hello", tokAdmin, nil)
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var d server.SkillDetail
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Version != "1.0.0" || !strings.HasPrefix(d.Digest, "sha256:") || len(d.Functions) != 4 || d.Functions[3].Name != "greet" ||
		string(d.Functions[3].Input) == "" || d.Effective == nil || d.Requested == nil || d.Limits == nil || d.Instances == nil {
		t.Fatalf("detail: %s", r.Body)
	}
	r = h.do("GET", "/v1/skills/nosuch", tokAdmin, nil)
	if r.Status != 404 || r.problem(t).Code != server.CodeNotFound {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}

type configT = config.Config

type (
	authT  = config.Auth
	tokenT = config.Token
)
