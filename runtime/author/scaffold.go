package author

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/reefhq/reef/pdk"
	"github.com/reefhq/reef/runtime/skill"
)

// ScaffoldOptions configure Scaffold.
type ScaffoldOptions struct {
	// Force writes into a folder that is not empty, replacing the files
	// Scaffold writes (others are left alone).
	Force bool
}

// Scaffold writes a working skill called name in dir (whose last element
// must be name, the Agent Skills rule): SKILL.md, reef.yaml with a JSON
// Schema input, the source in lang using the PDK, and golden tests in
// tests/. It returns the files written, relative to dir. An existing
// folder that is not empty is refused with *ExistsError unless
// opts.Force.
func Scaffold(dir, name string, lang Lang, opts ScaffoldOptions) ([]string, error) {
	if !skill.ValidName(name) {
		return nil, fmt.Errorf("skill name %q: must be 1-64 characters of a-z, 0-9 and single hyphens, not starting or ending with a hyphen", name)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if filepath.Base(abs) != name {
		return nil, fmt.Errorf("folder %s: its name must equal the skill name %q (Agent Skills rule)", dir, name)
	}
	if ents, err := os.ReadDir(abs); err == nil && len(ents) > 0 && !opts.Force {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return nil, &ExistsError{Dir: dir, Entries: names}
	} else if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	repo := FindRepo(filepath.Dir(abs))
	files, err := templates(name, lang, abs, repo)
	if err != nil {
		return nil, err
	}
	var written []string
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := writeFile(filepath.Join(abs, filepath.FromSlash(p)), []byte(files[p]), 0o644); err != nil {
			return written, fmt.Errorf("scaffold: %w", err)
		}
		written = append(written, p)
	}
	return written, nil
}

func templates(name string, lang Lang, abs, repo string) (map[string]string, error) {
	r := strings.NewReplacer("NAME", name, "LANGNAME", langName(lang), "LANG", string(lang))
	memory := "16MiB"
	if lang == Go {
		memory = "64MiB"
	}
	files := map[string]string{
		"SKILL.md":                r.Replace(skillMD),
		"reef.yaml":               strings.Replace(r.Replace(reefYAML), "MEMORY", memory, 1),
		"tests/greet.json":        testGreet,
		"tests/config.json":       testConfig,
		"tests/missing-name.json": testMissing,
		".gitignore":              "*.wasm\nnode_modules/\n",
	}
	switch lang {
	case Go:
		files["main.go"] = r.Replace(goMain)
		if repo == "" {
			files["go.mod"] = r.Replace(goMod)
			ents, err := fs.Glob(pdk.FS, "go/*.go")
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				if strings.HasSuffix(e, "_test.go") {
					continue
				}
				b, err := pdk.FS.ReadFile(e)
				if err != nil {
					return nil, err
				}
				files["reef-pdk/"+strings.TrimPrefix(e, "go/")] = string(b)
			}
			files["reef-pdk/go.mod"] = "module github.com/reefhq/reef/pdk/go\n\ngo 1.24\n"
		}
	case C:
		files[name+".c"] = r.Replace(cMain)
	case Rust:
		mod := "mod reef; // reef.rs: the reef PDK, copied here by `reef new`"
		if repo != "" {
			rel, err := filepath.Rel(abs, filepath.Join(repo, "pdk", "rust", "reef.rs"))
			if err != nil {
				return nil, err
			}
			mod = fmt.Sprintf("#[path = %q]\nmod reef;", filepath.ToSlash(rel))
		} else {
			b, err := pdk.FS.ReadFile("rust/reef.rs")
			if err != nil {
				return nil, err
			}
			files["reef.rs"] = string(b)
		}
		files["lib.rs"] = strings.Replace(r.Replace(rustMain), "MODREEF", mod, 1)
	case AS:
		files["assembly/index.ts"] = r.Replace(asMain)
		if repo == "" {
			files["package.json"] = r.Replace(asPackage)
		}
	default:
		return nil, fmt.Errorf("unknown language %q: want go, c, rust or as", lang)
	}
	return files, nil
}

const skillMD = `---
name: NAME
description: Greets someone by name. A reef skill written in LANGNAME; replace this with what the skill does and when an assistant should use it.
license: Apache-2.0
metadata:
  version: "0.1.0"
  language: LANG
---
# NAME

Call ` + "`greet`" + ` with ` + "`{\"name\": \"Ada\"}`" + `; it answers ` + "`{\"greeting\":\"Hello, Ada!\"}`" + `.
The optional skill config value ` + "`greeting`" + ` replaces "Hello".

` + "```" + `
reef build NAME
reef run NAME greet '{"name":"Ada"}'
reef test NAME
` + "```" + `
`

const reefYAML = `wasm: NAME.wasm
functions:
  - name: greet
    description: Greet someone by name.
    input:
      type: object
      required: [name]
      properties:
        name: { type: string, minLength: 1, maxLength: 200 }
      additionalProperties: false
limits: { memory: MEMORY, timeout: 5s, output: 64KiB }
`

const testGreet = `{
  "function": "greet",
  "input": {"name": "Ada"},
  "output": {"greeting": "Hello, Ada!"}
}
`

const testConfig = `{
  "function": "greet",
  "input": {"name": "reef"},
  "config": {"greeting": "Ahoy"},
  "output": {"greeting": "Ahoy, reef!"}
}
`

const testMissing = `{
  "function": "greet",
  "input": {},
  "error": "name"
}
`

const goMod = `module NAME

go 1.24

require github.com/reefhq/reef/pdk/go v0.0.0

// The reef Go PDK, copied here by ` + "`reef new`" + `.
replace github.com/reefhq/reef/pdk/go => ./reef-pdk
`

const goMain = `//go:build wasip1

// Command NAME is a reef skill: greet someone by name.
package main

import reef "github.com/reefhq/reef/pdk/go"

type input struct {
	Name string ` + "`json:\"name\"`" + `
}

type output struct {
	Greeting string ` + "`json:\"greeting\"`" + `
}

func greet(in input) (output, error) {
	word, ok := reef.Config("greeting")
	if !ok {
		word = "Hello"
	}
	return output{Greeting: word + ", " + in.Name + "!"}, nil
}

// Each export is one line: the PDK decodes the JSON input, calls greet
// and encodes its result (or sets the error).
//
//go:wasmexport greet
//lint:ignore U1000 exported to the host
func greetExport() int32 { return reef.Run(greet) }

func main() {}
`

const cMain = `// NAME: a reef skill that greets someone by name.
#include "reef.h"

REEF_EXPORT("greet") int32_t greet(void) {
  reef_json in;
  char *buf;
  int rc = reef_input_json(&in, &buf); /* sets the error on invalid JSON */
  if (rc) return rc;
  char *name = reef_json_get_string(in, "name", NULL);
  if (!name) {
    free(buf);
    reef_error("input must be an object with a \"name\" string");
    return 1;
  }
  char *word = reef_config("greeting");
  reef_buf out = {0};
  reef_buf greeting = {0};
  reef_buf_raw(&greeting, word ? word : "Hello", strlen(word ? word : "Hello"));
  reef_buf_raw(&greeting, ", ", 2);
  reef_buf_raw(&greeting, name, strlen(name));
  reef_buf_raw(&greeting, "!", 1);
  reef_jw_begin(&out, '{');
  reef_jw_key(&out, "greeting");
  reef_jw_strn(&out, greeting.p, greeting.len);
  reef_jw_end(&out, '}');
  reef_output_json(&out);
  reef_buf_free(&greeting);
  free(word);
  free(name);
  free(buf);
  return 0;
}
`

const rustMain = `//! NAME: a reef skill that greets someone by name.
MODREEF

reef::json_struct! { pub struct Input { name: String } }
reef::json_struct! { pub struct Output { greeting: String } }

fn greet(input: Input) -> Result<Output, reef::Error> {
    let word = reef::config("greeting").unwrap_or_else(|| "Hello".to_string());
    // reef::cat instead of format!: core::fmt alone adds ~20 KiB.
    Ok(Output { greeting: reef::cat(&[&word, ", ", &input.name, "!"]) })
}

#[export_name = "greet"]
pub extern "C" fn greet_export() -> i32 {
    reef::run(greet)
}
`

const asMain = `// NAME: a reef skill that greets someone by name.
import * as reef from "@reefhq/as-pdk";

export function greet(): i32 {
  const input = reef.inputJSON();
  if (!input.ok) return reef.fail(input.error!.toString());
  const name = input.value.getString("name");
  const word = reef.config("greeting");
  const greeting = (word !== null ? word : "Hello") + ", " + name + "!";
  reef.outputJSON(reef.Value.object().set("greeting", reef.Value.string(greeting)));
  return 0;
}
`

const asPackage = `{
  "name": "NAME",
  "private": true,
  "description": "A reef skill in AssemblyScript. Build with: reef build .",
  "devDependencies": {
    "assemblyscript": "0.28.20"
  }
}
`
