package tpm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// powerFile, in an swtpm state directory, records the last orderly
// shutdown (docs/swtpm.md).
const powerFile = "prsim-power.json"

// maxPowerFile bounds what is read back: the record is under 200 bytes.
const maxPowerFile = 4096

type powerRecord struct {
	BootID     string `json:"boot_id"`
	BoottimeNS int64  `json:"boottime_ns"`
	ClockMS    uint64 `json:"clock_ms"`
}

// takePower reads and removes the power record; no record (or a damaged
// one) gives nil: the Clock is then not advanced, which is the safe side.
func takePower(dir string) (*powerRecord, error) {
	name := filepath.Join(dir, powerFile)
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPowerFile+1))
	f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	var pw powerRecord
	if len(b) > maxPowerFile || json.Unmarshal(b, &pw) != nil || pw.BootID == "" {
		return nil, errors.New("tpm: damaged power record")
	}
	return &pw, nil
}

// putPower writes the record atomically (temporary file, fsync, rename),
// mode 0600.
func putPower(dir string, pw *powerRecord) error {
	b, err := json.Marshal(pw)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".prsim-power-*")
	if err != nil {
		return fmt.Errorf("tpm: failed to write power record: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, powerFile))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tpm: failed to write power record: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
