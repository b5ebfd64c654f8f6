package tee_test

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/xmr"
)

// openOn re-opens d with the platform spec injected as its HAL.
func openOn(t *testing.T, b *tee.Backend, d *tee.Device, spec string) *tee.Device {
	t.Helper()
	p, err := hal.ParseOutputs(spec)
	require.NoError(t, err)
	d2, err := tee.OpenWith(b, d.State(), tee.Options{Rand: rand.Reader, Platform: p})
	require.NoError(t, err)
	require.Equal(t, p.String(), d2.Platform().String())
	return d2
}

func opl300(m *xmr.Template) { m.OPL = &xmr.OPL{UncompressedDigitalVideo: 300} }

// TestDecryptorNeedsADecision: no sample decrypts before Enable, whatever
// the license says; the REE cannot skip the policy engine.
func TestDecryptorNeedsADecision(t *testing.T) {
	b := openSoft(t)
	d := provisionVersion(t, b, 2000, "4.5")
	require.Equal(t, hal.DefaultOutputs, d.Platform().String(), "no injected platform: the default")
	k, err := d.Bind(license(t, d, licOpts{persistent: true}))
	require.NoError(t, err)
	_, decided := k.Decision()
	require.False(t, decided)
	err = k.DecryptCENC(make([]byte, 32), make([]byte, 8), nil)
	require.ErrorIs(t, err, drm.ErrTEEOutputProtectionRequirementsNotMet)
	dec, err := k.Enable(policy.Video, policy.StrategyBlock)
	require.NoError(t, err)
	require.Len(t, dec.Outputs, 1)
	require.Equal(t, policy.Pass, dec.Outputs[0].Action)
	require.NoError(t, k.DecryptCENC(make([]byte, 32), make([]byte, 8), nil))
}

// TestOPL300OnUnprotectedHDMI: the device's injected platform decides.
// Under block the HDMI output is blocked while the panel plays; under
// refuse the decryptor is closed with the code and a message naming HDMI.
func TestOPL300OnUnprotectedHDMI(t *testing.T) {
	b := openSoft(t)
	d := openOn(t, b, provisionVersion(t, b, 3000, "4.5"), "internal;hdmi:hdcp=none")
	k, err := d.Bind(license(t, d, licOpts{persistent: true, tweak: opl300}))
	require.NoError(t, err)

	dec, err := k.Enable(policy.Video, policy.StrategyBlock)
	require.NoError(t, err)
	in, ok := dec.Output(hal.Internal)
	require.True(t, ok)
	require.Equal(t, policy.Pass, in.Action)
	hd, ok := dec.Output(hal.HDMI)
	require.True(t, ok)
	require.Equal(t, policy.Block, hd.Action)
	require.NoError(t, k.DecryptCENC(make([]byte, 32), make([]byte, 8), nil))

	_, err = k.Enable(policy.Video, policy.StrategyRefuse)
	require.ErrorIs(t, err, drm.ErrTEEOutputProtectionRequirementsNotMet)
	var oe *tee.OutputError
	require.True(t, errors.As(err, &oe))
	require.Contains(t, err.Error(), "hdmi: "+hd.Reason)
	last, _ := k.Decision()
	require.True(t, last.Refused)
	require.ErrorIs(t, k.DecryptCENC(make([]byte, 32), make([]byte, 8), nil), drm.ErrTEEOutputProtectionRequirementsNotMet,
		"a refused decision closes the decryptor again")

	// The same license on an HDCP 2.2 platform passes everywhere.
	d2 := openOn(t, b, d, "internal;hdmi:hdcp=2.2")
	k2, err := d2.Bind(license(t, d2, licOpts{persistent: true, tweak: opl300}))
	require.NoError(t, err)
	dec, err = k2.Enable(policy.Video, policy.StrategyRefuse)
	require.NoError(t, err)
	hd, _ = dec.Output(hal.HDMI)
	require.Equal(t, policy.Protect, hd.Action)

	// HDMI alone: nothing can play, so even block refuses.
	d3 := openOn(t, b, d, "hdmi:hdcp=none")
	k3, err := d3.Bind(license(t, d3, licOpts{persistent: true, tweak: opl300}))
	require.NoError(t, err)
	_, err = k3.Enable(policy.Video, policy.StrategyBlock)
	require.ErrorIs(t, err, drm.ErrTEEOutputProtectionRequirementsNotMet)
	require.ErrorIs(t, k3.DecryptCENC(make([]byte, 32), make([]byte, 8), nil), drm.ErrTEEOutputProtectionRequirementsNotMet)
}

// TestClosedKeyRefusesEnable: Close wins over any decision.
func TestClosedKeyRefusesEnable(t *testing.T) {
	d := provisionVersion(t, openSoft(t), 2000, "4.5")
	k, err := d.Bind(license(t, d, licOpts{persistent: true}))
	require.NoError(t, err)
	require.NoError(t, k.Close())
	_, err = k.Enable(policy.Video, policy.StrategyBlock)
	require.Error(t, err)
	require.Error(t, k.DecryptCENC(make([]byte, 32), make([]byte, 8), nil))
}
