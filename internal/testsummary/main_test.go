package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const events = `{"Action":"start","Package":"github.com/prsim/prsim/a"}
{"Action":"run","Package":"github.com/prsim/prsim/a","Test":"TestOK"}
{"Action":"output","Package":"github.com/prsim/prsim/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"github.com/prsim/prsim/a","Test":"TestOK","Elapsed":0}
{"Action":"run","Package":"github.com/prsim/prsim/a","Test":"TestTool"}
{"Action":"output","Package":"github.com/prsim/prsim/a","Test":"TestTool","Output":"=== RUN   TestTool\n"}
{"Action":"output","Package":"github.com/prsim/prsim/a","Test":"TestTool","Output":"    x_test.go:9: swtpm not installed\n"}
{"Action":"output","Package":"github.com/prsim/prsim/a","Test":"TestTool","Output":"--- SKIP: TestTool (0.00s)\n"}
{"Action":"skip","Package":"github.com/prsim/prsim/a","Test":"TestTool","Elapsed":0}
{"Action":"run","Package":"github.com/prsim/prsim/a","Test":"TestSub"}
{"Action":"run","Package":"github.com/prsim/prsim/a","Test":"TestSub/x"}
{"Action":"fail","Package":"github.com/prsim/prsim/a","Test":"TestSub/x","Elapsed":0}
{"Action":"fail","Package":"github.com/prsim/prsim/a","Test":"TestSub","Elapsed":0}
{"Action":"fail","Package":"github.com/prsim/prsim/a","Elapsed":0}
{"Action":"skip","Package":"notests","Elapsed":0}
# b [b.test]
{"Action":"fail","Package":"b","Elapsed":0}
{"Action":"start","Package":"c"}
{"Action":"pass","Package":"c","Test":"TestC"}
{"Action":"pass","Package":"c"}
`

func TestSummarize(t *testing.T) {
	s, err := summarize(strings.NewReader(events))
	require.NoError(t, err)
	require.Equal(t, 2, s.passed)
	// TestSub, TestSub/x and package b, which failed to build.
	require.Equal(t, 3, s.failed)
	require.Equal(t, []result{{"github.com/prsim/prsim/a", "TestTool", "x_test.go:9: swtpm not installed"}}, s.skipped)

	var out strings.Builder
	s.print(&out)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Equal(t, "2 passed, 3 failed, 1 skipped", lines[len(lines)-1])
	require.Contains(t, out.String(), "SKIP a TestTool: x_test.go:9: swtpm not installed")
	require.Contains(t, out.String(), "FAIL b (package)")
}

func TestSummarizeAllPassed(t *testing.T) {
	s, err := summarize(strings.NewReader(`{"Action":"pass","Package":"c","Test":"TestC"}` + "\n"))
	require.NoError(t, err)
	var out strings.Builder
	s.print(&out)
	require.Equal(t, "1 passed, 0 failed, 0 skipped\n", out.String())
}

func TestSummarizeRejectsGarbage(t *testing.T) {
	_, err := summarize(strings.NewReader("{not json\n"))
	require.Error(t, err)
}
