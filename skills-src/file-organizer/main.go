//go:build wasip1

// Command file-organizer is a reef skill: move the files at the top of a
// granted folder into sub-folders named after their extension or their
// modification month.
package main

import (
	"fmt"
	"path"
	"sort"
	"strings"

	reef "github.com/reefhq/reef/pdk/go"
)

type input struct {
	Path   string `json:"path"`
	By     string `json:"by"`
	DryRun bool   `json:"dry_run"`
}

type move struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

type output struct {
	DryRun  bool   `json:"dry_run"`
	By      string `json:"by"`
	Moves   []move `json:"moves"`
	Skipped []skip `json:"skipped"`
}

// folderFor names the destination folder of one file.
func folderFor(fi reef.FileInfo, by string) string {
	if by == "date" {
		if len(fi.Mtime) >= 7 {
			return fi.Mtime[:7] // "2026-01"
		}
		return "undated"
	}
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(fi.Name), "."))
	if ext == "" || ext == strings.ToLower(strings.TrimPrefix(fi.Name, ".")) {
		return "no-extension"
	}
	return ext
}

func organize(in input) (output, error) {
	if in.Path == "" {
		in.Path = "/data"
	}
	if !strings.HasPrefix(in.Path, "/") {
		return output{}, fmt.Errorf("path must be an absolute guest path such as /data, got %q", in.Path)
	}
	switch in.By {
	case "":
		in.By = "extension"
	case "extension", "date":
	default:
		return output{}, fmt.Errorf("by must be \"extension\" or \"date\", got %q", in.By)
	}
	ents, err := reef.ReadDir(in.Path)
	if err != nil {
		return output{}, err
	}
	out := output{DryRun: in.DryRun, By: in.By, Moves: []move{}, Skipped: []skip{}}
	existing := map[string]bool{}
	for _, e := range ents {
		existing[e.Name] = e.Dir
	}
	made := map[string]bool{}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	for _, e := range ents {
		from := path.Join(in.Path, e.Name)
		switch {
		case e.Type != "file":
			continue // directories (including earlier results), links, others
		case strings.HasPrefix(e.Name, "."):
			out.Skipped = append(out.Skipped, skip{from, "hidden file"})
			continue
		}
		folder := folderFor(e, in.By)
		if isDir, ok := existing[folder]; ok && !isDir {
			out.Skipped = append(out.Skipped, skip{from, "a file named " + folder + " is in the way"})
			continue
		}
		to := path.Join(in.Path, folder, e.Name)
		if _, err := reef.Stat(to); err == nil {
			out.Skipped = append(out.Skipped, skip{from, "target exists: " + to})
			continue
		}
		if !in.DryRun {
			if !made[folder] && !existing[folder] {
				if err := reef.Mkdir(path.Join(in.Path, folder), true); err != nil {
					return out, fmt.Errorf("creating %s: %w", folder, err)
				}
				made[folder] = true
			}
			if err := reef.Rename(from, to); err != nil {
				return out, fmt.Errorf("moving %s: %w", from, err)
			}
		}
		out.Moves = append(out.Moves, move{from, to})
	}
	return out, nil
}

//lint:ignore U1000 exported to the host
//go:wasmexport organize
func organizeExport() int32 { return reef.Run(organize) }

func main() {}
