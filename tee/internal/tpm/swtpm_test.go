package tpm_test

import (
	"testing"

	"github.com/prsim/prsim/tee/internal/tpm"
	"github.com/prsim/prsim/tee/internal/tpm/tpmtest"
)

func TestSwtpmConformance(t *testing.T) {
	addr := tpmtest.StartSwtpm(t)
	tpmtest.Run(t, func(t *testing.T) *tpm.TPM {
		tp, err := tpm.DialSwtpm(addr)
		if err != nil {
			t.Fatal(err)
		}
		return tp
	})
}
