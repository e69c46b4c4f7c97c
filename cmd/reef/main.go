// Command reef runs WebAssembly skills for AI assistants: one-shot from the
// command line (reef run), as a daemon (reef serve) and as a skill author's
// tool (reef new, reef build, reef test).
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
