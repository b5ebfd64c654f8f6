package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Markdown renders the command reference (docs/cli.md). A test keeps the
// committed file in step with the command tree.
func Markdown() string {
	root := New(nil, nil)
	var b strings.Builder
	b.WriteString("# prsim command reference\n\nGenerated from the command tree (`go test ./internal/cli -update`); do not edit by hand.\n\n")
	b.WriteString("Exit codes: 0 success, 1 usage or other error, 2 DRM error.\n")
	b.WriteString("\nWith `--json` a command prints exactly one JSON object on stdout, also when it fails: a failure is\n" +
		"`{\"error\": \"DRM_E_… (0x8004….)\", \"detail\": \"…\"}` (a DRM failure: the code, and why — the license server's\n" +
		"fault text, the TEE's refusal) or `{\"error\": \"…\", \"detail\": \"what to do\"}`; `detail` is null when there is\n" +
		"nothing to add. Without `--json` the same report is one `prsim: ERROR: DETAIL` line on stderr. Keys are\n" +
		"snake_case and an absent value is null.\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.Runnable() && !c.HasSubCommands() && c != root {
			fmt.Fprintf(&b, "\n## %s\n\n%s\n\n```\n%s\n```\n", c.CommandPath(), c.Short, c.UseLine())
			var flags []*pflag.Flag
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if f.Name != "help" {
					flags = append(flags, f)
				}
			})
			if len(flags) > 0 {
				b.WriteString("\n| flag | default | meaning |\n|---|---|---|\n")
				for _, f := range flags {
					def := f.DefValue
					if def == "" || def == "false" || def == "0" {
						def = ""
					}
					fmt.Fprintf(&b, "| `--%s` | %s | %s |\n", f.Name, code(def), f.Usage)
				}
			}
			// Long says what Short cannot: the JSON a command prints, and
			// how it behaves.
			if c.Long != "" {
				fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(c.Long))
			}
		}
		subs := c.Commands()
		sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
		for _, s := range subs {
			walk(s)
		}
	}
	walk(root)
	return b.String()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}
