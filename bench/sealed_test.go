package bench

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/store"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/pro"
)

// What the sealed TEE state costs (docs/protocol.md §9): every
// tee.Device.NewNonce, every bind that consumes a nonce or records a
// persistent time-based license, and every play start of a time-based
// license on an anti-rollback clock (its last-known-good time moves, and
// an expire-after-first-play license records its first play) commits the
// state: seal (AES-256-GCM), write to the storage and, on a
// backend with persistent NV (swtpm), increment the TPM generation
// counter. The same work runs against tee.MemoryStorage and against the
// device's bbolt store (store.Open: one fsync'd transaction per commit),
// so the ratio is the store's price.

// timedCfg asks for a persistent license with an end date far ahead: a
// time-based license that stays usable for the whole run.
const timedCfg = "?cfg=(persist:true,enddate:20991231000000)"

// sealedVariant is a device set-up: its key backend and where its sealed
// state goes.
type sealedVariant struct {
	name    string
	backend string // "soft", "tpm" (the shared simulator) or "swtpm" (one per variant, on a temporary state directory)
	store   bool   // bbolt store; false = tee.MemoryStorage
}

// acquireVariants extends the Acquire benchmark's soft and tpm (both on
// tee.MemoryStorage) with the bbolt store and with swtpm, whose NV counter
// is incremented by every commit.
var acquireVariants = []sealedVariant{
	{"soft", "soft", false},
	{"tpm", "tpm", false},
	{"soft-store", "soft", true},
	{"swtpm", "swtpm", false},
	{"swtpm-store", "swtpm", true},
}

// commitVariants are the set-ups of the Commit benchmark.
var commitVariants = []sealedVariant{
	{"memory", "soft", false},
	{"store", "soft", true},
	{"swtpm", "swtpm", false},
	{"swtpm-store", "swtpm", true},
}

// sealedBackend returns the variant's key backend: swtpm is started on a
// temporary state directory and stopped at cleanup (skipped when swtpm is
// not installed; failed under PRSIM_REQUIRE_TOOLS).
func sealedBackend(tb testing.TB, v sealedVariant) *tee.Backend {
	tb.Helper()
	if v.backend != "swtpm" {
		return backend(tb, v.backend)
	}
	swtpmtest.Need(tb)
	uri, err := tee.ResolveBackend("swtpm:"+filepath.Join(tb.TempDir(), "tpm"), nil)
	require.NoError(tb, err)
	b, err := tee.OpenBackend(uri)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, b.Close()) })
	return b
}

// sealedStorage returns the variant's storage. The store is closed at
// cleanup, after the device (cleanups run last-registered first).
func sealedStorage(tb testing.TB, v sealedVariant) (tee.Storage, *store.Store) {
	tb.Helper()
	if !v.store {
		return tee.MemoryStorage(), nil
	}
	st, err := store.Open(filepath.Join(tb.TempDir(), "store.db"))
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, st.Close()) })
	return st, st
}

// provisionSealed provisions an SL3000 device for v; clocked gives its
// leaf an anti-rollback clock (the fixture's leaves have none), so that
// it binds time-based licenses.
func provisionSealed(tb testing.TB, v sealedVariant, clocked bool) (*tee.Device, *store.Store) {
	tb.Helper()
	b := sealedBackend(tb, v)
	storage, st := sealedStorage(tb, v)
	req := provisionRequest(tb)
	req.Storage = storage
	if clocked {
		req.Features = ree.LeafFeatures("", clock.KindAntiRollback)
		req.Wall = steppingWall()
	}
	d, err := tee.Provision(b, req)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, d.Close()) })
	return d, st
}

// steppingWall is a wall clock one second further on at every read, as
// play starts seconds apart see it: each play start then moves the
// anti-rollback clock's last-known-good time, which the TEE commits. With
// the system clock two reads within one millisecond of the TPM Clock can
// leave the state unchanged, and that play start commits nothing.
func steppingWall() clock.Clock {
	var reads atomic.Int64
	start := time.Now()
	return clock.Func(func() time.Time { return start.Add(time.Duration(reads.Add(1)) * time.Second) })
}

// playStartVariant is a play start: Key.Enable of a bound persistent
// license, on a device with an anti-rollback clock.
type playStartVariant struct {
	sealedVariant
	cfg string
}

var playStartVariants = []playStartVariant{
	// No time policy: Enable runs the output decision and commits nothing.
	{sealedVariant{"plain", "soft", true}, persistCfg},
	// An end date: Enable reads the trusted clock, checks the dates,
	// moves the clock's last-known-good time, and commits.
	{sealedVariant{"timed", "soft", false}, timedCfg},
	{sealedVariant{"timed-store", "soft", true}, timedCfg},
	{sealedVariant{"timed-swtpm-store", "swtpm", true}, timedCfg},
}

// newPlayStart binds the variant's license on a fresh clocked device and
// returns its key, ready for Enable.
func newPlayStart(tb testing.TB, v playStartVariant) (*tee.Device, *tee.Key) {
	tb.Helper()
	d, _ := provisionSealed(tb, v.sealedVariant, true)
	c := newClient(tb, d)
	require.NoError(tb, acquire(context.Background(), c, header(tb, ctrKID, pro.AlgAESCTR), laURL+v.cfg))
	k, err := c.Key(ctrKID)
	require.NoError(tb, err)
	return d, k
}

func enable(k *tee.Key) error {
	_, err := k.Enable(policy.Video, policy.StrategyBlock)
	return err
}

// --- Benchmarks.

func BenchmarkAcquire(b *testing.B) {
	for _, v := range acquireVariants {
		b.Run(v.name, func(b *testing.B) {
			d, _ := provisionSealed(b, v, false)
			c := newClient(b, d)
			h := header(b, ctrKID, pro.AlgAESCTR)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := acquire(ctx, c, h, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCommit is one commit of the sealed state alone: NewNonce adds
// a nonce to the FIFO (at its bound of 100 after the first iterations, so
// the state's size is steady) and commits.
func BenchmarkCommit(b *testing.B) {
	for _, v := range commitVariants {
		b.Run(v.name, func(b *testing.B) {
			d, _ := provisionSealed(b, v, false)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.NewNonce(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPlayStart(b *testing.B) {
	for _, v := range playStartVariants {
		b.Run(v.name, func(b *testing.B) {
			_, k := newPlayStart(b, v)
			b.ReportAllocs()
			for b.Loop() {
				if err := enable(k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// --- Tests: each benchmark body once, checking that it commits what the
// benchmark claims to measure.

// An in-process acquisition of a non-persistent license commits twice: the
// challenge's nonce, and its consumption by the bind.
func TestAcquireCommits(t *testing.T) {
	for _, v := range acquireVariants {
		t.Run(v.name, func(t *testing.T) {
			d, st := provisionSealed(t, v, false)
			require.Equal(t, v.backend == "swtpm", d.RollbackProtected(), "the NV counter lives in swtpm only")
			c := newClient(t, d)
			g := d.Generation()
			require.NoError(t, acquire(context.Background(), c, header(t, ctrKID, pro.AlgAESCTR), ""))
			k, err := c.Key(ctrKID)
			require.NoError(t, err)
			require.False(t, k.Persistent())
			require.Equal(t, g+2, d.Generation(), "commits per acquisition")
			if st != nil {
				blob, err := st.ReadSealed()
				require.NoError(t, err)
				require.NotEmpty(t, blob, "the sealed state is in the bbolt store")
			}
		})
	}
}

func TestCommit(t *testing.T) {
	for _, v := range commitVariants {
		t.Run(v.name, func(t *testing.T) {
			d, st := provisionSealed(t, v, false)
			g := d.Generation()
			var before []byte
			if st != nil {
				var err error
				before, err = st.ReadSealed()
				require.NoError(t, err)
			}
			_, err := d.NewNonce()
			require.NoError(t, err)
			require.Equal(t, g+1, d.Generation())
			if st != nil {
				after, err := st.ReadSealed()
				require.NoError(t, err)
				require.NotEqual(t, before, after, "NewNonce rewrote the sealed state in the store")
			}
		})
	}
}

// A play start of the plain license commits nothing; one of the timed
// license (it has an end date) commits once, every time.
func TestPlayStart(t *testing.T) {
	for _, v := range playStartVariants {
		t.Run(v.name, func(t *testing.T) {
			d, k := newPlayStart(t, v)
			timed := v.cfg == timedCfg
			require.Equal(t, timed, k.License().Policy().Expiration != nil, "end date")
			for range 3 {
				g := d.Generation()
				require.NoError(t, enable(k))
				want := g
				if timed {
					want++
				}
				require.Equal(t, want, d.Generation(), "commits per play start")
			}
		})
	}
}
