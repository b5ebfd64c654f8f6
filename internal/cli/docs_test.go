package cli

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md")

// TestCLIDocsInStep fails when docs/cli.md drifts from the command tree.
func TestCLIDocsInStep(t *testing.T) {
	const path = "../../docs/cli.md"
	got := Markdown()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got, "run go test ./internal/cli -update")
	for _, c := range []string{"prsim pki init", "prsim server", "prsim device new", "prsim device info", "prsim license acquire",
		"prsim license list", "prsim play", "prsim inspect", "prsim demo"} {
		require.Contains(t, got, "## "+c+"\n")
	}
}
