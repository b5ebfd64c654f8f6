package tpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// ErrNotSupported reports a power operation this TPM's platform cannot
// perform (a TPM device, an swtpm prsim did not start).
var ErrNotSupported = errors.New("tpm: power control is not supported on this TPM")

// Reboot performs an orderly TPM Reset, as a host reboot does:
// Shutdown(CLEAR), _TPM_Init, Startup(CLEAR). ResetCount goes up by one,
// RestartCount goes to 0, the Clock keeps running and an orderly reset does
// not clear Safe (measured on swtpm 0.7, docs/swtpm.md); transient objects are lost
// and the SRK is re-created, so key and sealed blobs and NV counters keep
// working. It works on the simulator and on an swtpm prsim launched; other
// TPMs give [ErrNotSupported]. For tests and demos.
func (tp *TPM) Reboot() error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	switch {
	case tp.o.Reset != nil:
		if tp.o.VolatileSeeds {
			if err := tp.persistSRK(); err != nil {
				return err
			}
		}
		if err := tp.o.Reset(); err != nil {
			return fmt.Errorf("tpm: reset failed: %w", err)
		}
		if tp.srk.Handle == srkPersistent {
			return nil
		}
		return tp.start()
	case tp.o.Init != nil:
		if _, err := (tpm2.Shutdown{ShutdownType: tpm2.TPMSUClear}).Execute(tp.t); err != nil {
			return fmt.Errorf("tpm: TPM2_Shutdown failed: %w", err)
		}
		return tp.powerOn()
	}
	return ErrNotSupported
}

// PowerCut cuts the TPM's power without a TPM2_Shutdown (_TPM_Init, then
// Startup(CLEAR)): a TPM Reset after a non-orderly shutdown. On swtpm 0.7
// ResetCount goes up by one and Safe becomes false until the Clock passes
// its old maximum (docs/swtpm.md). Only an swtpm prsim
// launched can do this; other TPMs give [ErrNotSupported] (the simulator
// always shuts down in order). For tests and demos.
func (tp *TPM) PowerCut() error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.o.Init == nil {
		return ErrNotSupported
	}
	return tp.powerOn()
}

// powerOn sends _TPM_Init and Startup(CLEAR), then re-creates the SRK.
func (tp *TPM) powerOn() error {
	if err := tp.o.Init(); err != nil {
		return fmt.Errorf("tpm: %w", err)
	}
	if _, err := (tpm2.Startup{StartupType: tpm2.TPMSUClear}).Execute(tp.t); err != nil {
		return fmt.Errorf("tpm: TPM2_Startup failed: %w", err)
	}
	return tp.start()
}

// persistSRK moves the SRK to a persistent handle, where it survives a
// reset that changes the simulator's seeds back to random ones.
func (tp *TPM) persistSRK() error {
	if tp.srk.Handle == srkPersistent {
		return nil
	}
	_, err := tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     tp.srk,
		PersistentHandle: srkPersistent,
	}.Execute(tp.t)
	if err != nil {
		return fmt.Errorf("tpm: failed to persist the storage root key: %w", err)
	}
	_, _ = tpm2.FlushContext{FlushHandle: tp.srk.Handle}.Execute(tp.t)
	tp.srk.Handle = srkPersistent
	return nil
}
