package pki

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
)

func TestNewModel(t *testing.T) {
	p := generate(t, 7)
	now := time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)
	before := len(p.Models)
	m, err := p.NewModel(3000, seeded(8), now)
	require.NoError(t, err)
	require.Len(t, p.Models, before, "the extra model is not one of the PKI's")

	// Signed by the root, an issuer for devices at SL3000, with its own
	// key and digest (revoking it leaves the real models alone).
	require.NoError(t, m.Chain.Verify(bcert.VerifyOptions{Roots: []ecc.Point{p.Root}, CurrentTime: now}))
	leaf := m.Chain.Leaf()
	require.Equal(t, uint32(bcert.CertTypeIssuer), leaf.Basic().Type)
	require.Equal(t, uint32(3000), leaf.Basic().SecurityLevel)
	for sl, real := range p.Models {
		require.NotEqual(t, real.Chain.Leaf().Basic().Digest, leaf.Basic().Digest, "model %d", sl)
		require.False(t, real.Key.Equal(m.Key), "model %d", sl)
	}
	other, err := p.NewModel(3000, seeded(9), now)
	require.NoError(t, err)
	require.NotEqual(t, other.Chain.Leaf().Basic().Digest, leaf.Basic().Digest)

	_, err = p.NewModel(1000, seeded(8), now)
	require.Error(t, err)
	_, err = (&PKI{}).NewModel(3000, seeded(8), now)
	require.Error(t, err)
	_, err = p.NewModel(3000, bytes.NewReader(nil), now) // no randomness
	require.Error(t, err)
}
