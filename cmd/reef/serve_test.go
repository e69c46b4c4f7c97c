package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reefhq/reef/internal/netguard"
	"github.com/reefhq/reef/runtime/server/servertest"
)

// buildReef builds the reef binary of this package (static, as shipped).
func buildReef(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reef")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// isolatedEnv is an environment with reef's directories in dir and no
// REEF_* or SKILL_DIR from the caller.
func isolatedEnv(dir string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "REEF_") || strings.HasPrefix(kv, "SKILL_DIR=") || strings.HasPrefix(kv, "XDG_") || strings.HasPrefix(kv, "HOME=") ||
			strings.HasPrefix(kv, "MAX_WORKERS=") || strings.HasPrefix(kv, "LOG_LEVEL=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	return append(env, extra...)
}

func testSkills(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	greet, err := os.ReadFile(filepath.Join("..", "..", "runtime", "engine", "testdata", "greet.wasm"))
	if err != nil {
		t.Fatalf("greet.wasm: %v (run `make testdata`)", err)
	}
	for name, b := range map[string][]byte{"greet.wasm": greet, "spin.wasm": servertest.SpinWasm()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// daemon is a running `reef serve`.
type daemon struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	lines  chan string
	done   chan error
	client *http.Client
}

var servingRE = regexp.MustCompile(`serving on (http://[0-9.:\[\]]+)`)

func startDaemon(t *testing.T, bin string, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{stderr: &lockedBuffer{}, lines: make(chan string, 100), done: make(chan error, 1)}
	d.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	d.cmd.Env = env
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			d.stderr.WriteString(sc.Text() + "\n")
			select {
			case d.lines <- sc.Text():
			default:
			}
		}
		d.done <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("reef serve stderr:\n%s", d.stderr)
		}
	})
	deadline := time.After(20 * time.Second)
	for d.url == "" {
		select {
		case l := <-d.lines:
			if m := servingRE.FindStringSubmatch(l); m != nil {
				d.url = m[1]
			}
		case <-deadline:
			t.Fatalf("reef serve did not start:\n%s", d.stderr)
		}
	}
	guard := netguard.New(t)
	d.client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: guard.Dialer().DialContext}}
	for i := 0; ; i++ {
		if resp, err := d.client.Get(d.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 1000 {
			t.Fatal("reef serve never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d
}

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (d *daemon) call(t *testing.T, method, path, tok, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, d.url+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (d *daemon) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-d.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("reef serve did not exit")
	}
	return nil
}

// TestServeSIGTERMDrains: SIGTERM lets an in-flight call finish, then the
// process exits 0.
func TestServeSIGTERMDrains(t *testing.T) {
	bin := buildReef(t)
	home := t.TempDir()
	const tok = "test-admin-token"
	d := startDaemon(t, bin, isolatedEnv(home, "REEF_ADMIN_TOKEN="+tok), "--listen", "127.0.0.1:0", "--skill-dir", testSkills(t))
	if st, body := d.call(t, "POST", "/v1/skills/greet/functions/greet", tok, "reef"); st != 200 || body != "Hello, reef!" {
		t.Fatalf("invoke: %d %s", st, body)
	}
	if st, _ := d.call(t, "GET", "/v1/skills", "", ""); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	// A call that runs for a while: calibrate spin (1M iterations per input byte).
	in := "x"
	for {
		start := time.Now()
		d.call(t, "POST", "/v1/skills/spin/functions/spin", tok, in)
		if took := time.Since(start); took > 100*time.Millisecond || len(in) >= 4096 {
			in = strings.Repeat("x", max(1, int(float64(len(in))*float64(700*time.Millisecond)/float64(took))))
			break
		}
		in += in
	}
	result := make(chan string, 1)
	go func() {
		st, body := d.call(t, "POST", "/v1/skills/spin/functions/spin", tok, in)
		result <- fmt.Sprintf("%d %s", st, body)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, m := d.call(t, "GET", "/metrics", tok, "")
		if strings.Contains(m, "\nreef_workers_busy 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if r := <-result; r != "200 " {
		t.Fatalf("in-flight call after SIGTERM: %s", r)
	}
	if err := d.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if !strings.Contains(d.stderr.String(), "draining") {
		t.Fatalf("no drain in the log:\n%s", d.stderr)
	}
}

// TestServeGeneratesAdminToken: with no token configured, reef makes one,
// stores it 0600, prints it once, and listens on loopback only even when
// asked for every interface.
func TestServeGeneratesAdminToken(t *testing.T) {
	bin := buildReef(t)
	home := t.TempDir()
	env := isolatedEnv(home)
	d := startDaemon(t, bin, env, "--listen", "0.0.0.0:0", "--skill-dir", testSkills(t))
	if !strings.HasPrefix(d.url, "http://127.0.0.1:") {
		t.Fatalf("not forced to loopback: %s", d.url)
	}
	path := filepath.Join(home, "config", "reef", "admin.token")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %v", fi.Mode().Perm())
	}
	if !strings.Contains(d.stderr.String(), tok) {
		t.Fatalf("token not printed:\n%s", d.stderr)
	}
	if st, body := d.call(t, "GET", "/v1/skills", tok, ""); st != 200 {
		t.Fatalf("with the generated token: %d %s", st, body)
	}
	if st, _ := d.call(t, "GET", "/v1/skills", "", ""); st != 401 {
		t.Fatalf("without a token on loopback: %d", st)
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.wait(t); err != nil {
		t.Fatal(err)
	}
	// Second start: the same token, not printed again.
	d2 := startDaemon(t, bin, env, "--listen", "127.0.0.1:0", "--skill-dir", testSkills(t))
	if strings.Contains(d2.stderr.String(), tok) || !strings.Contains(d2.stderr.String(), "using the admin token in") {
		t.Fatalf("second start:\n%s", d2.stderr)
	}
	if st, _ := d2.call(t, "GET", "/v1/skills", tok, ""); st != 200 {
		t.Fatalf("token after restart: %d", st)
	}
	_ = d2.cmd.Process.Signal(syscall.SIGTERM)
	_ = d2.wait(t)
}
