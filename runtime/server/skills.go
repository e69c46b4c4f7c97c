package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/registry"
	"github.com/reefhq/reef/runtime/skill"
)

// SkillSummary is one row of GET /v1/skills.
type SkillSummary struct {
	Name        string `json:"name"`
	Version     string `json:"version,omitempty"`
	Digest      string `json:"digest,omitempty"`
	Description string `json:"description,omitempty"`
	// Status is "ok" (serving, no error), "degraded" (serving an older
	// version: the newest failed to load) or "error" (not serving).
	Status       string         `json:"status"`
	Functions    []string       `json:"functions"`
	Capabilities []string       `json:"capabilities"`
	LoadedAt     *time.Time     `json:"loaded_at,omitempty"`
	LoadError    *LoadErrorInfo `json:"load_error,omitempty"`
}

// LoadErrorInfo is a skill's last load error.
type LoadErrorInfo struct {
	Message string    `json:"message"`
	Path    string    `json:"path"`
	Time    time.Time `json:"time"`
}

// FunctionInfo is one function of GET /v1/skills/{name}.
type FunctionInfo struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Input       json.RawMessage `json:"input,omitempty"`
}

// SkillDetail is GET /v1/skills/{name}.
type SkillDetail struct {
	Name          string              `json:"name"`
	Version       string              `json:"version,omitempty"`
	Digest        string              `json:"digest,omitempty"`
	Description   string              `json:"description,omitempty"`
	License       string              `json:"license,omitempty"`
	Compatibility string              `json:"compatibility,omitempty"`
	Metadata      map[string]string   `json:"metadata,omitempty"`
	Bare          bool                `json:"bare"`
	Status        string              `json:"status"`
	Functions     []FunctionInfo      `json:"functions"`
	Requested     *skill.Capabilities `json:"requested,omitempty"`
	Effective     *policy.Policy      `json:"effective,omitempty"`
	Limits        *skill.Limits       `json:"limits,omitempty"`
	Isolation     skill.Isolation     `json:"isolation,omitempty"`
	Instances     *InstanceInfo       `json:"instances,omitempty"`
	LoadedAt      *time.Time          `json:"loaded_at,omitempty"`
	LoadError     *LoadErrorInfo      `json:"load_error,omitempty"`
	Docs          string              `json:"docs,omitempty"`
}

// InstanceInfo counts a skill's warm and running instances.
type InstanceInfo struct {
	Idle int `json:"idle"`
	Busy int `json:"busy"`
}

func status(st registry.Status) string {
	switch {
	case st.Entry != nil && st.LoadErr == nil:
		return "ok"
	case st.Entry != nil:
		return "degraded"
	}
	return "error"
}

func loadErr(le *registry.SkillLoadError) *LoadErrorInfo {
	if le == nil {
		return nil
	}
	return &LoadErrorInfo{Message: le.Err.Error(), Path: le.Path, Time: le.Time.UTC()}
}

func functionNames(e *registry.Entry) []string {
	if e.Plugin != nil {
		return e.Plugin.Functions()
	}
	var out []string
	for _, f := range e.Skill.Manifest.Functions {
		out = append(out, f.Name)
	}
	return out
}

// RequestedCapabilities names the capabilities a skill requests, sorted.
func RequestedCapabilities(c skill.Capabilities) []string {
	var out []string
	if len(c.FS) > 0 {
		out = append(out, policy.CapFS)
	}
	if c.HTTP != nil {
		out = append(out, policy.CapHTTP)
	}
	if c.Browser != nil {
		out = append(out, policy.CapBrowser)
	}
	if c.Mail != nil {
		out = append(out, policy.CapMail)
	}
	if c.KV != nil {
		out = append(out, policy.CapKV)
	}
	if len(c.Secrets) > 0 {
		out = append(out, policy.CapSecrets)
	}
	sort.Strings(out)
	return out
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	who := stateOf(w).who
	if p := authorize(who, ActionList, ""); p != nil {
		writeProblem(w, r, p)
		return
	}
	out := struct {
		Skills []SkillSummary `json:"skills"`
	}{Skills: []SkillSummary{}}
	if s.reg != nil {
		for _, st := range s.reg.List() {
			if !who.mayUseSkill(st.Name) {
				continue
			}
			row := SkillSummary{Name: st.Name, Status: status(st), Functions: []string{}, Capabilities: []string{}, LoadError: loadErr(st.LoadErr)}
			if e := st.Entry; e != nil {
				row.Version, row.Digest, row.Description = e.Skill.Version(), e.Skill.Digest, e.Skill.Meta.Description
				if fns := functionNames(e); fns != nil {
					row.Functions = fns
				}
				if caps := RequestedCapabilities(e.Skill.Manifest.Capabilities); caps != nil {
					row.Capabilities = caps
				}
				t := e.Loaded.UTC()
				row.LoadedAt = &t
			}
			out.Skills = append(out.Skills, row)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleInspect(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if p := authorize(stateOf(w).who, ActionInspect, name); p != nil {
		writeProblem(w, r, p)
		return
	}
	var st *registry.Status
	if s.reg != nil {
		for _, x := range s.reg.List() {
			if x.Name == name {
				st = &x
				break
			}
		}
	}
	if st == nil {
		writeProblem(w, r, problem(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no skill %q", name)))
		return
	}
	d := SkillDetail{Name: st.Name, Status: status(*st), Functions: []FunctionInfo{}, LoadError: loadErr(st.LoadErr)}
	if e := st.Entry; e != nil {
		sk := e.Skill
		d.Version, d.Digest, d.Description = sk.Version(), sk.Digest, sk.Meta.Description
		d.License, d.Compatibility, d.Metadata = sk.Meta.License, sk.Meta.Compatibility, sk.Meta.Metadata
		d.Bare, d.Docs = sk.Bare, sk.Docs
		caps := sk.Manifest.Capabilities
		d.Requested = &caps
		pol := e.CurrentPolicy()
		d.Effective = pol
		if pol != nil {
			lim := pol.Limits
			d.Limits, d.Isolation = &lim, pol.Isolation
		}
		declared := map[string]skill.Function{}
		for _, f := range sk.Manifest.Functions {
			declared[f.Name] = f
		}
		for _, n := range functionNames(e) {
			f := declared[n]
			d.Functions = append(d.Functions, FunctionInfo{Name: n, Description: f.Description, Input: f.Input})
		}
		if e.Plugin != nil {
			ps := e.Plugin.Stats()
			d.Instances = &InstanceInfo{Idle: ps.Idle, Busy: ps.Busy}
		}
		t := e.Loaded.UTC()
		d.LoadedAt = &t
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.version})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.draining.Load():
		writeProblem(w, r, problem(http.StatusServiceUnavailable, CodeUnavailable, "shutting down"))
	case !s.ready.Load():
		writeProblem(w, r, problem(http.StatusServiceUnavailable, CodeUnavailable, "skill directory scan not finished"))
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if p := authorize(stateOf(w).who, ActionMetrics, ""); p != nil {
		writeProblem(w, r, p)
		return
	}
	if s.metricsH == nil {
		writeProblem(w, r, problem(http.StatusNotFound, CodeNotFound, "metrics are not enabled"))
		return
	}
	s.metricsH.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
