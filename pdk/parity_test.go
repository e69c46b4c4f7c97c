package pdk_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// extismKernel is the Extism kernel ABI (extism:host/env) reef implements;
// a PDK may import any of these.
var extismKernel = []string{
	"alloc", "free", "length", "length_unsafe", "load_u8", "load_u64", "store_u8", "store_u64",
	"input_length", "input_offset", "input_load_u8", "input_load_u64", "input_set",
	"output_set", "output_length", "output_offset", "error_set", "error_get", "reset", "memory_bytes",
	"config_get", "var_get", "var_set", "http_request", "http_status_code", "http_headers",
	"get_log_level", "log_trace", "log_debug", "log_info", "log_warn", "log_error",
}

// abiNames parses hostfuncs/abi/names.go: the bulk-copy extensions
// (constants named Reef…) live in the env module, every other reef_
// constant is a capability function in the user module.
func abiNames(t *testing.T) (env, user map[string]bool) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "hostfuncs", "abi", "names.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	env, user = map[string]bool{}, map[string]bool{}
	for _, n := range extismKernel {
		env[n] = true
	}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		v, _ := strconv.Unquote(lit.Value)
		if !strings.HasPrefix(v, "reef_") {
			return true
		}
		if strings.HasPrefix(vs.Names[0].Name, "Reef") {
			env[v] = true
		} else {
			user[v] = true
		}
		return true
	})
	if len(user) < 26 || !env["reef_store"] {
		t.Fatalf("names.go parse found %d capability names, env %v", len(user), env)
	}
	return env, user
}

type imp struct{ module, name, where string }

func read(t *testing.T, pattern string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(b)
	}
	return out
}

var (
	goImport  = regexp.MustCompile(`//go:wasmimport (\S+) (\S+)`)
	cEnv      = regexp.MustCompile(`REEF_IMPORT_ENV\("([^"]+)"\)`)
	cUser     = regexp.MustCompile(`REEF__CAP\(\w+, "([^"]+)"\)`)
	asImport  = regexp.MustCompile(`@external\("([^"]+)", "([^"]+)"\)`)
	rsBlock   = regexp.MustCompile(`(?s)#\[link\(wasm_import_module = "([^"]+)"\)\]\s*extern "C" \{(.*?)\n\}`)
	rsItem    = regexp.MustCompile(`(?m)(?:#\[link_name = "([^"]+)"\]\s*)?fn (\w+)\(`)
	envModule = "extism:host/env"
)

// pdkImports extracts every import each PDK declares, by reading its
// sources the way a reviewer would.
func pdkImports(t *testing.T) map[string][]imp {
	t.Helper()
	out := map[string][]imp{}
	for f, src := range read(t, "go/*.go") {
		for _, m := range goImport.FindAllStringSubmatch(src, -1) {
			out["go"] = append(out["go"], imp{m[1], m[2], f})
		}
	}
	for f, src := range read(t, "c/reef.h") {
		for _, m := range cEnv.FindAllStringSubmatch(src, -1) {
			out["c"] = append(out["c"], imp{envModule, m[1], f})
		}
		for _, m := range cUser.FindAllStringSubmatch(src, -1) {
			out["c"] = append(out["c"], imp{"extism:host/user", m[1], f})
		}
	}
	for f, src := range read(t, "rust/reef.rs") {
		for _, b := range rsBlock.FindAllStringSubmatch(src, -1) {
			for _, m := range rsItem.FindAllStringSubmatch(b[2], -1) {
				name := m[1]
				if name == "" {
					name = m[2]
				}
				out["rust"] = append(out["rust"], imp{b[1], name, f})
			}
		}
	}
	for f, src := range read(t, "assemblyscript/assembly/*.ts") {
		for _, m := range asImport.FindAllStringSubmatch(src, -1) {
			out["as"] = append(out["as"], imp{m[1], m[2], f})
		}
	}
	return out
}

// TestImportParity: every import a PDK declares exists in reef (names.go
// or the Extism kernel), and every PDK wraps every capability function,
// so a typo or a forgotten function fails here instead of at load time.
func TestImportParity(t *testing.T) {
	env, user := abiNames(t)
	all := pdkImports(t)
	for _, lang := range []string{"go", "c", "rust", "as"} {
		imps := all[lang]
		if len(imps) < 40 {
			t.Errorf("%s: only %d imports found; the extraction pattern no longer matches the source", lang, len(imps))
		}
		declared := map[string]bool{}
		for _, im := range imps {
			switch im.module {
			case envModule:
				if !env[im.name] {
					t.Errorf("%s (%s): imports %s.%s, which is neither an Extism kernel function nor a reef extension in hostfuncs/abi/names.go", lang, im.where, im.module, im.name)
				}
			case "extism:host/user":
				if !user[im.name] {
					t.Errorf("%s (%s): imports capability %q, not in hostfuncs/abi/names.go", lang, im.where, im.name)
				}
				declared[im.name] = true
			default:
				t.Errorf("%s (%s): imports from unknown module %q", lang, im.where, im.module)
			}
		}
		var missing []string
		for n := range user {
			if !declared[n] && n != "reef_log" { // reef_log: no host module yet; PDKs log through the kernel
				missing = append(missing, n)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s: no wrapper imports %s", lang, strings.Join(missing, ", "))
		}
		for _, ext := range []string{"reef_input_read", "reef_output_write", "reef_error_write", "reef_load", "reef_store"} {
			found := false
			for _, im := range imps {
				found = found || im.name == ext
			}
			if !found {
				t.Errorf("%s: does not use reef's bulk-copy extension %s", lang, ext)
			}
		}
	}
}
