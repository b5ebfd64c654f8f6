//go:build linux

package tpm_test

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/tee/internal/tpm"
)

// holderEnv makes the test binary a child that launches swtpm on the named
// directory, says "ready" and waits to be killed: prsim killed with -9.
const holderEnv = "PRSIM_TPM_HOLDER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" { //nolint:forbidigo // test-only child switch
		if _, err := tpm.LaunchSwtpm(dir); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		select {}
	}
	os.Exit(m.Run())
}

// device is what a device keeps on a launched swtpm: a key blob, a sealed
// root and an NV counter, checked after every power event.
type device struct {
	dir    string
	pub    ecc.Point
	key    []byte
	sealed []byte
	idx    uint32
	gen    uint64
}

func (d *device) check(t *testing.T, tp *tpm.TPM) {
	t.Helper()
	dg := sha256.Sum256([]byte("power"))
	sig, err := tp.Sign(d.key, dg[:])
	require.NoError(t, err)
	require.True(t, ecc.Verify(d.pub, dg[:], sig[:]))
	root, err := tp.Unseal(d.sealed)
	require.NoError(t, err)
	require.Equal(t, []byte("storage root"), root)
	n, err := tp.ReadCounter(d.idx)
	require.NoError(t, err)
	require.Equal(t, d.gen, n)
	// Each phase moves the generation on, as a store commit does.
	d.gen, err = tp.IncrementCounter(d.idx)
	require.NoError(t, err)
	require.Equal(t, n+1, d.gen)
}

func launch(t *testing.T, dir string) (*tpm.TPM, tpm.ClockInfo) {
	t.Helper()
	tp, err := tpm.LaunchSwtpm(dir)
	require.NoError(t, err)
	require.True(t, tp.PersistentNV())
	ci, err := tp.Clock()
	require.NoError(t, err)
	return tp, ci
}

func newDevice(t *testing.T) (*device, *tpm.TPM, tpm.ClockInfo) {
	swtpmtest.Need(t)
	d := &device{dir: t.TempDir()}
	tp, ci := launch(t, d.dir)
	var err error
	d.pub, d.key, err = tp.Generate(tpm.SignKey)
	require.NoError(t, err)
	d.sealed, err = tp.Seal([]byte("storage root"))
	require.NoError(t, err)
	d.idx, d.gen, err = tp.DefineCounter(rand.Reader)
	require.NoError(t, err)
	return d, tp, ci
}

func editPower(t *testing.T, dir string, edit func(m map[string]any)) {
	t.Helper()
	name := filepath.Join(dir, "prsim-power.json")
	fi, err := os.Stat(name)
	require.NoError(t, err, "Close records the power state")
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Contains(t, m, "boot_id")
	require.Contains(t, m, "boottime_ns")
	require.Contains(t, m, "clock_ms")
	edit(m)
	b, err = json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(name, b, 0o600))
}

const hourMS = uint64(time.Hour / time.Millisecond)

// An orderly close and relaunch is a Resume: ResetCount kept, RestartCount
// + 1, Safe, and the Clock ran while swtpm was stopped (an hour of host
// boot time is simulated by moving the recorded boot time back).
func TestLaunchSwtpmResume(t *testing.T) {
	d, tp, c0 := newDevice(t)
	require.NoError(t, tp.Close())

	tp, c1 := launch(t, d.dir)
	t.Logf("orderly close → reopen: %+v → %+v", c0, c1)
	require.Equal(t, c0.ResetCount, c1.ResetCount)
	require.Equal(t, c0.RestartCount+1, c1.RestartCount)
	require.True(t, c1.Safe)
	require.GreaterOrEqual(t, c1.Clock, c0.Clock)
	require.Less(t, c1.Clock, c0.Clock+hourMS, "no time invented")
	d.check(t, tp)
	require.NoError(t, tp.Close())

	editPower(t, d.dir, func(m map[string]any) {
		m["boottime_ns"] = m["boottime_ns"].(float64) - float64(time.Hour)
	})
	tp, c2 := launch(t, d.dir)
	t.Logf("after an hour of host uptime: %+v", c2)
	require.GreaterOrEqual(t, c2.Clock, c1.Clock+hourMS, "the Clock ran while swtpm was stopped")
	require.Less(t, c2.Clock, c1.Clock+2*hourMS)
	require.Equal(t, c0.ResetCount, c2.ResetCount)
	require.True(t, c2.Safe)
	d.check(t, tp)
	require.NoError(t, tp.Close())
}

// A host reboot between close and relaunch (another boot ID) is a TPM
// Reset without the Clock advance.
func TestLaunchSwtpmHostReboot(t *testing.T) {
	d, tp, c0 := newDevice(t)
	require.NoError(t, tp.Close())
	editPower(t, d.dir, func(m map[string]any) {
		m["boot_id"] = "00000000-0000-0000-0000-000000000000"
		m["boottime_ns"] = m["boottime_ns"].(float64) - float64(time.Hour)
	})
	tp, c1 := launch(t, d.dir)
	t.Logf("host reboot: %+v → %+v", c0, c1)
	require.Equal(t, c0.ResetCount+1, c1.ResetCount)
	require.Zero(t, c1.RestartCount)
	require.True(t, c1.Safe)
	require.Less(t, c1.Clock, c0.Clock+hourMS, "no advance across a host reboot")
	d.check(t, tp)
	require.NoError(t, tp.Close())
}

// prsim killed with -9 (its swtpm gets SIGTERM, no TPM2_Shutdown): the next
// launch is a TPM Reset after a non-orderly shutdown.
func TestLaunchSwtpmKilled(t *testing.T) {
	d, tp, c0 := newDevice(t)
	require.NoError(t, tp.Close())

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), holderEnv+"="+d.dir)
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()

	tp, c1 := launch(t, d.dir)
	t.Logf("kill -9 → reopen: %+v → %+v", c0, c1)
	require.Equal(t, c0.ResetCount+1, c1.ResetCount)
	require.Zero(t, c1.RestartCount)
	require.False(t, c1.Safe)
	d.check(t, tp)

	// The same through the in-process hook, after a Clock set forward.
	require.NoError(t, tp.AdvanceClock(time.Hour))
	c2, err := tp.Clock()
	require.NoError(t, err)
	tpm.Crash(tp)
	tp, c3 := launch(t, d.dir)
	t.Logf("advance 1h, SIGTERM → reopen: %+v → %+v", c2, c3)
	require.Equal(t, c1.ResetCount+1, c3.ResetCount)
	require.False(t, c3.Safe)
	// swtpm saves the Clock to NV only every few minutes of Clock
	// (docs/formats/tpm.md §5): the hour set forward is lost.
	require.Less(t, c3.Clock, c2.Clock, "the Clock went back to the value saved")
	d.check(t, tp)
	require.NoError(t, tp.Close())
}

// Reboot is an orderly TPM Reset, PowerCut a non-orderly one.
func TestLaunchSwtpmRebootPowerCut(t *testing.T) {
	d, tp, c0 := newDevice(t)
	require.NoError(t, tp.Reboot())
	c1, err := tp.Clock()
	require.NoError(t, err)
	t.Logf("Reboot: %+v → %+v", c0, c1)
	require.Equal(t, c0.ResetCount+1, c1.ResetCount)
	require.True(t, c1.Safe)
	d.check(t, tp)

	require.NoError(t, tp.PowerCut())
	c2, err := tp.Clock()
	require.NoError(t, err)
	t.Logf("PowerCut: %+v → %+v", c1, c2)
	require.Equal(t, c1.ResetCount+1, c2.ResetCount)
	require.False(t, c2.Safe)
	d.check(t, tp)
	require.NoError(t, tp.Close())

	// Power events do not break the orderly close and resume.
	tp, c3 := launch(t, d.dir)
	t.Logf("close → reopen after PowerCut: %+v", c3)
	require.Equal(t, c2.ResetCount, c3.ResetCount)
	require.Equal(t, c2.RestartCount+1, c3.RestartCount)
	require.False(t, c3.Safe, "Safe stays NO until the Clock passes the value it had")
	d.check(t, tp)
	require.NoError(t, tp.Close())
}

// A dialled swtpm is not ours to power-cycle.
func TestDialSwtpmNoPowerControl(t *testing.T) {
	addr := swtpmtest.Start(t)
	tp, err := tpm.DialSwtpm(addr)
	require.NoError(t, err)
	require.True(t, tp.PersistentNV())
	require.ErrorIs(t, tp.Reboot(), tpm.ErrNotSupported)
	require.ErrorIs(t, tp.PowerCut(), tpm.ErrNotSupported)
	require.NoError(t, tp.Close())
}
