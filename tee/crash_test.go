package tee_test

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/store"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/soap"
)

// crashStorage stands for a process that dies inside a commit: with
// afterWrite it writes the blob and then fails (the counter never moves),
// with beforeWrite it fails without writing.
type crashStorage struct {
	tee.Storage
	afterWrite, beforeWrite bool
}

var errCrash = errors.New("simulated crash")

func (c *crashStorage) WriteSealed(b []byte) error {
	if c.beforeWrite {
		return errCrash
	}
	if err := c.Storage.WriteSealed(b); err != nil {
		return err
	}
	if c.afterWrite {
		return errCrash
	}
	return nil
}

// A commit interrupted between the store write and the counter increment
// opens as recovered (the counter is moved on), not as a rollback; one
// interrupted before the write leaves the previous state; a state older
// than the counter is a rollback.
func TestInterruptedCommit(t *testing.T) {
	swtpmtest.Need(t)
	b, err := tee.OpenBackend("swtpm:" + filepath.Join(t.TempDir(), "tpm"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	inner := tee.MemoryStorage()
	cs := &crashStorage{Storage: inner}
	req, err := getFixture().ProvisionRequest(3000, "4.5")
	require.NoError(t, err)
	req.Storage = cs
	d, err := tee.Provision(b, req)
	require.NoError(t, err)
	require.True(t, d.RollbackProtected())
	_, err = d.NewNonce()
	require.NoError(t, err)
	older, err := inner.ReadSealed()
	require.NoError(t, err)
	_, err = d.NewNonce()
	require.NoError(t, err)
	gen := d.Generation()

	cs.beforeWrite = true
	_, err = d.NewNonce()
	require.ErrorIs(t, err, errCrash)
	d2, err := tee.OpenWith(b, d.State(), tee.Options{Storage: inner})
	require.NoError(t, err)
	require.False(t, d2.Recovered())
	require.Equal(t, gen, d2.Generation())

	cs.beforeWrite, cs.afterWrite = false, true
	_, err = d.NewNonce()
	require.ErrorIs(t, err, errCrash)
	d3, err := tee.OpenWith(b, d.State(), tee.Options{Storage: inner})
	require.NoError(t, err, "an interrupted commit is not a rollback")
	require.True(t, d3.Recovered())
	require.Equal(t, gen+1, d3.Generation())
	d4, err := tee.OpenWith(b, d.State(), tee.Options{Storage: inner})
	require.NoError(t, err)
	require.False(t, d4.Recovered(), "the recovery moved the counter once")
	require.Equal(t, gen+1, d4.Generation())

	require.NoError(t, inner.WriteSealed(older))
	_, err = tee.OpenWith(b, d.State(), tee.Options{Storage: inner})
	require.ErrorIs(t, err, tee.ErrRollback)
	var re *tee.RollbackError
	require.ErrorAs(t, err, &re)
	require.Less(t, re.Stored, re.Counter)
}

const crashChildEnv = "PRSIM_TEE_CRASH_CHILD"

// The child half of TestKill9NonceCommits: it opens the device in DIR
// (swtpm:DIR/tpm, DIR/store.db, DIR/state.json) and draws nonces as fast
// as it can, printing each after NewNonce returns.
func TestNonceCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv) //nolint:forbidigo // test re-exec switch
	if dir == "" {
		t.Skip("child process only")
	}
	// The backend and store are never closed: the parent kills this
	// process.
	_, _, d, err := openCrashDevice(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for {
		n, err := d.NewNonce()
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(hex.EncodeToString(n[:]))
	}
}

func openCrashDevice(dir string) (*tee.Backend, *store.Store, *tee.Device, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, nil, nil, err
	}
	var st tee.State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, nil, nil, err
	}
	b, err := tee.OpenBackend(st.Backend)
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := store.Open(filepath.Join(dir, "store.db"))
	if err != nil {
		b.Close()
		return nil, nil, nil, err
	}
	d, err := tee.OpenWith(b, st, tee.Options{Storage: s})
	if err != nil {
		s.Close()
		b.Close()
		return nil, nil, nil, err
	}
	return b, s, d, nil
}

// kill -9 at random moments of a process committing nonces: the device
// always reopens (never a false rollback), the store validates, and the
// last nonce the child printed is still outstanding (SignChallenge refuses
// unknown nonces).
func TestKill9NonceCommits(t *testing.T) {
	swtpmtest.Need(t)
	trials, budget := 200, 150*time.Second
	if testing.Short() {
		trials = 20
	}
	dir := t.TempDir()
	uri, err := tee.ResolveBackend("swtpm:"+filepath.Join(dir, "tpm"), nil)
	require.NoError(t, err)
	b, err := tee.OpenBackend(uri)
	require.NoError(t, err)
	s, err := store.Open(filepath.Join(dir, "store.db"))
	require.NoError(t, err)
	req, err := getFixture().ProvisionRequest(3000, "4.5")
	require.NoError(t, err)
	req.Storage = s
	d, err := tee.Provision(b, req)
	require.NoError(t, err)
	require.True(t, d.RollbackProtected())
	st, err := json.Marshal(d.State())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), st, 0o600))
	require.NoError(t, s.Close())
	require.NoError(t, b.Close())

	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	start := time.Now()
	done, recovered, printed := 0, 0, 0
	for ; done < trials; done++ {
		if time.Since(start) > budget {
			t.Logf("time budget %s spent after %d trials: skipping the other %d", budget, done, trials-done)
			break
		}
		last, rec := crashTrial(t, dir, rnd)
		if last != "" {
			printed++
		}
		if rec {
			recovered++
		}
	}
	elapsed := time.Since(start)
	t.Logf("kill -9 trials: %d in %s (%.2f s/trial); %d with a nonce printed; %d reopened a commit interrupted between store write and counter increment",
		done, elapsed.Round(time.Millisecond), elapsed.Seconds()/float64(max(done, 1)), printed, recovered)
	if os.Getenv("PRSIM_REQUIRE_TOOLS") != "" { //nolint:forbidigo // CI switch, as swtpmtest
		require.GreaterOrEqual(t, done, trials)
	}
	require.Greater(t, printed, done/2, "most trials should kill the child while it commits nonces")
}

// crashTrial runs the child, kills it with SIGKILL at a random moment
// (mostly while it commits nonces, sometimes while it opens) and checks
// the reopened device. It returns the last nonce printed and whether the
// reopen finished an interrupted commit.
func crashTrial(t *testing.T, dir string, rnd *mrand.Rand) (string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNonceCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var last string
	read := func(l string) {
		require.False(t, strings.HasPrefix(l, "error:"), "child failed: %s", l)
		if len(l) == 32 {
			last = l
		}
	}
	if rnd.IntN(8) == 0 {
		// Kill during startup or the first commits.
		time.Sleep(time.Duration(rnd.IntN(150)) * time.Millisecond)
	} else {
		first, ok := <-lines
		require.True(t, ok, "the child exited before printing a nonce")
		read(first)
		time.Sleep(time.Duration(rnd.IntN(40)) * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	for l := range lines {
		read(l)
	}
	_ = cmd.Wait()

	b, s, d, err := openCrashDevice(dir)
	require.NoError(t, err, "reopen after kill -9 (last printed nonce %q)", last)
	defer func() {
		require.NoError(t, s.Close())
		require.NoError(t, b.Close())
	}()
	if last != "" {
		var n [16]byte
		_, err := hex.Decode(n[:], []byte(last))
		require.NoError(t, err)
		_, err = d.SignChallenge(&soap.Challenge{Version: 1, ContentHeader: headerXML(t), Nonce: n}, serverKey(t), rand.Reader)
		require.NoError(t, err, "the last nonce printed before kill -9 is outstanding")
	}
	return last, d.Recovered()
}
