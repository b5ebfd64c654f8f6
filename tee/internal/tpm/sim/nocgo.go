//go:build !cgo

package sim

import (
	"errors"

	"github.com/prsim/prsim/tee/internal/tpm"
)

// Open fails: the simulator needs cgo.
func Open(seed int64) (*tpm.TPM, error) {
	return nil, errors.New("sim: the TPM simulator needs a cgo build (CGO_ENABLED=1, gcc, libssl-dev)")
}
