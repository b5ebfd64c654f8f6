package layers

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The repository must stand alone: people who clone it have docs/ and public
// sources, not the notes the project was started from. A citation of a note
// outside the repository ("spec/xmr.md", "../shared", "DESIGN.md", a seed
// document) would send them to a file they cannot open.
var outsideCitation = regexp.MustCompile(`(^|[^/a-z])spec/[a-z-]+\.md|\.\./shared|DESIGN\.md|seeds/[0-9]{3}_`)

func TestRepositoryStandsAlone(t *testing.T) {
	root := filepath.Join("..", "..")
	skipDirs := map[string]bool{".git": true, ".tools": true, ".helpers": true, "bin": true, "out": true, "node_modules": true}
	var bad []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".json", ".xml", ".sh", ".txt", ".mpd":
		default:
			if d.Name() != "Makefile" && d.Name() != "run" {
				return nil
			}
		}
		if strings.HasSuffix(path, "standalone_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if outsideCitation.MatchString(line) {
				rel, _ := filepath.Rel(root, path)
				bad = append(bad, fmt.Sprintf("%s:%d: %s", rel, i+1, strings.TrimSpace(line)))
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, bad, "cite docs/formats/… or a public source instead")
}

func TestOutsideCitationPattern(t *testing.T) {
	for _, s := range []string{"see spec/xmr.md §3", "(spec/soap.md)", "../shared/spec", "DESIGN.md \"Trust\"", "seeds/003_x.txt"} {
		require.True(t, outsideCitation.MatchString(s), s)
	}
	for _, s := range []string{"docs/formats/xmr.md §3", "a spec of its own", "formats/soap.md"} {
		require.False(t, outsideCitation.MatchString(s), s)
	}
}
