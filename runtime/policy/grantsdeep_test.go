package policy

import (
	"strings"
	"testing"
	"time"
)

func TestParseGrantsDeepNesting(t *testing.T) {
	for _, src := range []string{
		strings.Repeat("[", 50000),
		"skills:\n  a:\n    fs:\n" + strings.Repeat("      - ", 100000),
		strings.Repeat("{a: ", 20000) + strings.Repeat("}", 20000),
	} {
		start := time.Now()
		_, err := ParseGrants("g.yaml", []byte(src))
		if err == nil {
			t.Fatal("deeply nested input accepted")
		}
		t.Logf("%v in %v", err, time.Since(start))
	}
}
