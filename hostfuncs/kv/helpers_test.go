package hostkv

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/hostfuncs/abi/abitest"
	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// decisions is a policy.Recorder that keeps every decision.
type decisions struct {
	mu  sync.Mutex
	all []policy.Decision
}

func (d *decisions) Record(x policy.Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, x)
}

func (d *decisions) list() []policy.Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]policy.Decision(nil), d.all...)
}

// newPolicy computes the effective policy of a skill that requests kv with
// quota req, under a grant of quota grant (a nil request or grant is
// expressed with a negative size).
func newPolicy(t testing.TB, name string, req, grant skill.Size, rec policy.Recorder) *policy.Policy {
	t.Helper()
	p, err := computePolicy(name, req, grant, rec)
	if err != nil {
		t.Fatalf("policy.Compute: %v", err)
	}
	return p
}

func computePolicy(name string, req, grant skill.Size, rec policy.Recorder) (*policy.Policy, error) {
	s := &skill.Skill{Name: name, Digest: "sha256:00"}
	if req >= 0 {
		s.Manifest.Capabilities.KV = &skill.KVRequest{Quota: req}
	}
	var g *policy.Grant
	if grant >= 0 {
		g = &policy.Grant{KV: &policy.KVGrant{Quota: grant}}
	}
	return policy.Compute(s, g, rec)
}

func openTest(t testing.TB, opts Options) *Module {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "kv.db")
	}
	m, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// call returns an abi.Call for skill with a kv quota.
func call(t testing.TB, name string, quota skill.Size) *abitest.Call {
	return abitest.New(context.Background(), name, newPolicy(t, name, quota, quota, nil))
}

func handler(t testing.TB, m *Module, name string) abi.Handler {
	t.Helper()
	for _, f := range m.Funcs() {
		if f.Name == name {
			return f.Handler
		}
	}
	t.Fatalf("no function %s", name)
	return nil
}

// code returns the guest error code of err ("" for nil).
func code(err error) string {
	if err == nil {
		return ""
	}
	return abi.ToDocument("kv", err).Code
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recount walks skill's data bucket and checks that the metadata record
// agrees with it; it returns the real counts.
func recount(t testing.TB, m *Module, name string) (keys int, bytes int64) {
	t.Helper()
	var meta usage
	err := m.db.View(func(tx *bolt.Tx) error {
		n, ok, err := openNS(tx, name, false)
		if err != nil || !ok {
			return err
		}
		meta = readUsage(n.ns)
		return n.data.ForEach(func(k, v []byte) error {
			if v == nil && n.data.Bucket(k) != nil {
				return errors.New("nested bucket inside a namespace's data")
			}
			keys++
			bytes += int64(len(k) + len(v))
			return nil
		})
	})
	if err != nil {
		t.Fatalf("recount %q: %v", name, err)
	}
	if meta.keys != uint64(keys) || meta.bytes != uint64(bytes) {
		t.Fatalf("namespace %q: metadata says %d keys / %d bytes, data has %d keys / %d bytes", name, meta.keys, meta.bytes, keys, bytes)
	}
	return keys, bytes
}
