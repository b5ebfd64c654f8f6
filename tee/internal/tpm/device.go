package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// OpenDevice opens a kernel TPM character device such as /dev/tpmrm0 (the
// resource manager flushes our handles if we crash). Its NV persists;
// prsim cannot power-cycle it.
func OpenDevice(path string) (*TPM, error) {
	t, err := linuxtpm.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tpm: failed to open %s: %w", path, err)
	}
	tp, err := Open(t, Options{Close: t.Close, PersistentNV: true})
	if err != nil {
		t.Close()
		return nil, err
	}
	return tp, nil
}
