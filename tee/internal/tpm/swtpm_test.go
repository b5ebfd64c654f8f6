package tpm_test

import (
	"testing"

	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/tee/internal/tpm"
	"github.com/prsim/prsim/tee/internal/tpm/tpmtest"
)

func TestSwtpmConformance(t *testing.T) {
	addr := swtpmtest.Start(t)
	tpmtest.Run(t, func(t *testing.T) *tpm.TPM {
		tp, err := tpm.DialSwtpm(addr)
		if err != nil {
			t.Fatal(err)
		}
		return tp
	})
}
