package adversarial

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hostfs "github.com/reefhq/reef/hostfuncs/fs"
	hosthttp "github.com/reefhq/reef/hostfuncs/http"
	hostkv "github.com/reefhq/reef/hostfuncs/kv"
	"github.com/reefhq/reef/internal/guestbuild"
	"github.com/reefhq/reef/internal/netguard"
	"github.com/reefhq/reef/runtime/engine"
)

// Limits of the shared world, small so the attacks hit them quickly.
const (
	quotaBytes      = 1 << 20
	quotaFiles      = 64
	maxRespBytes    = 1 << 20
	hostCallBudget  = 500
	callTimeout     = 2 * time.Second
	skillOutputSize = 1 << 20
)

// Skills using the capabilities under test, built from skills-src/.
var bundledSkills = []string{"http-fetch", "file-search", "file-organizer", "kv-counter"}

// w is the world every test shares: one engine with the real capability
// modules, a granted and a forbidden loopback server, a stub resolver.
var w *world

type world struct {
	repo   string
	build  string            // compiled guests
	wasm   map[string][]byte // guest name -> module
	eng    *engine.Engine
	fs     *hostfs.Module
	http   *hosthttp.Module
	kv     *hostkv.Module
	guard  *netguard.Guard
	dns    *stubResolver
	rec    *recorder
	good   *loopServer // granted
	bad    *loopServer // never granted: any hit fails the suite
	secret string      // value of the operator secret TOKEN
}

func TestMain(m *testing.M) {
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "adversarial:", err)
		os.Exit(1)
	}
	if code == 0 {
		code = m.Run()
	}
	if w != nil {
		if r := w.guard.Refused(); len(r) > 0 {
			fmt.Fprintf(os.Stderr, "adversarial: FAIL: non-loopback dial attempts: %v\n", r)
			code = 1
		}
		if hits := w.bad.hitCount(); hits > 0 {
			fmt.Fprintf(os.Stderr, "adversarial: FAIL: the non-granted server got %d requests: %v\n", hits, w.bad.paths())
			code = 1
		}
		_ = w.eng.Close(context.Background())
		_ = w.fs.Close()
		_ = w.http.Close()
		_ = w.kv.Close()
		w.good.Close()
		w.bad.Close()
		_ = os.RemoveAll(w.build)
	}
	os.Exit(code)
}

func setup() (int, error) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return 1, err
	}
	if err := guestbuild.Require(guestbuild.Clang, guestbuild.Go); err != nil {
		return 1, fmt.Errorf("building the hostile guests: %w", err)
	}
	dir, err := os.MkdirTemp("", "reef-adversarial-")
	if err != nil {
		return 1, err
	}
	w = &world{repo: repo, build: dir, wasm: map[string][]byte{}}
	td := filepath.Join(repo, "hostfuncs", "adversarial", "testdata")
	if err := w.compile("hostile", filepath.Join(td, "hostile.c")); err != nil {
		return 1, err
	}
	if err := w.compile("hostile_go", filepath.Join(td, "hostile_go")); err != nil {
		return 1, err
	}
	for _, s := range bundledSkills {
		src, err := skillSource(filepath.Join(repo, "skills-src", s))
		if err != nil {
			return 1, err
		}
		if err := w.compile(s, src); err != nil {
			return 1, err
		}
	}

	w.guard = &netguard.Guard{}
	w.dns = newStubResolver()
	w.rec = &recorder{}
	var b [12]byte
	_, _ = rand.Read(b[:])
	w.secret = "tok-" + hex.EncodeToString(b[:])
	w.good = newLoopServer(false)
	w.bad = newLoopServer(true)
	w.fs = hostfs.New(hostfs.Options{QuotaBytes: quotaBytes, QuotaFiles: quotaFiles})
	w.http = hosthttp.New(hosthttp.Options{
		Resolver: w.dns,
		Dialer:   w.guard.Dialer(),
		// Names under rebind.test may reach loopback (an operator's
		// internal network), so rebinding to metadata/private is what
		// gets refused.
		TrustedNets:      []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Timeout:          callTimeout,
		MaxResponseBytes: maxRespBytes,
		Secrets: func(name string) (string, bool) {
			if name == "TOKEN" {
				return w.secret, true
			}
			return "", false
		},
	})
	w.kv, err = hostkv.Open(hostkv.Options{Path: filepath.Join(dir, "kv.db")})
	if err != nil {
		return 1, err
	}
	w.eng, err = engine.New(context.Background(), engine.NewConfig().
		WithModules(w.fs, w.http, w.kv).
		WithRecorder(w.rec).
		WithHostCallBudget(hostCallBudget).
		WithCacheDir(guestbuild.CompileCache("adversarial-compiled", dir)))
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// skillSource is the C file or Go package of a bundled skill.
func skillSource(dir string) (string, error) {
	if m, _ := filepath.Glob(filepath.Join(dir, "*.c")); len(m) == 1 {
		return m[0], nil
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(m) > 0 {
		return dir, nil
	}
	return "", fmt.Errorf("%s: no C file or Go package to build", dir)
}

// compile builds a C file or a Go package (a directory) into w.build.
func (w *world) compile(name, src string) error {
	out := filepath.Join(w.build, name+".wasm")
	var b []byte
	var err error
	if strings.HasSuffix(src, ".c") {
		b, err = guestbuild.C(w.repo, src, out)
	} else {
		b, err = guestbuild.GoPackage(src, out)
	}
	if err != nil {
		return err
	}
	w.wasm[name] = b
	return nil
}
