package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixed run metadata, so that the golden file does not depend on the
// toolchain or the clock.
var (
	testGo   = "go1.26.8"
	testDate = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// testdata/sample.txt is the output of one `make bench` run on a 2-core
// AMD EPYC VM (bench/bench.txt, copied unchanged).
func readSample(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sample.txt"))
	require.NoError(t, err)
	return b
}

func TestSampleGolden(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(bytes.NewReader(readSample(t)), &out, testGo, testDate))
	golden := filepath.Join("testdata", "sample.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), out.String())
}

func TestSample(t *testing.T) {
	r, err := parse(bytes.NewReader(readSample(t)))
	require.NoError(t, err)
	require.Equal(t, "linux", r.GOOS)
	require.Equal(t, "amd64", r.GOARCH)
	require.Equal(t, "AMD EPYC", r.CPU)
	require.Equal(t, "github.com/prsim/prsim/bench", r.Pkg)
	require.Len(t, r.Benchmarks, 27)

	// BenchmarkAcquire/soft-2  962  1334381 ns/op  319410 B/op  2930 allocs/op
	a := r.Benchmarks["Acquire/soft"]
	require.Equal(t, 1, a.Runs)
	require.Equal(t, int64(962), a.Iterations)
	require.Equal(t, 1334381.0, a.NsPerOp)
	require.Nil(t, a.MBPerS)
	require.Equal(t, 319410.0, *a.BytesPerOp)
	require.Equal(t, 2930.0, *a.AllocsPerOp)

	// BenchmarkDecrypt/cenc-raw-4k-2  1275598  935.3 ns/op  4379.54 MB/s  528 B/op  2 allocs/op
	d := r.Benchmarks["Decrypt/cenc-raw-4k"]
	require.Equal(t, 935.3, d.NsPerOp)
	require.Equal(t, 4379.54, *d.MBPerS)
	require.Contains(t, r.Benchmarks, "AcquireServer")
	require.Contains(t, r.Benchmarks, "CryptoFloor/total")

	rs := ratios(r.Benchmarks)
	for _, def := range ratioDefs {
		require.Contains(t, rs, def.name)
		require.NotEmpty(t, rs[def.name].Meaning)
	}
	require.InDelta(t, 1334381.0/788457.0, rs["acquire_soft_vs_crypto_floor"].Value, 0.001)
	require.InDelta(t, 2014162.0/1334381.0, rs["acquire_tpm_vs_soft"].Value, 0.001)
	require.InDelta(t, 613028.0/1334381.0, rs["client_share_of_acquire"].Value, 0.001)
	require.InDelta(t, 5193.61/4379.54, rs["decrypt_cenc_tee_vs_raw_ctr_4k"].Value, 0.001)
}

func TestNames(t *testing.T) {
	for line, want := range map[string]string{
		"BenchmarkAcquire/soft-2 10 5 ns/op":          "Acquire/soft",
		"BenchmarkAcquire/soft 10 5 ns/op":            "Acquire/soft", // GOMAXPROCS=1 adds no suffix
		"BenchmarkDecrypt/cenc-tee-4k-16 10 5 ns/op":  "Decrypt/cenc-tee-4k",
		"BenchmarkDecrypt/cenc-tee-4k 10 5 ns/op":     "Decrypt/cenc-tee-4k",
		"BenchmarkAcquireServer-2 10 5 ns/op":         "AcquireServer",
		"BenchmarkX/a-b-c-8 10 5 ns/op 3 widgets/op":  "X/a-b-c",
		"BenchmarkX/with#01-2 10 5 ns/op 1.5 MB/s":    "X/with#01",
		"BenchmarkDecrypt/cenc-tee-4k-2\t10\t5 ns/op": "Decrypt/cenc-tee-4k",
	} {
		r, err := parse(strings.NewReader(line + "\n"))
		require.NoError(t, err, line)
		require.Len(t, r.Benchmarks, 1, line)
		require.Contains(t, r.Benchmarks, want, line)
	}
}

func TestCustomMetricAndCount(t *testing.T) {
	in := "BenchmarkX-2 10 100 ns/op 7 widgets/op\nBenchmarkX-2 20 300 ns/op 9 widgets/op 40 MB/s\n"
	r, err := parse(strings.NewReader(in))
	require.NoError(t, err)
	x := r.Benchmarks["X"]
	require.Equal(t, 2, x.Runs)
	require.Equal(t, int64(20), x.Iterations)
	require.Equal(t, 200.0, x.NsPerOp)
	require.Equal(t, 8.0, x.Metrics["widgets/op"])
	require.Equal(t, 40.0, *x.MBPerS, "mean of the runs that reported it")
	require.Nil(t, x.AllocsPerOp)
}

// A run of part of the benchmarks gives the ratios it can and omits the rest.
func TestMissingBenchmarksOmitRatios(t *testing.T) {
	var keep []string
	for _, l := range strings.Split(string(readSample(t)), "\n") {
		if !strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "BenchmarkDecrypt/") {
			keep = append(keep, l)
		}
	}
	var out bytes.Buffer
	require.NoError(t, run(strings.NewReader(strings.Join(keep, "\n")), &out, testGo, testDate))
	var r report
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	require.Len(t, r.Benchmarks, 8)
	require.Len(t, r.Ratios, 4)
	require.Contains(t, r.Ratios, "decrypt_cenc_tee_vs_raw_ctr")
	require.NotContains(t, r.Ratios, "acquire_soft_vs_crypto_floor")

	// Without MB/s a throughput ratio cannot be formed.
	r2, err := parse(strings.NewReader("BenchmarkDecrypt/cenc-tee-2 1 5 ns/op\nBenchmarkDecrypt/cenc-raw-2 1 5 ns/op\n"))
	require.NoError(t, err)
	require.Empty(t, ratios(r2.Benchmarks))
}

func TestMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"empty":             "",
		"no results":        "goos: linux\nPASS\nok  \tx\t1s\n",
		"no iterations":     "BenchmarkX-2 ns/op 5\n",
		"zero iterations":   "BenchmarkX-2 0 5 ns/op\n",
		"unpaired":          "BenchmarkX-2 10 5 ns/op 3\n",
		"no ns/op":          "BenchmarkX-2 10 5 B/op\n",
		"bad number":        "BenchmarkX-2 10 five ns/op\n",
		"NaN":               "BenchmarkX-2 10 NaN ns/op\n",
		"infinite":          "BenchmarkX-2 10 1e999 ns/op\n",
		"negative":          "BenchmarkX-2 10 -5 ns/op\n",
		"empty name":        "Benchmark-2 10 5 ns/op\n",
		"one bad among ok":  "BenchmarkA-2 10 5 ns/op\nBenchmarkB-2 10 x ns/op\n",
		"failed run":        "BenchmarkA-2 10 5 ns/op\n--- FAIL: BenchmarkB/tpm-2\nFAIL\n",
		"failed package":    "BenchmarkA-2 10 5 ns/op\nFAIL\tgithub.com/prsim/prsim/bench\t1.0s\n",
		"line over 1 MiB":   "BenchmarkA-2 10 5 ns/op " + strings.Repeat("x", maxLine) + "\n",
		"stdout in results": "BenchmarkA-2 hello 10 5 ns/op\n",
	} {
		t.Run(name, func(t *testing.T) {
			r, err := parse(strings.NewReader(in))
			require.Error(t, err)
			require.Nil(t, r)
			var out bytes.Buffer
			require.Error(t, run(strings.NewReader(in), &out, testGo, testDate))
			require.Zero(t, out.Len(), "nothing is written on error")
		})
	}
	_, err := parse(strings.NewReader("BenchmarkX-2 10 five ns/op\n"))
	require.ErrorIs(t, err, errMalformed)
}

// Lines that are not results are skipped: logs, skips, a name printed alone.
func TestSkippedLines(t *testing.T) {
	in := strings.Join([]string{
		"goos: linux", "goarch: arm64", "cpu: Test CPU @ 1GHz",
		"BenchmarkA/log-2",
		"BenchmarkA/log-2  \t 10\t 5 ns/op",
		"--- BENCH: BenchmarkA/log-2",
		"    bench_test.go:6: hello: world",
		"--- SKIP: BenchmarkA/tpm",
		"PASS", "ok  \tbx\t0.9s", "",
	}, "\r\n")
	r, err := parse(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, "arm64", r.GOARCH)
	require.Equal(t, "Test CPU @ 1GHz", r.CPU)
	require.Equal(t, map[string]result{"A/log": {Runs: 1, Iterations: 10, NsPerOp: 5}}, r.Benchmarks)
}

func FuzzParse(f *testing.F) {
	corpus, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParse", "*"))
	if err != nil || len(corpus) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzParse")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatal("no testdata/*.txt seeds")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parse(bytes.NewReader(b))
		if err != nil {
			require.Nil(t, r)
			return
		}
		require.NotEmpty(t, r.Benchmarks)
		for name, res := range r.Benchmarks {
			require.NotEmpty(t, name)
			require.GreaterOrEqual(t, res.NsPerOp, 0.0)
			require.Positive(t, res.Runs)
		}
		// Every accepted input gives a document that encodes (no NaN or
		// infinity reaches encoding/json) and decodes to the same numbers.
		var out bytes.Buffer
		require.NoError(t, run(bytes.NewReader(b), &out, testGo, testDate))
		var back report
		require.NoError(t, json.Unmarshal(out.Bytes(), &back))
		require.Len(t, back.Benchmarks, len(r.Benchmarks))
	})
}
