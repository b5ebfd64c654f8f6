package tee_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/revocation"
	"github.com/prsim/prsim/wire/xmr"
)

// revInfo signs a RevInfo v2 of RIV riv with signer (the PKI's CRL
// signer unless the test wants another key).
func revInfo(t *testing.T, riv uint32, signer *pki.Issuer) []byte {
	t.Helper()
	r := &revocation.RevInfo{RIV: riv, Issued: time.Now().UTC().Truncate(time.Second),
		Lists: []revocation.ListVersion{{ID: revocation.ListRuntime, Version: uint64(riv)}}}
	b, err := r.Sign(signer.Signer(), signer.Chain.Bytes())
	require.NoError(t, err)
	return b
}

// runtimeCRL signs a runtime CRL of version v revoking digests.
func runtimeCRL(t *testing.T, v uint32, digests ...[32]byte) []byte {
	t.Helper()
	s := getFixture().PKI.CRLSigner
	c := &revocation.CRL{ID: revocation.ListRuntime, Version: v, Entries: digests}
	b, err := c.Sign(s.Signer(), s.Chain.Bytes())
	require.NoError(t, err)
	return b
}

// The TEE keeps only lists that verify to its root as a CRL signer's, and
// only ever moves forward; refused lists leave the held one in place.
func TestIngestRevocationMovesForwardOnly(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	d, storage := provisionWith(t, b, 3000, "4.5")
	fx := getFixture()
	riv, _ := d.RevocationStatus()
	require.Zero(t, riv)

	kept, err := d.IngestRevocation(revocation.ListRevInfo2, revInfo(t, 3, fx.PKI.CRLSigner))
	require.NoError(t, err)
	require.True(t, kept)

	tampered := revInfo(t, 9, fx.PKI.CRLSigner)
	tampered[len(tampered)-1] ^= 1
	// A RevInfo whose embedded chain is the license server's (not a
	// CRL signer): the builder refuses to make one, so swap the chain.
	r, err := revocation.ParseRevInfo(revInfo(t, 9, fx.PKI.CRLSigner))
	require.NoError(t, err)
	r.Chain = fx.PKI.Server.Chain.Bytes()
	notCRLSigner := r.Bytes()
	foreign, err := pki.Generate(rand.Reader, time.Now())
	require.NoError(t, err)
	for name, c := range map[string]struct {
		blob []byte
		code drm.Code
	}{
		"older":                  {revInfo(t, 2, fx.PKI.CRLSigner), drm.ErrOutdatedRevocationList},
		"same version":           {revInfo(t, 3, fx.PKI.CRLSigner), drm.ErrOutdatedRevocationList},
		"broken signature":       {tampered, drm.ErrInvalidRevocationList},
		"signed by a non-signer": {notCRLSigner, drm.ErrInvalidRevocationList},
		"another PKI's signer":   {revInfo(t, 9, foreign.CRLSigner), drm.ErrInvalidRevocationList},
		"garbage":                {[]byte("RLV2"), drm.ErrInvalidRevocationList},
	} {
		kept, err := d.IngestRevocation(revocation.ListRevInfo2, c.blob)
		require.False(t, kept, name)
		require.ErrorIs(t, err, tee.ErrRevocationListRefused, name)
		require.ErrorIs(t, err, c.code, name)
		riv, _ := d.RevocationStatus()
		require.Equal(t, uint32(3), riv, "%s: the held list stays", name)
	}

	// Held across processes, in the sealed state.
	d2, err := tee.OpenWith(b, d.State(), tee.Options{Storage: storage})
	require.NoError(t, err)
	riv, lists := d2.RevocationStatus()
	require.Equal(t, uint32(3), riv)
	require.Len(t, lists, 4)
}

// A license needing a higher RIV than the device holds is refused with
// DRM_E_RIV_TOO_SMALL, and binds once newer lists arrive.
func TestRIVTooSmall(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	d, _ := provisionWith(t, b, 3000, "4.5")
	lic := license(t, d, licOpts{persistent: true, tweak: func(tm *xmr.Template) { tm.RIV = 4 }})
	_, err = d.Bind(lic)
	require.ErrorIs(t, err, drm.ErrRIVTooSmall)
	require.ErrorIs(t, d.Usable(lic), drm.ErrRIVTooSmall, "Usable answers as Bind does")
	_, err = d.IngestRevocation(revocation.ListRevInfo2, revInfo(t, 4, getFixture().PKI.CRLSigner))
	require.NoError(t, err)
	require.NoError(t, d.Usable(lic))
	k, err := d.Bind(lic)
	require.NoError(t, err)
	require.NoError(t, k.Close())
}

// A cast target whose receiver certificate is on the runtime CRL is
// blocked while the internal panel keeps playing; one not revoked plays.
func TestRevokedReceiverBlocked(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	receiver, _ := provisionWith(t, b, 2000, "4.5")
	recvChain, err := bcert.ParseChain(receiver.Chain())
	require.NoError(t, err)
	recvDigest := recvChain.Leaf().Basic().Digest

	for _, revoked := range []bool{false, true} {
		fx := getFixture()
		req, err := fx.ProvisionRequest(3000, "4.5")
		require.NoError(t, err)
		req.Storage = tee.MemoryStorage()
		req.Platform = hal.Platform{Outputs: []hal.Output{{Kind: hal.Internal}, {Kind: hal.Miracast, Cert: "recv.chai", Receiver: receiver.Chain()}}}
		d, err := tee.Provision(b, req)
		require.NoError(t, err)
		var entries [][32]byte
		if revoked {
			entries = append(entries, recvDigest)
		}
		_, err = d.IngestRevocation(revocation.ListRuntime, runtimeCRL(t, 2, entries...))
		require.NoError(t, err)

		miracast := kid.MustParse("A340C256-0941-4D4C-AD1D-0B6735C0CB24") // its play enabler (docs/formats/policies-and-outputs.md §4)
		k, err := d.Bind(license(t, d, licOpts{persistent: true, tweak: func(tm *xmr.Template) { tm.PlayEnablers = []kid.ID{miracast} }}))
		require.NoError(t, err)
		dec, err := k.Enable(policy.AllStreams, policy.StrategyBlock)
		require.NoError(t, err, "the panel plays")
		in, ok := dec.Output(hal.Internal)
		require.True(t, ok)
		require.NotEqual(t, policy.Block, in.Action)
		mc, ok := dec.Output(hal.Miracast)
		require.True(t, ok)
		if revoked {
			require.Equal(t, policy.Block, mc.Action)
			require.Contains(t, mc.Reason, "revoked")
			require.Contains(t, mc.Reason, "DRM_E_CERTIFICATE_REVOKED")
			_, err = k.Enable(policy.AllStreams, policy.StrategyRefuse)
			require.ErrorIs(t, err, drm.ErrTEEOutputProtectionRequirementsNotMet, "refuse strategy: one blocked output refuses")
			_, err = k.Enable(policy.AllStreams, policy.StrategyBlock)
			require.NoError(t, err)
		} else {
			require.NotEqual(t, policy.Block, mc.Action, mc.Reason)
		}
		require.NoError(t, k.DecryptCENC(make([]byte, 16), make([]byte, 8), nil), "the panel decrypts (revoked=%v)", revoked)
	}
}
