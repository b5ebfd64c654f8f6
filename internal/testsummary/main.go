// Command testsummary reads `go test -json` events (a file such as
// gotestsum's --jsonfile, or stdin) and prints every skipped test with its
// skip message, then one last line "N passed, N failed, N skipped". It exits
// 1 if anything failed. `make test` runs it after the tests.
//
// Tests and subtests are counted alike. A package that failed without a
// failing test (build error, panic, timeout, TestMain exit) counts as one
// failed test named after the package.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	in := io.Reader(os.Stdin)
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	s, err := summarize(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	s.print(os.Stdout)
	if s.failed > 0 {
		os.Exit(1)
	}
}

// module is trimmed from package paths in the listing.
const module = "github.com/prsim/prsim/"

// event is the subset of test2json's TestEvent used here.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type result struct {
	pkg, test, reason string
}

type summary struct {
	passed, failed int
	skipped        []result
	failures       []result
}

func summarize(r io.Reader) (*summary, error) {
	type key struct{ pkg, test string }
	output := map[key][]string{}
	failedTests := map[string]bool{}
	var pkgFailed []string
	s := &summary{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue // go test's non-JSON chatter, e.g. a build error
		}
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("malformed test event: %w", err)
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			if e.Test != "" {
				output[k] = append(output[k], e.Output)
			}
		case "pass":
			if e.Test != "" {
				s.passed++
			}
		case "skip":
			if e.Test != "" {
				s.skipped = append(s.skipped, result{e.Package, e.Test, reason(output[k])})
			}
		case "fail":
			if e.Test != "" {
				s.failed++
				failedTests[e.Package] = true
				s.failures = append(s.failures, result{pkg: e.Package, test: e.Test})
			} else {
				pkgFailed = append(pkgFailed, e.Package)
			}
		}
		if e.Action != "output" && e.Test != "" {
			delete(output, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, p := range pkgFailed {
		if !failedTests[p] {
			s.failed++
			s.failures = append(s.failures, result{pkg: p, test: "(package)"})
		}
	}
	sort.Slice(s.skipped, func(i, j int) bool {
		a, b := s.skipped[i], s.skipped[j]
		return a.pkg < b.pkg || a.pkg == b.pkg && a.test < b.test
	})
	return s, nil
}

// reason keeps what the test logged (t.Skip's message among it), without
// the framework's "=== RUN" and "--- SKIP" lines.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		parts = append(parts, l)
	}
	r := strings.Join(parts, " / ")
	if r == "" {
		return "no message"
	}
	if len(r) > 300 {
		r = r[:300] + "…"
	}
	return r
}

func (s *summary) print(w io.Writer) {
	if len(s.skipped) > 0 {
		fmt.Fprintf(w, "Skipped tests (%d):\n", len(s.skipped))
		for _, r := range s.skipped {
			fmt.Fprintf(w, "  SKIP %s %s: %s\n", strings.TrimPrefix(r.pkg, module), r.test, r.reason)
		}
	}
	if len(s.failures) > 0 {
		fmt.Fprintf(w, "Failed tests (%d):\n", len(s.failures))
		for _, r := range s.failures {
			fmt.Fprintf(w, "  FAIL %s %s\n", strings.TrimPrefix(r.pkg, module), r.test)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, len(s.skipped))
}
