package hostkv

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// Defaults of Options.
const (
	DefaultMaxValueBytes = 1 << 20
	DefaultMaxKeyBytes   = 1 << 10
	DefaultLockTimeout   = 2 * time.Second
)

// Limits of list requests.
const (
	DefaultListLimit = 1000
	MaxListLimit     = 10000
)

// ErrLocked is returned (wrapped) by Open when another process holds the
// database file.
var ErrLocked = errors.New("kv database is locked by another process")

// Options configure the kv module. Zero fields take the defaults above.
type Options struct {
	// Path is the bbolt file; its directory is created (0700) if missing.
	Path string
	// MaxValueBytes caps one value.
	MaxValueBytes int64
	// MaxKeyBytes caps one key (UTF-8 bytes). It cannot exceed bbolt's
	// own limit (32 KiB).
	MaxKeyBytes int
	// LockTimeout is how long Open waits for the file lock held by
	// another process before it fails with ErrLocked.
	LockTimeout time.Duration
	// Logger logs module events; nil discards.
	Logger *slog.Logger
}

// Module is the kv capability. It is safe for concurrent use.
type Module struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger
}

var (
	_ abi.Module = (*Module)(nil)
	_ abi.Closer = (*Module)(nil)
)

// bbolt's own key limit.
const boltMaxKey = 32768

// Open opens (creating if needed) the kv database at opts.Path.
func Open(opts Options) (*Module, error) {
	if opts.Path == "" {
		return nil, errors.New("kv: Options.Path is empty")
	}
	if opts.MaxValueBytes == 0 {
		opts.MaxValueBytes = DefaultMaxValueBytes
	}
	if opts.MaxKeyBytes == 0 {
		opts.MaxKeyBytes = DefaultMaxKeyBytes
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	switch {
	case opts.MaxValueBytes < 0 || opts.MaxValueBytes > bolt.MaxValueSize:
		return nil, fmt.Errorf("kv: MaxValueBytes %d out of range (1..%d)", opts.MaxValueBytes, bolt.MaxValueSize)
	case opts.MaxKeyBytes < 0 || opts.MaxKeyBytes > boltMaxKey:
		return nil, fmt.Errorf("kv: MaxKeyBytes %d out of range (1..%d)", opts.MaxKeyBytes, boltMaxKey)
	case opts.LockTimeout < 0:
		return nil, fmt.Errorf("kv: LockTimeout %s is negative", opts.LockTimeout)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, fmt.Errorf("kv: create directory for %s: %w", opts.Path, err)
	}
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("kv: open %s: %w (waited %s for the file lock)", opts.Path, ErrLocked, opts.LockTimeout)
		}
		return nil, fmt.Errorf("kv: open %s: %w", opts.Path, err)
	}
	if err := db.Update(initFormat); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("kv: open %s: %w", opts.Path, err)
	}
	log.Info("kv store opened", "path", opts.Path)
	return &Module{db: db, opts: opts, log: log}, nil
}

// Close closes the database. Calls after Close fail with code
// "unavailable".
func (m *Module) Close() error {
	if err := m.db.Close(); err != nil {
		return fmt.Errorf("kv: close: %w", err)
	}
	m.log.Info("kv store closed", "path", m.opts.Path)
	return nil
}

// Name implements abi.Module.
func (m *Module) Name() string { return policy.CapKV }

// Funcs implements abi.Module.
func (m *Module) Funcs() []abi.Func {
	return []abi.Func{
		{Name: abi.KVGet, Handler: m.get},
		{Name: abi.KVSet, Handler: m.set},
		{Name: abi.KVDelete, Handler: m.del},
		{Name: abi.KVList, Handler: m.list},
		{Name: abi.KVCAS, Handler: m.cas},
	}
}

// Stats returns the number of keys and the bytes (keys + values) stored
// in skill's namespace; a skill without a namespace has 0, 0.
func (m *Module) Stats(skill string) (keys int, bytes int64, err error) {
	if err := checkSkill(skill); err != nil {
		return 0, 0, err
	}
	err = m.db.View(func(tx *bolt.Tx) error {
		ns := tx.Bucket([]byte(skill))
		if ns == nil {
			return nil
		}
		u := readUsage(ns)
		keys, bytes = int(u.keys), int64(u.bytes)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("kv: stats of %q: %w", skill, err)
	}
	return keys, bytes, nil
}

// DeleteNamespace removes skill's namespace with all its keys. Deleting a
// namespace that does not exist is not an error.
func (m *Module) DeleteNamespace(skill string) error {
	if err := checkSkill(skill); err != nil {
		return err
	}
	err := m.db.Update(func(tx *bolt.Tx) error {
		err := tx.DeleteBucket([]byte(skill))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("kv: delete namespace %q: %w", skill, err)
	}
	m.log.Info("kv namespace deleted", "skill", skill)
	return nil
}

// Namespaces lists the skills that have a namespace, in byte order.
func (m *Module) Namespaces() ([]string, error) {
	var out []string
	err := m.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if !isReserved(name) {
				out = append(out, string(name))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("kv: list namespaces: %w", err)
	}
	return out, nil
}
