package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// ErrClockBackward reports a TPM2_ClockSet to a time before the TPM's
// Clock: the TPM only moves Clock forward (TPM_RC_VALUE).
var ErrClockBackward = errors.New("tpm: the TPM Clock only moves forward")

// ClockInfo is TPMS_CLOCK_INFO (docs/formats/tpm.md §5).
type ClockInfo struct {
	// Clock is milliseconds of powered-on time since TPM2_Clear; it is
	// kept in NV and only moves forward, except after a non-orderly power
	// loss, which can take it back to the last value saved.
	Clock uint64
	// ResetCount counts TPM Resets (Startup(CLEAR) not preceded by
	// Shutdown(STATE)), RestartCount the Restart/Resume cycles since.
	ResetCount, RestartCount uint32
	// Safe is false when a larger Clock value may have been reported
	// before (after a non-orderly power loss).
	Safe bool
}

// Clock reads the TPM's clock (TPM2_ReadClock).
func (tp *TPM) Clock() (ClockInfo, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.clock()
}

func (tp *TPM) clock() (ClockInfo, error) {
	rsp, err := tpm2.ReadClock{}.Execute(tp.t)
	if err != nil {
		return ClockInfo{}, fmt.Errorf("tpm: ReadClock failed: %w", err)
	}
	ci := rsp.CurrentTime.ClockInfo
	return ClockInfo{Clock: ci.Clock, ResetCount: ci.ResetCount, RestartCount: ci.RestartCount, Safe: ci.Safe}, nil
}

// ClockSet sets the TPM Clock to ms (TPM2_ClockSet, owner authorization
// with the empty password). A value before the current Clock fails with
// [ErrClockBackward].
func (tp *TPM) ClockSet(ms uint64) error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.clockSet(ms)
}

// AdvanceClock moves the TPM Clock forward by d, as if the TPM had been
// powered for d more; for tests and demos of time-bound licenses. d < 0
// fails with [ErrClockBackward].
func (tp *TPM) AdvanceClock(d time.Duration) error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if d < 0 {
		return ErrClockBackward
	}
	ci, err := tp.clock()
	if err != nil {
		return err
	}
	return tp.clockSet(ci.Clock + uint64(d.Milliseconds()))
}

// clockSet sends TPM2_ClockSet, which go-tpm's tpm2 package lacks
// (docs/formats/tpm.md §2), marshalled by hand: header, the owner handle,
// a password session with the empty password, and newTime.
func (tp *TPM) clockSet(ms uint64) error {
	cmd := make([]byte, 0, 35)
	cmd = binary.BigEndian.AppendUint16(cmd, uint16(tpm2.TPMSTSessions))
	cmd = binary.BigEndian.AppendUint32(cmd, 35)
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMCCClockSet))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRHOwner))
	cmd = binary.BigEndian.AppendUint32(cmd, 9) // authorizationSize
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRSPW))
	cmd = append(cmd, 0, 0, 0, 0, 0) // nonce size 0, attributes 0, hmac size 0
	cmd = binary.BigEndian.AppendUint64(cmd, ms)
	rsp, err := tp.t.Send(cmd)
	if err != nil {
		return fmt.Errorf("tpm: ClockSet failed: %w", err)
	}
	if len(rsp) < 10 {
		return errors.New("tpm: ClockSet failed: short response")
	}
	switch rc := tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])); {
	case rc == tpm2.TPMRCSuccess:
		return nil
	case errors.Is(rc, tpm2.TPMRCValue):
		return fmt.Errorf("%w (TPM_RC_VALUE)", ErrClockBackward)
	default:
		return fmt.Errorf("tpm: ClockSet failed: %w", rc)
	}
}
