package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/prsim/prsim/internal/swtpm"
)

// maxResponse bounds a TPM response read from the network.
const maxResponse = 1 << 16

// streamTPM speaks raw TPM 2.0 commands over a byte stream, such as swtpm's
// data port. It reads the 10-byte response header and then the rest, since
// one Read on a stream can be short (docs/formats/tpm.md §3).
type streamTPM struct {
	mu sync.Mutex
	c  net.Conn
}

// DialSwtpm connects to the data port at addr (HOST:PORT) of an swtpm the
// user started and manages (and has sent TPM2_Startup, as swtpm's
// startup-clear flag does); Close only disconnects. Its NV persists; prsim
// cannot power-cycle it.
func DialSwtpm(addr string) (*TPM, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("tpm: failed to reach swtpm: %w", err)
	}
	s := &streamTPM{c: c}
	tp, err := Open(s, Options{Close: c.Close, PersistentNV: true})
	if err != nil {
		c.Close()
		return nil, err
	}
	return tp, nil
}

// LaunchSwtpm starts swtpm on the state directory dir (see package
// internal/swtpm) and opens it. The directory behaves like a TPM that stays
// powered while the host is up (docs/swtpm.md):
//
//   - Close reads the Clock, sends TPM2_Shutdown(STATE) and stops swtpm,
//     then records the host's boot ID, CLOCK_BOOTTIME and the Clock in
//     dir/prsim-power.json.
//   - The next LaunchSwtpm resumes with TPM2_Startup(STATE) (RestartCount
//     goes up, ResetCount stays) and, on the same host boot, sets the Clock
//     forward by the boot time elapsed, so the Clock ran in between. After
//     a host reboot it performs a TPM Reset instead (ResetCount + 1, Clock
//     not advanced), as a power cycle of a real TPM does.
//   - After a process that never closed (kill -9), Startup(STATE) fails and
//     TPM2_Startup(CLEAR) follows: a TPM Reset after a non-orderly
//     shutdown (ResetCount + 1, Safe false, the Clock possibly back to the
//     last value swtpm saved).
//
// The seeds, NV counters and so key and sealed blobs survive every case.
func LaunchSwtpm(dir string) (*TPM, error) {
	// swtpm's errors say "swtpm: …" already.
	p, err := swtpm.Start(swtpm.Options{StateDir: dir, ManualStartup: true})
	if err != nil {
		return nil, err
	}
	c, err := p.Dial()
	if err != nil {
		_ = p.Stop()
		return nil, err
	}
	s := &streamTPM{c: c}
	fail := func(err error) (*TPM, error) {
		c.Close()
		_ = p.Stop()
		return nil, err
	}
	resumed, err := startup(s)
	if err != nil {
		return fail(err)
	}
	// The record describes the last orderly shutdown only: drop it now, so
	// a later crash cannot make it count twice.
	pw, _ := takePower(dir)
	tp, err := Open(s, Options{
		PersistentNV: true,
		Init:         p.Init,
		Close: func() error {
			c.Close()
			return p.Stop()
		},
		onClose: func(tp *TPM) error { return tp.suspend(dir) },
		crash: func() {
			c.Close()
			p.Terminate()
		},
	})
	if err != nil {
		return fail(err)
	}
	if resumed && pw != nil {
		if err := tp.resume(pw); err != nil {
			_ = tp.o.Close()
			return nil, err
		}
	}
	return tp, nil
}

// startup sends TPM2_Startup(STATE), and TPM2_Startup(CLEAR) when there is
// no state saved by an orderly TPM2_Shutdown(STATE) to resume.
func startup(s *streamTPM) (resumed bool, err error) {
	if _, err := (tpm2.Startup{StartupType: tpm2.TPMSUState}).Execute(s); err == nil {
		return true, nil
	}
	if _, err := (tpm2.Startup{StartupType: tpm2.TPMSUClear}).Execute(s); err != nil {
		return false, fmt.Errorf("tpm: TPM2_Startup failed: %w", err)
	}
	return false, nil
}

// resume makes up for the time swtpm was stopped: on the same host boot
// the Clock moves forward by the boot time elapsed since Close; after a
// host reboot the TPM gets a Reset.
func (tp *TPM) resume(pw *powerRecord) error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	id, now, err := HostBoot()
	if err != nil || id == "" {
		return nil // unknown host state: leave the Clock as swtpm kept it
	}
	if id != pw.BootID {
		if _, err := (tpm2.Shutdown{ShutdownType: tpm2.TPMSUClear}).Execute(tp.t); err != nil {
			return fmt.Errorf("tpm: TPM2_Shutdown failed: %w", err)
		}
		return tp.powerOn()
	}
	if now <= pw.BoottimeNS {
		return nil
	}
	target := pw.ClockMS + uint64((now-pw.BoottimeNS)/int64(time.Millisecond))
	ci, err := tp.clock()
	if err != nil {
		return err
	}
	if target <= ci.Clock {
		return nil
	}
	return tp.clockSet(target)
}

// suspend is Close's orderly shutdown: TPM2_Shutdown(STATE), then the
// power record for the next launch. Without a successful Shutdown no
// record is written, and the next launch sees a non-orderly shutdown.
func (tp *TPM) suspend(dir string) error {
	ci, cerr := tp.clock()
	if _, err := (tpm2.Shutdown{ShutdownType: tpm2.TPMSUState}).Execute(tp.t); err != nil {
		return fmt.Errorf("tpm: TPM2_Shutdown failed: %w", err)
	}
	id, now, err := HostBoot()
	if cerr != nil || err != nil {
		return nil // nothing to advance from; the resume still works
	}
	return putPower(dir, &powerRecord{BootID: id, BoottimeNS: now, ClockMS: ci.Clock})
}

func (s *streamTPM) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.c.Write(cmd); err != nil {
		return nil, fmt.Errorf("tpm: write: %w", err)
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(s.c, hdr); err != nil {
		return nil, fmt.Errorf("tpm: read: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[2:6])
	if n < 10 || n > maxResponse {
		return nil, errors.New("tpm: bad response size")
	}
	rsp := make([]byte, n)
	copy(rsp, hdr)
	if _, err := io.ReadFull(s.c, rsp[10:]); err != nil {
		return nil, fmt.Errorf("tpm: read: %w", err)
	}
	return rsp, nil
}
