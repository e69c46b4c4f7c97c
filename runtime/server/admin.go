package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/registry"
)

// ReloadResult is the body of POST /v1/reload.
type ReloadResult struct {
	Loaded int           `json:"loaded"`
	Failed int           `json:"failed"`
	Errors []ReloadError `json:"errors"`
}

// ReloadError is one skill that did not load.
type ReloadError struct {
	Skill string `json:"skill"`
	Error string `json:"error"`
}

func (s *Server) auditAction(w http.ResponseWriter, r *http.Request, action string, ok bool, detail string) {
	rs := stateOf(w)
	a := AdminAction{Time: s.now().UTC(), ID: rs.id, Action: action, Remote: r.RemoteAddr, OK: ok, Detail: detail}
	if rs.who != nil {
		a.Token, a.Role = rs.who.name, rs.who.role
	}
	s.log.Info("admin action", "id", a.ID, "action", action, "token", a.Token, "ok", ok, "detail", detail)
	if s.audit != nil {
		s.audit(a)
	}
}

// handleReload re-reads grants.yaml and rescans the skill directory.
func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	if p := authorize(stateOf(w).who, ActionReload, ""); p != nil {
		writeProblem(w, r, p)
		return
	}
	if s.reg == nil {
		writeProblem(w, r, problem(http.StatusServiceUnavailable, CodeUnavailable, "no skill registry"))
		return
	}
	if _, err := s.reloadGrants(); err != nil {
		s.auditAction(w, r, "reload", false, "grants: "+err.Error())
		writeProblem(w, r, problem(http.StatusBadRequest, CodeBadRequest, "grants file does not load; nothing reloaded: "+err.Error()))
		return
	}
	scanErr := s.reg.Scan(r.Context())
	res := ReloadResult{Errors: []ReloadError{}}
	for _, st := range s.reg.List() {
		if st.Entry != nil {
			res.Loaded++
		}
		if st.LoadErr != nil {
			res.Failed++
			res.Errors = append(res.Errors, ReloadError{Skill: st.Name, Error: st.LoadErr.Err.Error()})
		}
	}
	var le *registry.SkillLoadError
	if scanErr != nil && !errors.As(scanErr, &le) {
		s.auditAction(w, r, "reload", false, scanErr.Error())
		writeProblem(w, r, problem(http.StatusInternalServerError, CodeInternal, scanErr.Error()))
		return
	}
	s.auditAction(w, r, "reload", true, fmt.Sprintf("%d loaded, %d failed", res.Loaded, res.Failed))
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) grantsEnabled(w http.ResponseWriter, r *http.Request) bool {
	if s.grantsFile == "" {
		writeProblem(w, r, problem(http.StatusNotFound, CodeNotFound, "no grants file is configured"))
		return false
	}
	return true
}

// handleGrantsGet returns grants.yaml: as JSON (the parsed grants) by
// default, as the file's own bytes for Accept: application/yaml. The ETag
// is the file's digest, for If-Match on PUT.
func (s *Server) handleGrantsGet(w http.ResponseWriter, r *http.Request) {
	if p := authorize(stateOf(w).who, ActionGrantsRead, ""); p != nil {
		writeProblem(w, r, p)
		return
	}
	if !s.grantsEnabled(w, r) {
		return
	}
	raw, err := os.ReadFile(s.grantsFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		writeProblem(w, r, problem(http.StatusInternalServerError, CodeInternal, err.Error()))
		return
	}
	w.Header().Set("ETag", etag(raw))
	if strings.Contains(r.Header.Get("Accept"), "yaml") {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(raw)
		return
	}
	g := &policy.Grants{}
	if s.reg != nil {
		g = s.reg.Grants()
	}
	if g.Skills == nil {
		g = &policy.Grants{Skills: map[string]*policy.Grant{}}
	}
	writeJSON(w, http.StatusOK, g)
}

func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// handleGrantsPut validates a new grants.yaml (YAML or JSON), writes it
// atomically (temp file, fsync, rename, fsync of the directory) and
// applies it. With If-Match, the file must still have that ETag.
func (s *Server) handleGrantsPut(w http.ResponseWriter, r *http.Request) {
	if p := authorize(stateOf(w).who, ActionGrantsWrite, ""); p != nil {
		writeProblem(w, r, p)
		return
	}
	if !s.grantsEnabled(w, r) {
		return
	}
	body, p := s.readBody(w, r)
	if p != nil {
		s.auditAction(w, r, "grants.write", false, p.Detail)
		writeProblem(w, r, p)
		return
	}
	g, p := s.writeGrants(r, body)
	if p != nil {
		s.auditAction(w, r, "grants.write", false, p.Detail)
		writeProblem(w, r, p)
		return
	}
	names := make([]string, 0, len(g.Skills))
	for n := range g.Skills {
		names = append(names, n)
	}
	slices.Sort(names)
	s.auditAction(w, r, "grants.write", true, fmt.Sprintf("grants for %d skills: %s (sha256 %s)", len(names), strings.Join(names, ", "), strings.Trim(etag(body), `"`)))
	w.Header().Set("ETag", etag(body))
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) writeGrants(r *http.Request, body []byte) (*policy.Grants, *Problem) {
	s.grantsMu.Lock()
	defer s.grantsMu.Unlock()
	g, err := policy.ParseGrants("request body", body)
	if err != nil {
		return nil, problem(http.StatusBadRequest, CodeBadRequest, "invalid grants: "+err.Error())
	}
	// Dry run: every loaded skill's policy must compute under the new
	// grants.
	if s.reg != nil {
		var errs []error
		for _, st := range s.reg.List() {
			if st.Entry == nil {
				continue
			}
			if _, err := policy.Compute(st.Entry.Skill, g.Skills[st.Name], nil); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return nil, problem(http.StatusBadRequest, CodeBadRequest, "invalid grants: "+errors.Join(errs...).Error())
		}
	}
	if err := os.MkdirAll(filepath.Dir(s.grantsFile), 0o700); err != nil {
		return nil, problem(http.StatusInternalServerError, CodeInternal, err.Error())
	}
	// UpdateGrants locks the file against concurrent "reef grant" runs,
	// keeps comments of what did not change and writes atomically.
	ifMatch := r.Header.Get("If-Match")
	errStale := errors.New("stale")
	err = policy.UpdateGrants(s.grantsFile, func(cur *policy.Grants) error {
		if ifMatch != "" {
			raw, _ := os.ReadFile(s.grantsFile)
			if ifMatch != etag(raw) {
				return errStale
			}
		}
		*cur = *g.Clone()
		return nil
	})
	switch {
	case errors.Is(err, errStale):
		return nil, problem(http.StatusPreconditionFailed, CodeBadRequest, "grants file changed since it was read (If-Match does not match its ETag)")
	case err != nil:
		var ge *policy.GrantsError
		if errors.As(err, &ge) {
			return nil, problem(http.StatusBadRequest, CodeBadRequest, "invalid grants: "+err.Error())
		}
		return nil, problem(http.StatusInternalServerError, CodeInternal, "writing grants: "+err.Error())
	}
	if s.reg != nil {
		if errs := s.reg.SetGrants(g); len(errs) > 0 {
			s.log.Error("grants written but some policies failed", "err", errors.Join(errs...))
		}
	}
	return g, nil
}
