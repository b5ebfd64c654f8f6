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
// VM shared with other jobs (bench/bench.txt, copied unchanged).
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
	require.Equal(t, "Oxide Virtual Turin-like Processor", strings.TrimSpace(r.CPU))
	require.Equal(t, "github.com/prsim/prsim/bench", r.Pkg)
	require.Len(t, r.Benchmarks, 39)

	// BenchmarkAcquire/soft-2  672  2220338 ns/op  383326 B/op  2966 allocs/op
	a := r.Benchmarks["Acquire/soft"]
	require.Equal(t, 1, a.Runs)
	require.Equal(t, int64(672), a.Iterations)
	require.Equal(t, 2220338.0, a.NsPerOp)
	require.Nil(t, a.MBPerS)
	require.Equal(t, 383326.0, *a.BytesPerOp)
	require.Equal(t, 2966.0, *a.AllocsPerOp)

	// BenchmarkDecrypt/cenc-raw-4k-2  1000000  1015 ns/op  4035.76 MB/s  528 B/op  2 allocs/op
	d := r.Benchmarks["Decrypt/cenc-raw-4k"]
	require.Equal(t, 1015.0, d.NsPerOp)
	require.Equal(t, 4035.76, *d.MBPerS)
	require.Contains(t, r.Benchmarks, "AcquireServer")
	require.Contains(t, r.Benchmarks, "CryptoFloor/total")

	rs := ratios(r.Benchmarks)
	for _, def := range ratioDefs {
		require.Contains(t, rs, def.name)
		require.NotEmpty(t, rs[def.name].Meaning)
	}
	require.InDelta(t, 2220338.0/787401.0, rs["acquire_soft_vs_crypto_floor"].Value, 0.001)
	require.InDelta(t, 3482151.0/2220338.0, rs["acquire_tpm_vs_soft"].Value, 0.001)
	require.InDelta(t, 942210.0/2220338.0, rs["client_share_of_acquire"].Value, 0.001)
	require.InDelta(t, 3474.81/4035.76, rs["decrypt_cenc_tee_vs_raw_ctr_4k"].Value, 0.001)
	require.InDelta(t, 3517074.0/2220338.0, rs["sealed_store_per_acquisition"].Value, 0.001)
	require.InDelta(t, 6560634.0/5297468.0, rs["sealed_store_per_acquisition_swtpm"].Value, 0.001)
	require.InDelta(t, 418314.0/1691.0, rs["play_start_sealed_commit"].Value, 0.001)

	// Every absolute figure, in µs.
	abs := absolutes(r.Benchmarks)
	for _, def := range absoluteDefs {
		require.Contains(t, abs, def.name)
		require.NotEmpty(t, abs[def.name].Meaning)
	}
	require.InDelta(t, 683.0, abs["commit_store_us"].Value, 0.05)
	require.InDelta(t, 110.0, abs["commit_memory_us"].Value, 0.05)
	require.InDelta(t, (3517074.0-2220338.0)/1000, abs["sealed_store_per_acquisition_us"].Value, 0.05)
	require.InDelta(t, 1180.5, abs["play_start_timed_swtpm_store_us"].Value, 0.05)
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
	require.Empty(t, r.Absolute, "no commit or play-start benchmark in this run")

	// Without MB/s a throughput ratio cannot be formed.
	r2, err := parse(strings.NewReader("BenchmarkDecrypt/cenc-tee-2 1 5 ns/op\nBenchmarkDecrypt/cenc-raw-2 1 5 ns/op\n"))
	require.NoError(t, err)
	require.Empty(t, ratios(r2.Benchmarks))
}

// The sealed-state figures: ratios of the same run, and microseconds, a
// difference only when both of its benchmarks ran.
func TestSealedStateFigures(t *testing.T) {
	in := strings.Join([]string{
		"BenchmarkAcquire/soft-2 100 1000000 ns/op",
		"BenchmarkAcquire/soft-store-2 100 2500000 ns/op",
		"BenchmarkCommit/memory-2 100 40000 ns/op",
		"BenchmarkCommit/store-2 100 700000 ns/op",
		"BenchmarkPlayStart/plain-2 100 1500 ns/op",
		"BenchmarkPlayStart/timed-2 100 45000 ns/op",
		"BenchmarkPlayStart/timed-store-2 100 900049 ns/op",
		"",
	}, "\n")
	var out bytes.Buffer
	require.NoError(t, run(strings.NewReader(in), &out, testGo, testDate))
	var r report
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	require.InDelta(t, 2.5, r.Ratios["sealed_store_per_acquisition"].Value, 1e-9)
	require.InDelta(t, 17.5, r.Ratios["commit_store_vs_memory"].Value, 1e-9)
	require.InDelta(t, 600.033, r.Ratios["play_start_sealed_commit"].Value, 1e-9)
	require.InDelta(t, 20.001, r.Ratios["play_start_store_vs_memory"].Value, 1e-9)
	require.NotContains(t, r.Ratios, "sealed_store_per_acquisition_swtpm", "no swtpm in this run")

	want := map[string]float64{
		"commit_memory_us": 40, "commit_store_us": 700, "sealed_store_per_acquisition_us": 1500,
		"play_start_plain_us": 1.5, "play_start_timed_us": 45, "play_start_timed_store_us": 900,
	}
	require.Len(t, r.Absolute, len(want))
	for name, v := range want {
		f, ok := r.Absolute[name]
		require.True(t, ok, name)
		require.InDelta(t, v, f.Value, 1e-9, name)
		require.Equal(t, "µs", f.Unit, name)
		require.NotEmpty(t, f.Meaning, name)
	}
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
