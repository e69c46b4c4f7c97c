package hostkv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/reefhq/reef/hostfuncs/abi"
)

// Requests and responses; README.md documents them for PDK authors.

type keyReq struct {
	Key string `json:"key"`
}

type deleteResp struct {
	Deleted bool `json:"deleted"`
}

type listReq struct {
	Prefix string `json:"prefix"`
	Limit  int    `json:"limit"`
	After  string `json:"after"`
}

type listResp struct {
	Keys []string `json:"keys"`
	More bool     `json:"more"`
}

type casReq struct {
	Key string `json:"key"`
	// OldPresent is required: true means "the key must exist with value
	// Old", false means "the key must not exist".
	OldPresent *bool `json:"old_present"`
	// Old is the expected value, base64 (standard, padded). Kept raw so
	// "old" given together with old_present:false is an error, not
	// silently ignored.
	Old json.RawMessage `json:"old"`
	// Delete removes the key instead of writing data when the comparison
	// holds.
	Delete bool `json:"delete"`
}

type casResp struct {
	Swapped bool `json:"swapped"`
	// Present reports whether the key exists after the call.
	Present bool `json:"present"`
	// Current is the value found when the swap failed and the key exists
	// (base64; omitted for an empty value).
	Current []byte `json:"current,omitempty"`
}

var emptyObject = []byte("{}")

func errInvalid(format string, args ...any) error {
	return abi.Errorf(abi.CodeInvalid, format, args...)
}

func errLimit(format string, args ...any) error {
	return abi.Errorf(abi.CodeLimit, format, args...)
}

// decode parses a request strictly: one JSON object, valid UTF-8, no
// unknown fields, nothing after it.
func decode(op string, req []byte, v any) error {
	if len(bytes.TrimSpace(req)) == 0 {
		return errInvalid("%s: empty request: want a JSON object", op)
	}
	// encoding/json would replace invalid UTF-8 with U+FFFD, silently
	// turning two different keys into one.
	if !utf8.Valid(req) {
		return errInvalid("%s: request is not valid UTF-8", op)
	}
	dec := json.NewDecoder(bytes.NewReader(req))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errInvalid("%s: bad request: %v", op, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errInvalid("%s: bad request: data after the JSON object", op)
	}
	return nil
}

// begin is the common start of every handler: the call must still be
// live, kv must be granted, and the skill must have a usable name.
func (m *Module) begin(c abi.Call, value string) (quota int64, err error) {
	if err := c.Context().Err(); err != nil {
		return 0, fmt.Errorf("kv: %w", err)
	}
	q, err := c.Policy().CheckKV(value)
	if err != nil {
		return 0, err
	}
	if err := checkSkill(c.Skill()); err != nil {
		return 0, abi.Errorf(abi.CodeInvalid, "%v", err)
	}
	return int64(q), nil
}

// dbErr maps storage errors for the guest.
func dbErr(op string, err error) error {
	var ae *abi.Error
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return abi.Errorf(abi.CodeUnavailable, "kv %s: store is closed", op)
	}
	return fmt.Errorf("kv %s: %w", op, err)
}

// fastKey recognises the compact request {"key":"…"} whose key needs no
// unescaping (no quote, backslash or control byte), which is what PDKs
// send, and returns the key without a JSON decoder (a third of a get's
// cost). Anything else goes through decode; FuzzFastKey checks both agree.
func fastKey(req []byte) (string, bool) {
	const head, tail = `{"key":"`, `"}`
	if len(req) < len(head)+len(tail) || string(req[:len(head)]) != head || string(req[len(req)-len(tail):]) != tail {
		return "", false
	}
	k := req[len(head) : len(req)-len(tail)]
	for _, b := range k {
		if b < 0x20 || b == '"' || b == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(k) {
		return "", false
	}
	return string(k), true
}

func (m *Module) keyRequest(c abi.Call, op string, req []byte) (string, int64, error) {
	var r keyReq
	if k, ok := fastKey(req); ok {
		r.Key = k
	} else if err := decode(op, req, &r); err != nil {
		return "", 0, err
	}
	quota, err := m.begin(c, r.Key)
	if err != nil {
		return "", 0, err
	}
	if err := checkKey(r.Key, m.opts.MaxKeyBytes); err != nil {
		return "", 0, err
	}
	return r.Key, quota, nil
}

func (m *Module) get(c abi.Call, req, _ []byte) ([]byte, error) {
	key, _, err := m.keyRequest(c, "get", req)
	if err != nil {
		return nil, err
	}
	var out []byte
	found := false
	err = m.db.View(func(tx *bolt.Tx) error {
		n, ok, err := openNS(tx, c.Skill(), false)
		if err != nil || !ok {
			return err
		}
		v, ok := lookup(n.data, []byte(key))
		if ok {
			found = true
			out = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, dbErr("get", err)
	}
	if !found {
		return nil, abi.Errorf(abi.CodeNotFound, "kv get: key %q not found", key)
	}
	return out, nil
}

func (m *Module) checkValue(op string, data []byte) error {
	if int64(len(data)) > m.opts.MaxValueBytes {
		return errLimit("kv %s: value is %d bytes, over the %d-byte value limit", op, len(data), m.opts.MaxValueBytes)
	}
	return nil
}

func (m *Module) set(c abi.Call, req, data []byte) ([]byte, error) {
	key, quota, err := m.keyRequest(c, "set", req)
	if err != nil {
		return nil, err
	}
	if err := m.checkValue("set", data); err != nil {
		return nil, err
	}
	err = m.db.Update(func(tx *bolt.Tx) error {
		n, _, err := openNS(tx, c.Skill(), true)
		if err != nil {
			return err
		}
		return n.put([]byte(key), data, quota)
	})
	if err != nil {
		return nil, dbErr("set", err)
	}
	return emptyObject, nil
}

func (m *Module) del(c abi.Call, req, _ []byte) ([]byte, error) {
	key, _, err := m.keyRequest(c, "delete", req)
	if err != nil {
		return nil, err
	}
	var deleted bool
	err = m.db.Update(func(tx *bolt.Tx) error {
		n, ok, err := openNS(tx, c.Skill(), false)
		if err != nil || !ok {
			return err
		}
		deleted, err = n.remove([]byte(key))
		return err
	})
	if err != nil {
		return nil, dbErr("delete", err)
	}
	return json.Marshal(deleteResp{Deleted: deleted})
}

func (m *Module) list(c abi.Call, req, _ []byte) ([]byte, error) {
	var r listReq
	if err := decode("list", req, &r); err != nil {
		return nil, err
	}
	if _, err := m.begin(c, "list "+r.Prefix); err != nil {
		return nil, err
	}
	switch {
	case r.Limit < 0 || r.Limit > MaxListLimit:
		return nil, errInvalid("kv list: limit %d out of range (0 for the default %d, at most %d)", r.Limit, DefaultListLimit, MaxListLimit)
	case r.Limit == 0:
		r.Limit = DefaultListLimit
	}
	out := listResp{Keys: []string{}}
	err := m.db.View(func(tx *bolt.Tx) error {
		n, ok, err := openNS(tx, c.Skill(), false)
		if err != nil || !ok {
			return err
		}
		cur := n.data.Cursor()
		start := []byte(r.Prefix)
		if r.After != "" && r.After >= r.Prefix {
			start = []byte(r.After)
		}
		k, _ := cur.Seek(start)
		if r.After != "" && k != nil && string(k) == r.After {
			k, _ = cur.Next()
		}
		for ; k != nil && strings.HasPrefix(string(k), r.Prefix); k, _ = cur.Next() {
			if len(out.Keys) == r.Limit {
				out.More = true
				break
			}
			out.Keys = append(out.Keys, string(k))
		}
		return nil
	})
	if err != nil {
		return nil, dbErr("list", err)
	}
	return json.Marshal(out)
}

func (m *Module) cas(c abi.Call, req, data []byte) ([]byte, error) {
	var r casReq
	if err := decode("cas", req, &r); err != nil {
		return nil, err
	}
	quota, err := m.begin(c, r.Key)
	if err != nil {
		return nil, err
	}
	if err := checkKey(r.Key, m.opts.MaxKeyBytes); err != nil {
		return nil, err
	}
	if r.OldPresent == nil {
		return nil, errInvalid(`kv cas: "old_present" is required: true (the key must hold "old") or false (the key must not exist)`)
	}
	var old []byte
	hasOld := len(r.Old) > 0 && string(r.Old) != "null"
	if hasOld {
		if err := json.Unmarshal(r.Old, &old); err != nil {
			return nil, errInvalid(`kv cas: "old" must be a base64 string: %v`, err)
		}
	}
	switch {
	case !*r.OldPresent && hasOld:
		return nil, errInvalid(`kv cas: "old" given with "old_present": false; omit "old" to require that the key does not exist`)
	case !*r.OldPresent && r.Delete:
		return nil, errInvalid(`kv cas: "delete" needs "old_present": true (nothing to delete when the key must not exist)`)
	case r.Delete && len(data) > 0:
		return nil, errInvalid(`kv cas: "delete" takes no data (got %d bytes)`, len(data))
	}
	if err := m.checkValue("cas", data); err != nil {
		return nil, err
	}
	var out casResp
	key := []byte(r.Key)
	err = m.db.Update(func(tx *bolt.Tx) error {
		out = casResp{}
		n, ok, err := openNS(tx, c.Skill(), !r.Delete)
		if err != nil {
			return err
		}
		var cur []byte
		present := false
		if ok {
			cur, present = lookup(n.data, key)
		}
		if present != *r.OldPresent || (present && !bytes.Equal(cur, old)) {
			out.Present = present
			if present {
				out.Current = bytes.Clone(cur)
			}
			return errNoSwap
		}
		out.Swapped = true
		if r.Delete {
			_, err := n.remove(key)
			return err
		}
		out.Present = true
		return n.put(key, data, quota)
	})
	if err != nil && !errors.Is(err, errNoSwap) {
		return nil, dbErr("cas", err)
	}
	return json.Marshal(out)
}

// errNoSwap rolls back a cas whose comparison failed; bbolt would commit
// (and fsync) the namespace buckets it may have created otherwise.
var errNoSwap = errors.New("cas: comparison failed")
