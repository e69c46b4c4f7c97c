package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/reefhq/reef/runtime/policy"
	"github.com/reefhq/reef/runtime/skill"
)

// TestReusedMemoryLeaksNothing: a discarded instance's linear memory is
// handed to the next instance. Fill one instance's whole memory with a
// secret, discard it, and the next instance's memory must be exactly what
// a never-reused instance holds (data segments, zeros elsewhere).
func TestReusedMemoryLeaksNothing(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join("testdata", "greet_bulk.wasm"))
	if err != nil {
		t.Fatalf("%v (run make testdata)", err)
	}
	sum := sha256.Sum256(b)
	s := &skill.Skill{Name: "mem", Bare: true, Wasm: b, Digest: "sha256:" + hex.EncodeToString(sum[:])}
	pol, err := policy.Compute(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(ctx, NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	memOf := func(pl *Plugin) (*instance, []byte) {
		in, err := pl.newInstance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := in.mod.Memory()
		buf, ok := m.Read(0, m.Size())
		if !ok {
			t.Fatal("memory not readable")
		}
		return in, buf
	}
	fresh, err := e.Load(ctx, s, pol, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in0, want := memOf(fresh)
	want = bytes.Clone(want)
	fresh.discard(in0)

	reused, err := e.Load(ctx, s, pol, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in1, secret := memOf(reused)
	for i := range secret {
		secret[i] = 0xAA
	}
	reused.discard(in1)
	in2, got := memOf(reused)
	defer reused.discard(in2)
	if len(got) != len(want) {
		t.Fatalf("memory size %d, want %d", len(got), len(want))
	}
	if n := bytes.Count(got, []byte{0xAA}); !bytes.Equal(got, want) {
		t.Fatalf("reused memory differs from a fresh instance's (%d bytes of the previous instance's 0xAA visible)", n)
	}
}
