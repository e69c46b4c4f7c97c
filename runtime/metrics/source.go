package metrics

import "github.com/reefhq/reef/runtime/registry"

// RegistrySnapshot reads a registry for the scrape-time collectors (nil
// gives an empty snapshot).
func RegistrySnapshot(r *registry.Registry) Snapshot {
	var s Snapshot
	if r == nil {
		return s
	}
	for _, st := range r.List() {
		if st.LoadErr != nil {
			s.Failed++
		}
		if st.Entry == nil {
			continue
		}
		n := 0
		if st.Entry.Plugin != nil {
			ps := st.Entry.Plugin.Stats()
			n = ps.Idle + ps.Busy
		}
		s.Skills = append(s.Skills, SkillStats{Name: st.Name, Instances: n})
	}
	return s
}
