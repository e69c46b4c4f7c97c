package hostfs

import (
	"log/slog"
	"os"
	"sync"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// Defaults of Options.
const (
	DefaultMaxReadBytes   = 64 << 20
	DefaultMaxListEntries = 10000
	DefaultMaxGlobResults = 10000
	DefaultMaxGlobVisit   = 100000
)

// Options configure the fs module. Zero fields take the defaults above;
// zero quotas mean unlimited.
type Options struct {
	// QuotaBytes caps the total size of regular files over all of a
	// skill's read-write mounts.
	QuotaBytes int64
	// QuotaFiles caps the number of entries (files, directories, links)
	// over all of a skill's read-write mounts.
	QuotaFiles int
	// MaxFileBytes caps the size of one file written by the skill.
	MaxFileBytes int64
	// MaxReadBytes caps one reef_fs_read response (default 64 MiB).
	MaxReadBytes int64
	// MaxListEntries caps the entries of one reef_fs_list (default 10000).
	MaxListEntries int
	// MaxGlobResults caps the paths one reef_fs_glob returns (default
	// 10000); MaxGlobVisit the entries it may look at (default 100000).
	MaxGlobResults int
	MaxGlobVisit   int
	// Logger logs module events; nil discards.
	Logger *slog.Logger
}

// Module is the fs capability. It is safe for concurrent use; one Module
// serves every skill (quotas are kept per skill).
type Module struct {
	opts Options
	log  *slog.Logger

	usageMu sync.Mutex
	usage   map[string]*usage

	rootsMu sync.Mutex
	roots   map[string]*os.Root // WASI roots by host directory

	// beforeRename, when set (tests only), runs between writing the
	// temporary file and renaming it over the target; an error aborts
	// the write.
	beforeRename func() error
}

// New returns the fs module.
func New(opts Options) *Module {
	if opts.MaxReadBytes <= 0 {
		opts.MaxReadBytes = DefaultMaxReadBytes
	}
	if opts.MaxListEntries <= 0 {
		opts.MaxListEntries = DefaultMaxListEntries
	}
	if opts.MaxGlobResults <= 0 {
		opts.MaxGlobResults = DefaultMaxGlobResults
	}
	if opts.MaxGlobVisit <= 0 {
		opts.MaxGlobVisit = DefaultMaxGlobVisit
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Module{opts: opts, log: log, usage: map[string]*usage{}, roots: map[string]*os.Root{}}
}

// Name implements abi.Module.
func (m *Module) Name() string { return policy.CapFS }

// Funcs implements abi.Module.
func (m *Module) Funcs() []abi.Func {
	return []abi.Func{
		{Name: abi.FSRead, Handler: m.read},
		{Name: abi.FSWrite, Handler: m.write},
		{Name: abi.FSAppend, Handler: m.append},
		{Name: abi.FSList, Handler: m.list},
		{Name: abi.FSStat, Handler: m.stat},
		{Name: abi.FSMkdir, Handler: m.mkdir},
		{Name: abi.FSRemove, Handler: m.remove},
		{Name: abi.FSRename, Handler: m.rename},
		{Name: abi.FSGlob, Handler: m.glob},
	}
}

var (
	_ abi.Module    = (*Module)(nil)
	_ abi.Preopener = (*Module)(nil)
	_ abi.Closer    = (*Module)(nil)
)
