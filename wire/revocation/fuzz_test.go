package revocation

import (
	"bytes"
	"testing"
	"time"

	"github.com/prsim/prsim/internal/ecc"
)

// The fuzz targets check that parsing never panics, that everything parsed
// re-encodes byte for byte, and that Verify fails closed on garbage.

func FuzzParseRevInfo(f *testing.F) {
	f.Add([]byte("RLV2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRevInfo(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Bytes(), b) {
			t.Fatal("RevInfo does not round-trip")
		}
		if _, err := r.Verify([]ecc.Point{{}}, time.Unix(0, 0)); err == nil {
			t.Fatal("RevInfo verified against a zero root")
		}
	})
}

func FuzzParseCRL(f *testing.F) {
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCRL(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Bytes(), b) {
			t.Fatal("CRL does not round-trip")
		}
		if _, err := c.Verify([]ecc.Point{{}}, time.Unix(0, 0)); err == nil {
			t.Fatal("CRL verified against a zero root")
		}
	})
}

func FuzzParseWMDRMNET(f *testing.F) {
	f.Add(make([]byte, 15))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ParseWMDRMNET(b)
		if err != nil {
			return
		}
		if !bytes.Equal(w.Bytes(), b) {
			t.Fatal("WMDRMNET does not round-trip")
		}
	})
}
