// Command benchtable reads `go test -bench` output on stdin and prints, per
// benchmark group, each variant's ns/op, allocs/op and its ratio to the
// group's "reef" variants, so `make bench` shows reef against extism go-sdk
// and raw wazero from one run.
package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

type row struct {
	group, variant string
	ns, allocs     float64
	extra          string
}

func main() {
	var rows []row
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Println(line)
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		group, variant, _ := strings.Cut(name, "/")
		r := row{group: group, variant: variant}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.ns = v
			case "allocs/op":
				r.allocs = v
			case "B/op", "MB/s":
			default:
				r.extra += fmt.Sprintf(" %s %s", f[i], f[i+1])
			}
		}
		rows = append(rows, r)
	}
	groups := map[string][]row{}
	var order []string
	for _, r := range rows {
		if _, ok := groups[r.group]; !ok {
			order = append(order, r.group)
		}
		groups[r.group] = append(groups[r.group], r)
	}
	fmt.Println()
	fmt.Println("| benchmark | variant | time/op | allocs/op | vs reef |")
	fmt.Println("|---|---|---|---|---|")
	for _, g := range order {
		rs := groups[g]
		var ref float64
		for _, r := range rs {
			if strings.HasPrefix(r.variant, "reef") && (ref == 0 || r.ns < ref) {
				ref = r.ns
			}
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].ns < rs[j].ns })
		for _, r := range rs {
			ratio := "–"
			if ref > 0 && r.ns > 0 && r.variant != "" {
				ratio = fmt.Sprintf("%.2f×", r.ns/ref)
			}
			fmt.Printf("| %s | %s | %s | %.0f | %s |%s\n", g, r.variant, human(r.ns), r.allocs, ratio, r.extra)
		}
	}
}

func human(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
