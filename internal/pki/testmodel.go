package pki

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
)

// NewModel makes an extra model issuer for security level sl, signed by
// the root like the PKI's own models but with fresh keys and IDs drawn
// from rand, and checks its chain at now. It is not added to p.Models nor
// saved: revoking it (its leaf's BASIC digest) revokes only the devices it
// issues, never those of the PKI's real models, which every other device
// and run shares. The conformance runner uses it to test model revocation
// and the allow list on a live PKI.
func (p *PKI) NewModel(sl uint32, rand io.Reader, now time.Time) (*Issuer, error) {
	if p.RootIssuer == nil || p.RootIssuer.Key == nil {
		return nil, fmt.Errorf("pki: no root key to sign a model with")
	}
	if !slices.Contains(modelLevels[:], sl) {
		return nil, fmt.Errorf("pki: no model for security level %d (want 150, 2000 or 3000)", sl)
	}
	g := &gen{rand: rand}
	m := g.model(sl, fmt.Sprintf("prsim-sl%d-extra", sl), p.RootIssuer)
	if g.err != nil {
		return nil, g.err
	}
	if err := m.Chain.Verify(bcert.VerifyOptions{Roots: []ecc.Point{p.Root}, CurrentTime: now}); err != nil {
		return nil, fmt.Errorf("pki: the new model does not verify: %w", err)
	}
	return m, nil
}
