package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/prsim/prsim/wire/kid"
)

// Damaged stores: each variant of a real store file (truncated, bytes
// flipped, meta pages rewritten with a valid checksum) is opened, listed,
// read and written in a child process, so that a segfault or a fatal runtime
// error fails this test instead of killing the run. The child must exit 0
// and every operation must succeed or return a DamagedError naming the file.

const damageChildEnv = "PRSIM_STORE_DAMAGE_CHILD"

// soak reports the long mode of the hostile-input suite (make soak).
func soak() bool { return os.Getenv("PRSIM_SOAK") != "" } //nolint:forbidigo // test-only switch

// TestDamagedStoreChild is the child half: it tries every *.db file in the
// directory and prints "begin NAME" before and "end NAME RESULT" after each.
func TestDamagedStoreChild(t *testing.T) {
	dir := os.Getenv(damageChildEnv) //nolint:forbidigo // test re-exec switch
	if dir == "" {
		t.Skip("child process only")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.db"))
	require.NoError(t, err)
	out := bufio.NewWriter(os.Stdout)
	for _, f := range files {
		fmt.Fprintf(out, "begin %s\n", filepath.Base(f))
		out.Flush() // before anything can crash
		res := exerciseStore(f)
		fmt.Fprintf(out, "end %s %s\n", filepath.Base(f), res)
		out.Flush()
	}
}

// exerciseStore runs the store's operations on path and returns "ok",
// "damaged" or "bad: why" (an error that is not a proper DamagedError).
func exerciseStore(path string) string {
	check := func(err error) (damaged bool, bad string) {
		if err == nil {
			return false, ""
		}
		var de *DamagedError
		if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) || de.Path != path ||
			!strings.HasPrefix(err.Error(), path+" is damaged (") || !strings.Contains(err.Error(), "re-acquire persistent licenses") {
			return false, "bad: " + err.Error()
		}
		return true, ""
	}
	s, err := Open(path)
	if d, bad := check(err); bad != "" || d {
		return cmpOr(bad, "damaged")
	}
	defer s.Close()
	damaged := false
	ops := []func() error{
		func() error { _, err := s.Licenses(); return err },
		func() error { _, err := s.LicensesFor(damageRecord(3).KID); return err },
		func() error { _, err := s.ServerCert("http://127.0.0.1:1"); return err },
		func() error { return s.PutLicense(damageRecord(1000)) },
		func() error { return s.DeleteLicense(damageRecord(5).KID, damageRecord(5).LID) },
		func() error { return s.PutServerCert("http://127.0.0.1:2", bytes.Repeat([]byte{7}, 3000)) },
		func() error { _, err := s.Licenses(); return err },
	}
	for i, op := range ops {
		err := op()
		d, bad := check(err)
		if bad != "" {
			return fmt.Sprintf("%s (op %d)", bad, i)
		}
		if damaged && !d {
			return fmt.Sprintf("bad: op %d succeeded after damage", i)
		}
		damaged = damaged || d
	}
	if damaged {
		return "damaged"
	}
	return "ok"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func damageRecord(i int) License {
	var id kid.ID
	copy(id[:], fmt.Sprintf("kid-%012d", i))
	return License{KID: id, LID: [16]byte{byte(i)}, Stored: time.Unix(int64(1700000000+i), 0).UTC(),
		XMR: bytes.Repeat([]byte{byte(i)}, 200+i*13)}
}

// goodStore writes a store spanning several leaf pages and a branch page and
// returns its bytes, page size and pages in use (the file may be longer).
func goodStore(t *testing.T) ([]byte, int, int) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	require.NoError(t, err)
	for i := range 40 {
		require.NoError(t, s.PutLicense(damageRecord(i)))
	}
	require.NoError(t, s.DeleteLicense(damageRecord(7).KID, damageRecord(7).LID)) // a non-empty freelist
	require.NoError(t, s.PutServerCert("http://127.0.0.1:1", []byte("CHAI")))
	require.NoError(t, s.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := chooseMeta(b)
	require.NoError(t, err)
	require.NoError(t, validateBytes(b))
	require.Greater(t, int(m.pgid), 6, "store too small to exercise")
	return b, int(m.pageSize), int(m.pgid)
}

// resum rewrites the checksum of the meta page at off, so that bbolt trusts
// whatever the test put in it.
func resum(b []byte, off int) {
	m := b[off+pageHeaderSize:]
	h := fnv.New64a()
	h.Write(m[:56])
	binary.LittleEndian.PutUint64(m[56:], h.Sum64())
}

// damageVariants yields damaged copies of good (page size ps), one at a
// time, so that a long soak does not hold them all.
func damageVariants(good []byte, ps int, flips int, seed uint64) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		clone := func() []byte { return append([]byte(nil), good...) }

		// Truncation at every page boundary and a few odd offsets.
		for off := 0; off < len(good); off += ps {
			if !yield(fmt.Sprintf("trunc-%d", off), good[:off]) {
				return
			}
		}
		for _, off := range []int{1, 15, 100, ps - 1, ps + 17, 2*ps + 1000, len(good) - 1, len(good) - 100} {
			if !yield(fmt.Sprintf("trunc-odd-%d", off), good[:off]) {
				return
			}
		}
		// Zeroed pages.
		for off := 0; off < len(good); off += ps {
			b := clone()
			clear(b[off : off+ps])
			if !yield(fmt.Sprintf("zero-page-%d", off/ps), b) {
				return
			}
		}
		// Meta fields rewritten with a valid checksum: bbolt believes them.
		for _, fo := range []int{8, 16, 32, 40} { // page size, root, freelist, high-water mark
			for _, val := range []uint64{0, 1, 2, 3, uint64(len(good)/ps) - 1, uint64(len(good) / ps), 1 << 20, 1<<63 + 5, ^uint64(0)} {
				for _, metaOff := range []int{0, ps} {
					b := clone()
					f := b[metaOff+pageHeaderSize+fo:]
					if fo == 8 {
						binary.LittleEndian.PutUint32(f, uint32(val))
					} else {
						binary.LittleEndian.PutUint64(f, val)
					}
					resum(b, metaOff)
					if !yield(fmt.Sprintf("meta%d-field%d-%d", metaOff/ps, fo, val), b) {
						return
					}
				}
			}
		}
		// Page header fields (id, flags, count, overflow) of every page.
		for p := 2; p < len(good)/ps; p++ {
			for _, fo := range []int{0, 8, 10, 12} {
				b := clone()
				b[p*ps+fo] ^= 0x41
				b[p*ps+fo+1] ^= 0x80
				if !yield(fmt.Sprintf("hdr-p%d-%d", p, fo), b) {
					return
				}
			}
		}
		// Random byte flips, concentrated where the structure is (headers
		// and element tables at the start of each page).
		r := rand.New(rand.NewPCG(seed, 7))
		for i := range flips {
			b := clone()
			for range 1 + r.IntN(8) {
				var pos int
				if r.IntN(2) == 0 {
					pos = r.IntN(len(b)/ps)*ps + r.IntN(128)
				} else {
					pos = r.IntN(len(b))
				}
				b[pos] ^= byte(1 + r.IntN(255))
			}
			if r.IntN(4) == 0 { // sometimes make a damaged meta page believable
				resum(b, 0)
				resum(b, ps)
			}
			if !yield(fmt.Sprintf("flip-%d", i), b) {
				return
			}
		}
	}
}

func TestDamagedStores(t *testing.T) {
	good, ps, pages := goodStore(t)
	flips := 250
	if soak() {
		flips = 10000
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	counts := map[string]int{}
	var batch []string
	truncated := map[string]bool{} // variants that cut pages in use
	flush := func() {
		results := runDamageChild(t, dir)
		for _, name := range batch {
			res, ok := results[name+".db"]
			require.True(t, ok, "variant %s: no result", name)
			if strings.HasPrefix(res, "bad") {
				t.Errorf("variant %s: %s", name, res)
			}
			// Every truncation of the pages in use is damage, never
			// silently accepted (bbolt grows the file ahead of use: the
			// rest is free).
			if truncated[name] {
				require.Equal(t, "damaged", res, name)
			}
			counts[res]++
		}
		batch = batch[:0]
	}
	for name, b := range damageVariants(good, ps, flips, seed) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".db"), b, 0o600))
		batch = append(batch, name)
		if strings.HasPrefix(name, "trunc-") && len(b) > 0 && len(b) < pages*ps {
			truncated[name] = true
		}
		if len(batch) == 500 {
			flush()
		}
	}
	flush()
	t.Logf("variants: %v", counts)
	require.Positive(t, counts["damaged"], "no variant detected as damaged")
	require.Positive(t, counts["ok"], "no variant left usable")
}

// runDamageChild runs the child on every file in dir; a child that dies
// (a fault, a fatal error, a hang killed by the test timeout) fails the test
// naming the variant it was on, and the rest are run in a fresh child.
func runDamageChild(t *testing.T, dir string) map[string]string {
	t.Helper()
	results := map[string]string{}
	for attempt := 0; ; attempt++ {
		// The child's own timeout turns a hang (a deadlock after a panic)
		// into a crash with a goroutine dump, naming the variant; a batch
		// takes seconds.
		cmd := exec.Command(os.Args[0], "-test.run=^TestDamagedStoreChild$", "-test.v=false", "-test.count=1", "-test.timeout=5m")
		cmd.Env = append(os.Environ(), damageChildEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		current := ""
		for line := range strings.Lines(string(out)) {
			f := strings.Fields(line)
			switch {
			case len(f) == 2 && f[0] == "begin":
				current = f[1]
			case len(f) >= 3 && f[0] == "end":
				results[f[1]] = strings.Join(f[2:], " ")
				current = ""
				_ = os.Remove(filepath.Join(dir, f[1]))
			}
		}
		if err == nil {
			return results
		}
		if current == "" || attempt > 20 {
			t.Fatalf("child failed: %v\n%s", err, tail(stderr.String()))
		}
		t.Errorf("variant %s crashed or hung the process: %v\n%s", current, err, tail(stderr.String()))
		results[current] = "bad: crashed"
		require.NoError(t, os.Remove(filepath.Join(dir, current)))
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[:2000]
	}
	return s
}

// A damaged store refuses every operation after the first failure, and
// closing it is not an error.
func TestDamagedStoreRefusesAfterDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.PutLicense(damageRecord(1)))
	// A record that does not decode is damage found by a read.
	require.NoError(t, s.do(func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketLicenses).Put([]byte("bad key"), []byte{9, 9})
		})
	}))
	_, err = s.Licenses()
	require.ErrorIs(t, err, ErrDamaged)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, path+" is damaged (store: corrupt record)")
	_, err = s.ServerCert("x")
	require.ErrorIs(t, err, ErrDamaged)
	require.ErrorIs(t, s.PutLicense(damageRecord(2)), ErrDamaged)
	require.NoError(t, s.Close())
}

func TestOpenRejectsTruncated(t *testing.T) {
	good, ps, pages := goodStore(t)
	path := filepath.Join(t.TempDir(), "store.db")
	require.NoError(t, os.WriteFile(path, good[:2*ps], 0o600))
	s, err := Open(path)
	require.Nil(t, s)
	require.ErrorIs(t, err, ErrDamaged)
	require.EqualError(t, err, fmt.Sprintf("%s is damaged (%d bytes, shorter than its %d pages of %d bytes (truncated?)): "+
		"move it away and re-acquire persistent licenses; the device keys are in device.json and are not affected",
		path, 2*ps, pages, ps))
}

func FuzzValidate(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzValidate/*")
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzValidate")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = validateBytes(b) // no panic, for any bytes
	})
}

// A record filed under another license's key (an edited file) is damage,
// not a license for the KID asked about.
func TestMisfiledRecordIsDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	require.NoError(t, err)
	a, b := damageRecord(1), damageRecord(2)
	require.NoError(t, s.do(func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketLicenses).Put(licenseKey(a.KID, a.LID), b.encode())
		})
	}))
	got, err := s.LicensesFor(a.KID)
	require.Nil(t, got)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, path+" is damaged (store: corrupt record: filed under another key)")
	require.NoError(t, s.Close())
}

func TestPutLicenseBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	require.NoError(t, err)
	l := damageRecord(1)
	l.XMR = make([]byte, maxXMR+1)
	require.EqualError(t, s.PutLicense(l), "store: a license of 1048577 bytes is larger than the 1048576 a store keeps")
	l.XMR = l.XMR[:maxXMR]
	require.NoError(t, s.PutLicense(l))
	require.NoError(t, s.Close())
	s, err = Open(path) // overflow pages pass the validation
	require.NoError(t, err)
	got, err := s.Licenses()
	require.NoError(t, err)
	require.Equal(t, []License{l}, got)
	require.NoError(t, s.Close())
	_, err = decodeLicense(append(l.encode(), 0))
	require.ErrorIs(t, err, ErrCorrupt)
}
