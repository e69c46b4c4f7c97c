package interrupt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// module builds a module with one () -> () function per body, exported as
// f0, f1, …, plus optional extra sections placed before the code section.
func module(pre []byte, bodies ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = appendSection(b, 1, []byte{1, 0x60, 0, 0}) // type 0: () -> ()
	fs := appendU32(nil, uint32(len(bodies)))
	for range bodies {
		fs = append(fs, 0)
	}
	b = appendSection(b, 3, fs)
	b = append(b, pre...)
	ex := appendU32(nil, uint32(len(bodies)))
	for i := range bodies {
		ex = append(ex, 2, 'f', byte('0'+i), 0)
		ex = appendU32(ex, uint32(i))
	}
	b = appendSection(b, 7, ex)
	code := appendU32(nil, uint32(len(bodies)))
	for _, body := range bodies {
		code = appendU32(code, uint32(len(body)))
		code = append(code, body...)
	}
	return appendSection(b, 10, code)
}

var (
	// loop br 0 end: runs forever
	spin = []byte{0, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}
	// block loop loop br 1 end end end: nested, forever
	nested = []byte{0, 0x02, 0x40, 0x03, 0x40, 0x03, 0x40, 0x0c, 0x01, 0x0b, 0x0b, 0x0b, 0x0b}
)

func runtime(t testing.TB) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { rt.Close(ctx) })
	return rt
}

// instrumented rewrites bin and instantiates the result.
func instrumented(t *testing.T, bin []byte) api.Module {
	t.Helper()
	out, err := Instrument(bin)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	mod, err := runtime(t).Instantiate(context.Background(), out)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	return mod
}

// interruptible runs fn of the instrumented module, sets the flag and
// requires the call to end with a trap.
func interruptible(t *testing.T, bin []byte, fn string) {
	t.Helper()
	ctx := context.Background()
	mod := instrumented(t, bin)
	g, ok := mod.ExportedGlobal(Export).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global %q", Export)
	}
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction(fn).Call(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("returned before the flag was set: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	g.Set(1)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("want an unreachable trap, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("guest did not stop after the flag was set")
	}
}

func TestInterruptsLoops(t *testing.T) {
	for name, body := range map[string][]byte{"spin": spin, "nested": nested} {
		t.Run(name, func(t *testing.T) { interruptible(t, module(nil, body), "f0") })
	}
}

func TestUninterruptedRunsUnchanged(t *testing.T) {
	// A counting loop: i = 1000; loop i = i-1; br_if 0 (i) end, returns.
	body := []byte{1, 1, 0x7f,
		0x41, 0xe8, 0x07, 0x21, 0x00,
		0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b, 0x0b}
	ctx := context.Background()
	mod := instrumented(t, module(nil, body))
	if _, err := mod.ExportedFunction("f0").Call(ctx); err != nil {
		t.Fatalf("call: %v", err)
	}
	if v := mod.ExportedGlobal(Export).Get(); v != 0 {
		t.Fatalf("flag starts at %d", v)
	}
}

func TestRefuses(t *testing.T) {
	globalSec := appendSection(nil, 6, []byte{1, 0x7f, 0x01, 0x41, 0x00, 0x0b})
	cases := []struct {
		name string
		bin  []byte
		want string
	}{
		{"not wasm", []byte("hello world"), "bad magic"},
		{"truncated", module(nil, spin)[:20], "overruns"},
		// global.set 0 in a module without globals: invalid before, would
		// name the flag after the rewrite.
		{"clears the flag", module(nil, []byte{0, 0x41, 0x00, 0x24, 0x00, 0x0b}), "global index 0"},
		{"reads the flag", module(globalSec, []byte{0, 0x23, 0x01, 0x1a, 0x0b}), "global index 1"},
		{"tail call", module(nil, []byte{0, 0x12, 0x00, 0x0b}), "unsupported opcode 0x12"},
		{"atomics", module(nil, []byte{0, 0xfe, 0x00, 0x0b}), "unsupported opcode 0xfe"},
		{"exceptions", module(nil, []byte{0, 0x1f, 0x40, 0x00, 0x0b, 0x0b}), "unsupported opcode 0x1f"},
		{"long misc opcode", module(nil, []byte{0, 0xfc, 0x88, 0x02, 0x00, 0x00, 0x0b}), "unsupported 0xfc opcode"},
		{"overlong leb", module(nil, []byte{0, 0x0c, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b}), "too long"},
		{"memory.size reserved byte", module(nil, []byte{0, 0x3f, 0x80, 0x00, 0x1a, 0x0b}), "single zero byte"},
		{"heap-typed block", module(nil, []byte{0, 0x02, 0x63, 0x70, 0x0b, 0x0b}), "block type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Instrument(c.bin)
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an *Error containing %q, got %v", c.want, err)
			}
		})
	}
}

func TestReservedExport(t *testing.T) {
	bin := []byte("\x00asm\x01\x00\x00\x00")
	bin = appendSection(bin, 6, []byte{1, 0x7f, 0x00, 0x41, 0x00, 0x0b})
	ex := appendU32(nil, 1)
	ex = appendU32(ex, uint32(len(Export)))
	ex = append(ex, Export...)
	ex = append(ex, 3, 0)
	bin = appendSection(bin, 7, ex)
	if _, err := Instrument(bin); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("want reserved-name error, got %v", err)
	}
}

// TestSIMDBoundaries checks that SIMD opcodes from 0x80 (a byte plus a
// trailing 0x01 that wazero reads as nop) and immediates that contain the
// loop opcode byte do not shift instruction boundaries: the only loop is
// the real one, and it still stops.
func TestSIMDBoundaries(t *testing.T) {
	body := []byte{0,
		// v128.const with 0x03 bytes inside (not loops), drop
		0xfd, 0x0c, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0x1a,
		// i32.const 3; i32x4.splat; i32x4.add with itself (0xfd 0xae 0x01); drop
		0x41, 0x03, 0xfd, 0x11, 0x41, 0x03, 0xfd, 0x11, 0xfd, 0xae, 0x01, 0x1a,
		0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}
	interruptible(t, module(nil, body), "f0")
	out, err := Instrument(module(nil, body))
	if err != nil {
		t.Fatal(err)
	}
	check := []byte{0x23, 0x00, 0x04, 0x40, 0x00, 0x0b}
	if n := bytes.Count(out, check); n != 1 {
		t.Fatalf("inserted %d checks, want 1", n)
	}
}

// TestRealModules instruments every module the repository builds or keeps
// as test data and compiles the result: the rewrite must stay valid for
// what C, Rust, Go and AssemblyScript toolchains emit.
func TestRealModules(t *testing.T) {
	var files []string
	for _, pat := range []string{"../../testdata/*.wasm", "../../../../skills-src/*/*.wasm", "../../../../skills-src/*/testdata/*.wasm"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no modules found")
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	for _, f := range files {
		bin, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(bin) > 1<<20 && !strings.HasSuffix(f, "hello-go.wasm") {
			continue // the other Go skills run instrumented in skills-src/catalog
		}
		out, err := Instrument(bin)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		cm, err := rt.CompileModule(ctx, out)
		if err != nil {
			t.Errorf("%s: instrumented module does not compile: %v", f, err)
			continue
		}
		if _, ok := cm.ExportedFunctions()[Export]; ok {
			t.Errorf("%s: flag exported as a function", f)
		}
		cm.Close(ctx)
	}
}

func FuzzInstrument(f *testing.F) {
	f.Add(module(nil, spin))
	f.Add(module(nil, nested))
	f.Add(module(appendSection(nil, 6, []byte{1, 0x7f, 0x01, 0x41, 0x00, 0x0b}), spin, nested))
	f.Fuzz(func(t *testing.T, bin []byte) {
		out, err := Instrument(bin)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(out, []byte("\x00asm")) {
			t.Fatal("output lost the header")
		}
		// Instrumenting twice must be refused (the export name is taken),
		// never crash.
		if _, err := Instrument(out); err == nil {
			t.Fatal("instrumented twice")
		}
	})
}

// TestStartFunctionExported checks that a start function that spins is
// not run by instantiation (where nothing could interrupt it) but exported
// as StartExport, and stops when the flag is set.
func TestStartFunctionExported(t *testing.T) {
	bin := []byte("\x00asm\x01\x00\x00\x00")
	bin = appendSection(bin, 1, []byte{1, 0x60, 0, 0})
	bin = appendSection(bin, 3, []byte{1, 0})
	bin = appendSection(bin, 8, []byte{0})
	code := []byte{1, byte(len(spin))}
	bin = appendSection(bin, 10, append(code, spin...))
	out, err := Instrument(bin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := runtime(t)
	cm, err := rt.CompileModule(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.ExportedFunctions()[StartExport]; !ok {
		t.Fatalf("start function not exported as %s", StartExport)
	}
	// Instantiation returns: the start function did not run inside it.
	interruptible(t, bin, StartExport)
}

// TestSpinningGuestDoesNotBlockGC: Go cannot preempt compiled Wasm, so a
// guest loop that never calls into Go would stall every stop-the-world
// of the process (and with it the watchdog that should stop the guest).
// The rewrite yields every Fuel iterations; a child process spins a guest
// and collects garbage meanwhile, and must finish.
func TestSpinningGuestDoesNotBlockGC(t *testing.T) {
	if os.Getenv("REEF_INTERRUPT_GC_CHILD") == "1" {
		spinAndCollect(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSpinningGuestDoesNotBlockGC$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REEF_INTERRUPT_GC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("garbage collection blocked by a spinning guest (child killed after 60 s)\n%s", out)
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func spinAndCollect(t *testing.T) {
	ctx := context.Background()
	mod := instrumented(t, module(nil, spin))
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("f0").Call(ctx)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	for range 3 {
		goruntime.GC()
	}
	mod.ExportedGlobal(Export).(api.MutableGlobal).Set(1)
	if err := <-done; err == nil {
		t.Fatal("spin returned without a trap")
	}
}
