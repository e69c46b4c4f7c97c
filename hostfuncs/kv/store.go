package hostkv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// File layout. The reserved bucket's name starts with NUL, which no skill
// name may contain (checkSkill), so it can never be a namespace.
var (
	reservedBucket = []byte("\x00reef")
	formatKey      = []byte("format")
	formatVersion  = []byte("1")

	dataBucket = []byte("data")
	metaKey    = []byte("meta")
)

func isReserved(name []byte) bool { return len(name) > 0 && name[0] == 0 }

// initFormat creates or checks the format record.
func initFormat(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(reservedBucket)
	if err != nil {
		return err
	}
	switch v := b.Get(formatKey); {
	case v == nil:
		return b.Put(formatKey, formatVersion)
	case !bytes.Equal(v, formatVersion):
		return fmt.Errorf("unsupported kv file format %q (this reef reads %q)", v, formatVersion)
	}
	return nil
}

// checkSkill refuses names that cannot be a namespace.
func checkSkill(skill string) error {
	switch {
	case skill == "":
		return fmt.Errorf("kv: skill name is empty")
	case strings.IndexByte(skill, 0) >= 0:
		return fmt.Errorf("kv: skill name %q contains NUL", skill)
	case len(skill) > boltMaxKey:
		return fmt.Errorf("kv: skill name is %d bytes, over %d", len(skill), boltMaxKey)
	}
	return nil
}

// checkKey enforces the key rules: valid UTF-8, non-empty, at most max
// bytes, no NUL.
func checkKey(key string, max int) error {
	switch {
	case key == "":
		return errInvalid("key is empty: want a non-empty UTF-8 string")
	case len(key) > max:
		return errInvalid("key is %d bytes, over the %d-byte key limit", len(key), max)
	case !utf8.ValidString(key):
		return errInvalid("key %q is not valid UTF-8", key)
	case strings.IndexByte(key, 0) >= 0:
		return errInvalid("key %q contains NUL", key)
	}
	return nil
}

// usage is the metadata record of a namespace.
type usage struct {
	keys  uint64
	bytes uint64
}

func readUsage(ns *bolt.Bucket) usage {
	v := ns.Get(metaKey)
	if len(v) != 16 {
		return usage{}
	}
	return usage{keys: binary.BigEndian.Uint64(v[:8]), bytes: binary.BigEndian.Uint64(v[8:])}
}

func writeUsage(ns *bolt.Bucket, u usage) error {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.keys)
	binary.BigEndian.PutUint64(b[8:], u.bytes)
	return ns.Put(metaKey, b[:])
}

// namespace is a skill's buckets within one transaction.
type namespace struct {
	ns   *bolt.Bucket
	data *bolt.Bucket
}

// openNS returns skill's namespace; ok is false when it does not exist
// (read transactions never create it).
func openNS(tx *bolt.Tx, skill string, create bool) (namespace, bool, error) {
	name := []byte(skill)
	ns := tx.Bucket(name)
	if ns == nil {
		if !create {
			return namespace{}, false, nil
		}
		var err error
		if ns, err = tx.CreateBucket(name); err != nil {
			return namespace{}, false, err
		}
	}
	data := ns.Bucket(dataBucket)
	if data == nil {
		if !create {
			return namespace{}, false, nil
		}
		var err error
		if data, err = ns.CreateBucket(dataBucket); err != nil {
			return namespace{}, false, err
		}
	}
	return namespace{ns: ns, data: data}, true, nil
}

// lookup reports whether key exists and its value (valid during the
// transaction only). A cursor tells an empty value from a missing key
// without relying on Get's nil.
func lookup(b *bolt.Bucket, key []byte) ([]byte, bool) {
	k, v := b.Cursor().Seek(key)
	if k == nil || !bytes.Equal(k, key) {
		return nil, false
	}
	return v, true
}

// put stores key=value in ns, keeping the usage record in step and
// enforcing quota. It writes nothing when it fails.
func (n namespace) put(key, value []byte, quota int64) error {
	u := readUsage(n.ns)
	old, present := lookup(n.data, key)
	next := u
	if present {
		next.bytes -= uint64(len(key) + len(old))
	} else {
		next.keys++
	}
	next.bytes += uint64(len(key) + len(value))
	if next.bytes > uint64(quota) && next.bytes > u.bytes {
		return errLimit("kv quota exceeded: writing key %q (%d bytes, key + value) would bring the namespace to %d bytes; quota %d bytes, usage %d bytes",
			string(key), len(key)+len(value), next.bytes, quota, u.bytes)
	}
	if err := n.data.Put(key, value); err != nil {
		return err
	}
	return writeUsage(n.ns, next)
}

// remove deletes key; it reports whether it existed.
func (n namespace) remove(key []byte) (bool, error) {
	old, present := lookup(n.data, key)
	if !present {
		return false, nil
	}
	u := readUsage(n.ns)
	u.keys--
	u.bytes -= uint64(len(key) + len(old))
	if err := n.data.Delete(key); err != nil {
		return false, err
	}
	return true, writeUsage(n.ns, u)
}
