package licsrv_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// minSLs returns the minimum security levels of a response's licenses.
func minSLs(t *testing.T, resp *soap.ParsedResponse) []uint16 {
	t.Helper()
	var out []uint16
	for _, l := range resp.Licenses {
		lic, err := xmr.Parse(l)
		require.NoError(t, err)
		out = append(out, lic.MinSecurityLevel())
	}
	return out
}

// A license above the device certificate's level is refused with a fault
// that names both levels; at or below it, it is issued.
func TestLicenseAboveCertSLRefused(t *testing.T) {
	for _, c := range []struct {
		cert   uint32
		query  string
		reason string // "" = issued
		minSL  uint16
	}{
		{2000, "?cfg=(sl:3000)", "cfg sl:3000 is above the device certificate's security level 2000", 0},
		{150, "?cfg=(sl:2000)", "cfg sl:2000 is above the device certificate's security level 150", 0},
		{150, "?cfg=(sl:3000)", "cfg sl:3000 is above the device certificate's security level 150", 0},
		{2000, "?cfg=(sl:2000)", "", 2000},
		{2000, "", "", 150},
		{3000, "?cfg=(sl:3000)", "", 3000},
		// One group above the level refuses the whole request.
		{2000, "?cfg=(kid:" + kidA.String() + ",sl:2000),(kid:" + kidB.String() + ",sl:3000)",
			"cfg sl:3000 is above the device certificate's security level 2000", 0},
	} {
		t.Run(c.query, func(t *testing.T) {
			f := newFixture(t, c.cert)
			nonce, err := f.dev.NewNonce()
			require.NoError(t, err)
			w, body := f.post(t, c.query, f.challenge(t, nonce, f.now, kidA, kidB))
			if c.reason != "" {
				requireFault(t, w, body, drm.ErrDeviceSecurityLevelTooLow)
				requireReason(t, body, c.reason)
				return
			}
			require.Equal(t, http.StatusOK, w.Code, string(body))
			resp, err := soap.ParseResponse(body)
			require.NoError(t, err)
			require.Equal(t, []uint16{c.minSL, c.minSL}, minSLs(t, resp))
		})
	}
}

// With issue-above-cert-sl the server issues the SL3000 license to the
// SL2000 device; the device's TEE still refuses to bind it.
func TestDefectIssueAboveCertSL(t *testing.T) {
	f := newFixture(t, 2000, licsrv.DefectIssueAboveCertSL)
	_, resp := f.acquireOK(t, "?cfg=(sl:3000,persist:true)")
	require.Equal(t, []uint16{3000}, minSLs(t, resp))
	_, err := f.dev.Bind(resp.Licenses[0])
	require.ErrorIs(t, err, drm.ErrDeviceSecurityLevelTooLow)
}

// ignore-sl keeps its meaning: cfg sl: is ignored altogether, so the SL2000
// device gets a license of minimum 150 instead of a fault.
func TestDefectIgnoreSLSkipsCertCheck(t *testing.T) {
	f := newFixture(t, 2000, licsrv.DefectIgnoreSL)
	_, resp := f.acquireOK(t, "?cfg=(sl:3000)")
	require.Equal(t, []uint16{150}, minSLs(t, resp))
}
