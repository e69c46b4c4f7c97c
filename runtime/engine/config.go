package engine

import (
	"log/slog"
	"runtime"
	"slices"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// Config configures an Engine. It is immutable: every With… method returns
// a copy, so a hot reload can derive a new config from the old one without
// locks. Problems are reported by New, not by the With… methods.
type Config struct {
	cacheDir    string
	cacheLimit  int64
	logger      *slog.Logger
	modules     []abi.Module
	recorder    policy.Recorder
	interpreter bool
	maxIdle     int
	hostCalls   int
	guestLogMax int
	guestLogLvl slog.Level
}

// NewConfig returns the defaults: compiler backend where wazero has one
// (amd64, arm64), no disk cache, no capabilities, up to CPUs×2 idle
// instances per skill, 10 000 capability calls per call, 64 KiB of guest
// log per call.
func NewConfig() Config {
	return Config{maxIdle: runtime.NumCPU() * 2, hostCalls: 10000, guestLogMax: 64 << 10, guestLogLvl: slog.LevelInfo}
}

// WithCacheDir keeps compiled code in dir across processes ("" = memory
// only). Entries are keyed by module digest and wazero version.
func (c Config) WithCacheDir(dir string) Config { c.cacheDir = dir; return c }

// WithCacheLimit bounds the disk cache (CACHE_SIZE): New deletes the
// oldest entries past it. Zero means unbounded.
func (c Config) WithCacheLimit(bytes int64) Config { c.cacheLimit = bytes; return c }

// WithLogger sets the logger for engine events and guest logs (nil =
// discard).
func (c Config) WithLogger(l *slog.Logger) Config { c.logger = l; return c }

// WithGuestLogLevel sets the lowest guest log level forwarded (and what
// Extism's get_log_level reports).
func (c Config) WithGuestLogLevel(l slog.Level) Config { c.guestLogLvl = l; return c }

// WithModules sets the capability modules offered in extism:host/user.
func (c Config) WithModules(m ...abi.Module) Config { c.modules = slices.Clone(m); return c }

// WithRecorder sets the recorder that receives the engine's own policy
// decisions (unused if nil).
func (c Config) WithRecorder(r policy.Recorder) Config { c.recorder = r; return c }

// WithInterpreter forces wazero's interpreter (for platforms without the
// compiler, and for differential tests).
func (c Config) WithInterpreter(on bool) Config { c.interpreter = on; return c }

// WithMaxIdle bounds warm instances kept per skill version.
func (c Config) WithMaxIdle(n int) Config { c.maxIdle = n; return c }

// WithHostCallBudget bounds capability calls per guest call.
func (c Config) WithHostCallBudget(n int) Config { c.hostCalls = n; return c }

// WithGuestLogLimit bounds guest log bytes (stdout, stderr, Extism log_*)
// per call; the rest is dropped with one notice.
func (c Config) WithGuestLogLimit(n int) Config { c.guestLogMax = n; return c }
