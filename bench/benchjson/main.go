// Command benchjson turns the text output of `go test -bench` into the JSON
// summary `make bench` writes to bench/results.json: the run's environment,
// every benchmark's numbers, the ratios that say what prsim costs against
// the raw crypto and AES it is built on and what the sealed TEE state costs
// per acquisition and per play start, and absolute figures in microseconds
// (see package bench). Each derived number carries a one-line meaning.
//
//	go test -run='^$' -bench=. -benchmem ./bench | go run ./bench/benchjson > bench/results.json
//
// It reads standard input and exits 1, writing nothing, on a result line it
// cannot read, on a failed run (a FAIL line) or when the input holds no
// benchmark result at all. A ratio or figure whose benchmarks are missing (a
// run of -bench=Decrypt, say, tpm variants skipped without cgo, or swtpm
// ones without swtpm) is left out.
//
// Result lines look like
//
//	BenchmarkAcquire/soft-2    205    1166637 ns/op    319436 B/op    2930 allocs/op
//	BenchmarkDecrypt/cenc-raw-2    2166    104687 ns/op    10016.33 MB/s    528 B/op    2 allocs/op
//
// The "Benchmark" prefix and the -GOMAXPROCS suffix are dropped from the
// name ("Acquire/soft"). A benchmark reported several times (-count) gets
// the mean of its runs.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// maxLine bounds one input line; result lines are about 150 bytes.
const maxLine = 1 << 20

func main() {
	if err := run(os.Stdin, os.Stdout, runtime.Version(), time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "benchjson:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, goVersion string, now time.Time) error {
	r, err := parse(in)
	if err != nil {
		return err
	}
	r.Go = goVersion
	r.Date = now.UTC().Format(time.RFC3339)
	r.Ratios = ratios(r.Benchmarks)
	r.Absolute = absolutes(r.Benchmarks)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = out.Write(append(b, '\n'))
	return err
}

// report is the JSON document.
type report struct {
	Go         string            `json:"go"`
	GOOS       string            `json:"goos"`
	GOARCH     string            `json:"goarch"`
	CPU        string            `json:"cpu"`
	Pkg        string            `json:"pkg,omitempty"`
	Date       string            `json:"date"`
	Benchmarks map[string]result `json:"benchmarks"`
	Ratios     map[string]ratio  `json:"ratios"`
	Absolute   map[string]figure `json:"absolute"`
}

// result is one benchmark's numbers. Optional ones are nil when the run did
// not report them (MB/s needs b.SetBytes, B/op and allocs/op -benchmem).
type result struct {
	Runs        int                `json:"runs"`
	Iterations  int64              `json:"iterations"` // of the last run
	NsPerOp     float64            `json:"ns_per_op"`
	MBPerS      *float64           `json:"mb_per_s,omitempty"`
	BytesPerOp  *float64           `json:"bytes_per_op,omitempty"`
	AllocsPerOp *float64           `json:"allocs_per_op,omitempty"`
	Metrics     map[string]float64 `json:"metrics,omitempty"` // b.reportMetric units
}

// ratio is a derived number and what it means.
type ratio struct {
	Value   float64 `json:"value"`
	Meaning string  `json:"meaning"`
}

// figure is a derived absolute number, its unit and what it means.
type figure struct {
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Meaning string  `json:"meaning"`
}

// errMalformed is wrapped by every parse error.
var errMalformed = errors.New("malformed benchmark output")

func malformed(line int, msg string) error {
	return fmt.Errorf("line %d: %s: %w", line, msg, errMalformed)
}

// parse reads `go test -bench` output. On error the report is nil.
func parse(in io.Reader) (*report, error) {
	r := &report{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Benchmarks: map[string]result{}}
	sums := map[string]*sum{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if k, v, ok := strings.Cut(line, ": "); ok {
			switch k {
			case "goos":
				r.GOOS = v
				continue
			case "goarch":
				r.GOARCH = v
				continue
			case "cpu":
				r.CPU = v
				continue
			case "pkg":
				r.Pkg = v
				continue
			}
		}
		switch {
		case line == "FAIL" || strings.HasPrefix(line, "FAIL\t") || strings.HasPrefix(line, "--- FAIL"):
			return nil, fmt.Errorf("line %d: the benchmark run failed", n)
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) == 1 {
				continue // a name alone: a benchmark that logged before its result, or -v output
			}
			name, res, err := parseresult(f)
			if err != nil {
				return nil, malformed(n, err.Error())
			}
			s := sums[name]
			if s == nil {
				s = &sum{}
				sums[name] = s
			}
			s.add(res)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	if len(sums) == 0 {
		return nil, malformed(n, "no benchmark results")
	}
	for name, s := range sums {
		r.Benchmarks[name] = s.mean()
	}
	return r, nil
}

// parseresult reads the fields of a result line.
func parseresult(f []string) (string, result, error) {
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i >= 0 && allDigits(name[i+1:]) {
		name = name[:i]
	}
	if name == "" {
		return "", result{}, errors.New("empty benchmark name")
	}
	iters, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || iters <= 0 {
		return "", result{}, errors.New("iteration count is not a positive integer")
	}
	if len(f)%2 != 0 {
		return "", result{}, errors.New("values and units do not pair up")
	}
	res := result{Runs: 1, Iterations: iters, NsPerOp: -1}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return "", result{}, errors.New("value is not a finite non-negative number")
		}
		switch unit := f[i+1]; unit {
		case "ns/op":
			res.NsPerOp = v
		case "MB/s":
			res.MBPerS = &v
		case "B/op":
			res.BytesPerOp = &v
		case "allocs/op":
			res.AllocsPerOp = &v
		default:
			if res.Metrics == nil {
				res.Metrics = map[string]float64{}
			}
			res.Metrics[unit] = v
		}
	}
	if res.NsPerOp < 0 {
		return "", result{}, errors.New("no ns/op")
	}
	return name, res, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// sum accumulates the runs of one benchmark.
type sum struct {
	n                   int
	last                result
	ns, mb, bytes, allc float64
	nMB, nBytes, nAllc  int
	metrics             map[string]float64
	nMetrics            map[string]int
}

func (s *sum) add(r result) {
	s.n++
	s.last = r
	s.ns += r.NsPerOp
	if r.MBPerS != nil {
		s.mb += *r.MBPerS
		s.nMB++
	}
	if r.BytesPerOp != nil {
		s.bytes += *r.BytesPerOp
		s.nBytes++
	}
	if r.AllocsPerOp != nil {
		s.allc += *r.AllocsPerOp
		s.nAllc++
	}
	for k, v := range r.Metrics {
		if s.metrics == nil {
			s.metrics, s.nMetrics = map[string]float64{}, map[string]int{}
		}
		s.metrics[k] += v
		s.nMetrics[k]++
	}
}

func (s *sum) mean() result {
	avg := func(total float64, n int) *float64 {
		if n == 0 {
			return nil
		}
		v := total / float64(n)
		return &v
	}
	r := result{Runs: s.n, Iterations: s.last.Iterations, NsPerOp: s.ns / float64(s.n),
		MBPerS: avg(s.mb, s.nMB), BytesPerOp: avg(s.bytes, s.nBytes), AllocsPerOp: avg(s.allc, s.nAllc)}
	for k, v := range s.metrics {
		if r.Metrics == nil {
			r.Metrics = map[string]float64{}
		}
		r.Metrics[k] = v / float64(s.nMetrics[k])
	}
	return r
}

// ratioDef derives one ratio: num/den of ns/op, or of MB/s when throughput.
type ratioDef struct {
	name       string
	num, den   string
	throughput bool
	meaning    string
}

var ratioDefs = []ratioDef{
	{"acquire_soft_vs_crypto_floor", "Acquire/soft", "CryptoFloor/total", false,
		"full in-process license acquisition (soft backend) ÷ its raw crypto operations alone: the cost of XML, BCert, XMR, HTTP plumbing and allocation, as a multiple"},
	{"acquire_tpm_vs_crypto_floor", "Acquire/tpm", "CryptoFloor/total", false,
		"full acquisition with the device keys in the TPM simulator ÷ the raw crypto operations in pure Go"},
	{"acquire_tpm_vs_soft", "Acquire/tpm", "Acquire/soft", false,
		"what moving the device's signing and decryption keys into the TPM simulator costs per acquisition (1 Sign + 1 ZGen + 2 Loads, docs/formats/tpm.md §9)"},
	{"client_share_of_acquire", "AcquireClient/soft", "Acquire/soft", false,
		"fraction of a full acquisition (soft) spent on the client side: server cert check, challenge, response verification, binding"},
	{"server_share_of_acquire", "AcquireServer", "Acquire/soft", false,
		"fraction of a full acquisition (soft) spent in the reference server's ServeHTTP"},
	{"sealed_store_per_acquisition", "Acquire/soft-store", "Acquire/soft", false,
		"full acquisition (soft) with the sealed TEE state in the device's bbolt store ÷ the same with it in memory: what the store's two fsync'd commits (the challenge nonce, its consumption by the bind) cost per acquisition, as a multiple"},
	{"sealed_store_per_acquisition_swtpm", "Acquire/swtpm-store", "Acquire/swtpm", false,
		"the same on swtpm, where both sides also increment the TPM NV generation counter twice: the bbolt store's share of a rollback-protected acquisition"},
	{"acquire_swtpm_store_vs_soft", "Acquire/swtpm-store", "Acquire/soft", false,
		"a rollback-protected device (keys and generation counter in swtpm, sealed state in bbolt) ÷ a soft device with its state in memory, per acquisition"},
	{"commit_store_vs_memory", "Commit/store", "Commit/memory", false,
		"one commit of the sealed TEE state (NewNonce: seal with AES-256-GCM, write) to the bbolt store ÷ to memory"},
	{"play_start_sealed_commit", "PlayStart/timed-store", "PlayStart/plain", false,
		"play start (Key.Enable) of a persistent license with an end date on an anti-rollback clock, committing to the bbolt store ÷ play start of a license without time policy (no commit)"},
	{"play_start_store_vs_memory", "PlayStart/timed-store", "PlayStart/timed", false,
		"play start of the time-based license with the sealed state in the bbolt store ÷ in memory: the store's share of the commit"},
	{"decrypt_cenc_tee_vs_raw_ctr", "Decrypt/cenc-tee", "Decrypt/cenc-raw", true,
		"TEE cenc throughput ÷ bare crypto/cipher AES-CTR throughput, 1 MiB samples (1 = no overhead; the TEE does the same AES work, so values above 1 are noise)"},
	{"decrypt_cenc_tee_vs_raw_ctr_4k", "Decrypt/cenc-tee-4k", "Decrypt/cenc-raw-4k", true,
		"TEE cenc throughput ÷ bare AES-CTR throughput, 4 KiB samples: the TEE's per-sample overhead (lock, checks, closure) shows here; values above 1 are noise"},
	{"decrypt_cbcs_tee_vs_raw_cbc", "Decrypt/cbcs-tee", "Decrypt/cbcs-raw", true,
		"TEE cbcs (1:9 pattern) throughput ÷ bare crypto/cipher CBC over the same crypt blocks, 1 MiB samples"},
	{"decrypt_cbcs_tee_vs_raw_cbc_4k", "Decrypt/cbcs-tee-4k", "Decrypt/cbcs-raw-4k", true,
		"TEE cbcs (1:9) throughput ÷ bare CBC over the same crypt blocks, 4 KiB samples: per-sample overhead; values above 1 are noise"},
}

// absoluteDef derives one absolute figure in microseconds: num's ns/op,
// less minus's when minus is set.
type absoluteDef struct {
	name, num, minus string
	meaning          string
}

var absoluteDefs = []absoluteDef{
	{"commit_memory_us", "Commit/memory", "",
		"one commit of the sealed TEE state to memory (soft backend): seal the state with AES-256-GCM and keep the blob"},
	{"commit_store_us", "Commit/store", "",
		"one commit of the sealed TEE state to the bbolt store (one fsync'd transaction)"},
	{"commit_swtpm_us", "Commit/swtpm", "",
		"one commit on swtpm with the state in memory: seal, then increment the TPM NV generation counter"},
	{"commit_swtpm_store_us", "Commit/swtpm-store", "",
		"one commit on swtpm to the bbolt store: seal, fsync'd write, NV counter increment (a rollback-protected device's commit)"},
	{"sealed_store_per_acquisition_us", "Acquire/soft-store", "Acquire/soft",
		"the bbolt store's added time per acquisition (soft): Acquire/soft-store − Acquire/soft (a difference of two noisy means)"},
	{"sealed_store_per_acquisition_swtpm_us", "Acquire/swtpm-store", "Acquire/swtpm",
		"the bbolt store's added time per acquisition on swtpm: Acquire/swtpm-store − Acquire/swtpm"},
	{"play_start_plain_us", "PlayStart/plain", "",
		"play start (Key.Enable: output decision, decryptor released) of a persistent license without time policy; nothing is committed"},
	{"play_start_timed_us", "PlayStart/timed", "",
		"play start of a persistent license with an end date on an anti-rollback clock, state in memory: trusted clock read, date check, first-play record, one commit"},
	{"play_start_timed_store_us", "PlayStart/timed-store", "",
		"the same play start with the sealed state in the bbolt store"},
	{"play_start_timed_swtpm_store_us", "PlayStart/timed-swtpm-store", "",
		"the same play start on swtpm with the bbolt store: TPM Clock read, fsync'd write, NV counter increment"},
}

// absolutes derives every absolute figure whose benchmarks are present.
func absolutes(bs map[string]result) map[string]figure {
	out := map[string]figure{}
	for _, d := range absoluteDefs {
		num, ok := bs[d.num]
		if !ok {
			continue
		}
		ns := num.NsPerOp
		if d.minus != "" {
			m, ok := bs[d.minus]
			if !ok {
				continue
			}
			ns -= m.NsPerOp
		}
		out[d.name] = figure{Value: math.Round(ns/100) / 10, Unit: "µs", Meaning: d.meaning}
	}
	return out
}

// ratios derives every ratio whose two benchmarks are present.
func ratios(bs map[string]result) map[string]ratio {
	out := map[string]ratio{}
	for _, d := range ratioDefs {
		num, ok1 := bs[d.num]
		den, ok2 := bs[d.den]
		if !ok1 || !ok2 {
			continue
		}
		a, b := num.NsPerOp, den.NsPerOp
		if d.throughput {
			if num.MBPerS == nil || den.MBPerS == nil {
				continue
			}
			a, b = *num.MBPerS, *den.MBPerS
		}
		if b <= 0 {
			continue
		}
		out[d.name] = ratio{Value: math.Round(a/b*1000) / 1000, Meaning: d.meaning}
	}
	return out
}
