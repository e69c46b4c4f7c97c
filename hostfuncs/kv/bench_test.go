package hostkv

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// The benchmarks compare the handlers (JSON request, policy check, key
// checks, quota metadata) with the same work done directly on bbolt, in
// the same run and on the same disk. Sets are dominated by bbolt's fsync
// per update transaction.

const benchKeys = 1000

var benchValue = bytes.Repeat([]byte("v"), 100)

func benchReqs() [][]byte {
	reqs := make([][]byte, benchKeys)
	for i := range reqs {
		reqs[i] = fmt.Appendf(nil, `{"key":"key-%04d"}`, i)
	}
	return reqs
}

func benchKey(i int) []byte { return fmt.Appendf(nil, "key-%04d", i%benchKeys) }

func opsPerSec(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkSet(b *testing.B) {
	b.Run("handler", func(b *testing.B) {
		m := openTest(b, Options{})
		c := call(b, "bench", 1<<30)
		reqs := benchReqs()
		i := 0
		for b.Loop() {
			if _, err := m.set(c, reqs[i%benchKeys], benchValue); err != nil {
				b.Fatal(err)
			}
			i++
		}
		opsPerSec(b)
	})
	b.Run("bbolt", func(b *testing.B) {
		db := openBolt(b)
		i := 0
		for b.Loop() {
			err := db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("bench")).Put(benchKey(i), benchValue)
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
		opsPerSec(b)
	})
}

func BenchmarkGet(b *testing.B) {
	b.Run("handler", func(b *testing.B) {
		m := openTest(b, Options{})
		c := call(b, "bench", 1<<30)
		reqs := benchReqs()
		for i := range benchKeys {
			if _, err := m.set(c, reqs[i], benchValue); err != nil {
				b.Fatal(err)
			}
		}
		i := 0
		for b.Loop() {
			if _, err := m.get(c, reqs[i%benchKeys], nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
		opsPerSec(b)
	})
	b.Run("bbolt", func(b *testing.B) {
		db := openBolt(b)
		err := db.Update(func(tx *bolt.Tx) error {
			for i := range benchKeys {
				if err := tx.Bucket([]byte("bench")).Put(benchKey(i), benchValue); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			var out []byte
			err := db.View(func(tx *bolt.Tx) error {
				out = bytes.Clone(tx.Bucket([]byte("bench")).Get(benchKey(i)))
				return nil
			})
			if err != nil || len(out) != len(benchValue) {
				b.Fatal(err)
			}
			i++
		}
		opsPerSec(b)
	})
}

func openBolt(b *testing.B) *bolt.DB {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("bench"))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return db
}
