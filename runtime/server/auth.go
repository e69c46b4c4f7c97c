package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/reefhq/reef/runtime/config"
)

// Role is a token's role.
type Role string

// Roles, from most to least powerful.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleInvoker  Role = "invoker"
	RoleViewer   Role = "viewer"
)

// Action is something a request does, checked against the RBAC matrix.
type Action string

// Actions of the API.
const (
	ActionInvoke      Action = "invoke"       // POST /v1/skills/{name}/functions/{fn}
	ActionList        Action = "list"         // GET /v1/skills
	ActionInspect     Action = "inspect"      // GET /v1/skills/{name}
	ActionReload      Action = "reload"       // POST /v1/reload
	ActionGrantsRead  Action = "grants.read"  // GET /v1/grants
	ActionGrantsWrite Action = "grants.write" // PUT /v1/grants
	ActionMetrics     Action = "metrics"      // GET /metrics
)

// matrix is the RBAC matrix: which role may do what. Skill-scoped
// actions (invoke, list, inspect) are further limited by an invoker's or
// viewer's skill patterns.
var matrix = map[Role]map[Action]bool{
	RoleAdmin:    {ActionInvoke: true, ActionList: true, ActionInspect: true, ActionReload: true, ActionGrantsRead: true, ActionGrantsWrite: true, ActionMetrics: true},
	RoleOperator: {ActionInvoke: true, ActionList: true, ActionInspect: true, ActionReload: true, ActionGrantsRead: true, ActionGrantsWrite: true, ActionMetrics: true},
	RoleInvoker:  {ActionInvoke: true, ActionList: true, ActionInspect: true},
	RoleViewer:   {ActionList: true, ActionInspect: true, ActionMetrics: true},
}

// Allowed reports whether role may perform action (ignoring skill
// patterns). It is the RBAC matrix documented in README.md.
func Allowed(role Role, action Action) bool { return matrix[role][action] }

// token is one configured bearer token.
type token struct {
	name   string
	role   Role
	hash   [sha256.Size]byte
	skills []string
}

// principal is the authenticated caller: the token it presented (shared,
// read-only, so authentication allocates nothing).
type principal = token

// mayUseSkill applies an invoker's or viewer's skill patterns (empty:
// every skill). Admins and operators are not limited.
func (p *principal) mayUseSkill(name string) bool {
	if p.role == RoleAdmin || p.role == RoleOperator || len(p.skills) == 0 {
		return true
	}
	for _, pat := range p.skills {
		if ok, err := path.Match(pat, name); err == nil && ok {
			return true
		}
	}
	return false
}

// HashToken returns the "sha256:<hex>" form stored in config.yaml.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func parseTokens(cfg []config.Token) ([]*token, error) {
	var out []*token
	for i, t := range cfg {
		tk := &token{name: t.Name, role: Role(t.Role), skills: t.Skills}
		if !matrixHas(tk.role) {
			return nil, fmt.Errorf("auth.tokens[%d] (%s): unknown role %q", i, t.Name, t.Role)
		}
		hexs, ok := strings.CutPrefix(t.Hash, "sha256:")
		b, err := hex.DecodeString(hexs)
		if !ok || err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("auth.tokens[%d] (%s): hash must be sha256:<64 hex digits>", i, t.Name)
		}
		copy(tk.hash[:], b)
		for _, p := range t.Skills {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("auth.tokens[%d] (%s): skill pattern %q: %w", i, t.Name, p, err)
			}
		}
		out = append(out, tk)
	}
	return out, nil
}

func matrixHas(r Role) bool { _, ok := matrix[r]; return ok }

// authenticate finds the token of the request's bearer credential. Every
// configured hash is compared, in constant time, whatever matches, so the
// time taken says nothing about which token (or how much of one) matched.
func (s *Server) authenticate(r *http.Request) (*principal, *Problem) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if h == "" {
		return nil, problem(http.StatusUnauthorized, CodeUnauthorized, "a bearer token is required (Authorization: Bearer <token>)")
	}
	cred = strings.TrimSpace(cred)
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return nil, problem(http.StatusUnauthorized, CodeUnauthorized, "the Authorization header must be \"Bearer <token>\"")
	}
	sum := sha256.Sum256([]byte(cred))
	var found *token
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.hash[:]) == 1 && found == nil {
			found = t
		}
	}
	if found == nil {
		return nil, problem(http.StatusUnauthorized, CodeUnauthorized, "unknown token")
	}
	return found, nil
}

// authorize checks action (and, if skill != "", the skill patterns).
func authorize(p *principal, action Action, skill string) *Problem {
	if !Allowed(p.role, action) {
		return problem(http.StatusForbidden, CodeForbidden, fmt.Sprintf("token %q (role %s) may not %s", p.name, p.role, action))
	}
	if skill != "" && !p.mayUseSkill(skill) {
		return problem(http.StatusForbidden, CodeForbidden, fmt.Sprintf("token %q (role %s) may not %s skill %q (allowed: %s)", p.name, p.role, action, skill, strings.Join(p.skills, ", ")))
	}
	return nil
}

// hostPolicy decides Host headers (DNS rebinding) and Origins (CSRF).
type hostPolicy struct {
	names   map[string]bool // exact host names
	suffix  []string        // from "*.example.org" entries: ".example.org"
	origins map[string]bool

	// seen caches Host header values found allowed (the decision is a
	// pure function of the value), at most maxSeenHosts of them: clients
	// send the same few, and a flood of distinct values only stops the
	// caching, never changes a decision.
	seen  sync.Map // string -> struct{}
	nseen atomic.Int32
}

const maxSeenHosts = 64

func newHostPolicy(listen string, allowedHosts, allowedOrigins []string) *hostPolicy {
	hp := &hostPolicy{names: map[string]bool{"localhost": true}, origins: map[string]bool{}}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		hp.names[normHost(h)] = true
	}
	for _, h := range allowedHosts {
		h = normHost(hostOnly(h))
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			hp.suffix = append(hp.suffix, "."+rest)
		} else if h != "" {
			hp.names[h] = true
		}
	}
	for _, o := range allowedOrigins {
		hp.origins[normOrigin(o)] = true
	}
	return hp
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func normHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
	return h
}

func normOrigin(o string) string {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Host == "" {
		return strings.ToLower(strings.TrimSpace(o))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// hostAllowed accepts IP literals (a DNS-rebinding attack always carries
// the attacker's host name, never an address), localhost, the listen
// host and the configured names.
func (hp *hostPolicy) hostAllowed(hostHeader string) bool {
	if _, ok := hp.seen.Load(hostHeader); ok {
		return true
	}
	if !hp.decideHost(hostHeader) {
		return false
	}
	if hp.nseen.Load() < maxSeenHosts {
		if _, loaded := hp.seen.LoadOrStore(hostHeader, struct{}{}); !loaded {
			hp.nseen.Add(1)
		}
	}
	return true
}

func (hp *hostPolicy) decideHost(hostHeader string) bool {
	h := normHost(hostOnly(hostHeader))
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil || hp.names[h] {
		return true
	}
	for _, s := range hp.suffix {
		if strings.HasSuffix(h, s) && len(h) > len(s) {
			return true
		}
	}
	return false
}

// originAllowed: requests without Origin (curl, scripts, server-side
// clients) pass; a browser request must come from this server's own
// origin or a configured one. "null" (sandboxed frames, file: pages) is
// never allowed.
func (hp *hostPolicy) originAllowed(r *http.Request) (cross bool, ok bool) {
	o := r.Header.Get("Origin")
	if o == "" {
		// No Origin: a browser still marks cross-site requests.
		return false, r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	if o == "null" {
		return true, false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return true, false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return false, true
	}
	return true, hp.origins[normOrigin(o)]
}
