package interrupt

import (
	"os"
	"testing"
)

// BenchmarkInstrumentGo measures the rewrite of a Go skill (≈3 MiB, the
// largest modules reef runs); it happens once per compile.
func BenchmarkInstrumentGo(b *testing.B) {
	bin, err := os.ReadFile("../../../../skills-src/hello-go/hello-go.wasm")
	if err != nil {
		b.Skipf("hello-go not built (make skills): %v", err)
	}
	b.SetBytes(int64(len(bin)))
	for b.Loop() {
		if _, err := Instrument(bin); err != nil {
			b.Fatal(err)
		}
	}
}
