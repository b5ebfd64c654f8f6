//go:build cgo

// Package sim opens the go-tpm-tools in-process TPM 2.0 simulator. It is
// its own package because the simulator needs cgo and OpenSSL's libcrypto.
package sim

import (
	"fmt"
	"sync"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/prsim/prsim/tee/internal/tpm"
)

// Open starts the simulator with hierarchy seeds derived from seed, so that
// the SRK, and so every key blob made under it, is the same in every process
// (go-tpm-tools GetWithFixedSeedInsecure; insecure by design — a test TPM).
// The simulator is one per process: a second Open blocks until the first
// TPM is closed.
func Open(seed int64) (*tpm.TPM, error) {
	s, err := simulator.GetWithFixedSeedInsecure(seed)
	if err != nil {
		return nil, fmt.Errorf("sim: failed to start TPM simulator: %w", err)
	}
	// The simulator buffers a response between Write and Read, so calls
	// must not interleave.
	t := &locked{t: transport.FromReadWriteCloser(s)}
	// Its NV lives in process memory; its Reset reboots in order but
	// forgets the fixed seeds (docs/formats/tpm.md §4).
	tp, err := tpm.Open(t, tpm.Options{Close: s.Close, Reset: s.Reset, VolatileSeeds: true})
	if err != nil {
		s.Close()
		return nil, err
	}
	return tp, nil
}

type locked struct {
	mu sync.Mutex
	t  transport.TPM
}

func (l *locked) Send(b []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.t.Send(b)
}
