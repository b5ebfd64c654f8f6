package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// editDeviceJSON rewrites DEV/device.json through edit (top level and the
// "tee" object) and returns the original bytes.
func editDeviceJSON(t *testing.T, dev string, edit func(top, st map[string]any)) []byte {
	t.Helper()
	path := filepath.Join(dev, "device.json")
	orig, err := os.ReadFile(path)
	require.NoError(t, err)
	var top map[string]any
	require.NoError(t, json.Unmarshal(orig, &top))
	edit(top, top["tee"].(map[string]any))
	raw, err := json.MarshalIndent(top, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	return orig
}

// TestHostileDeviceJSON: device.json is a file the REE (any local user of
// the device directory) can edit. Raising its security_level used to make
// "device info" report the new level and the TEE bind licenses of that
// level; now every command refuses the directory with exit 1, naming
// DEV/device.json and what differs, and nothing reports an unbacked value.
func TestHostileDeviceJSON(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	dev := newDevice(t, pkiDir, 2000, "soft")
	other := newDevice(t, pkiDir, 3000, "soft")
	var info deviceOut
	okJSON(t, &info, "device", "info", "--dir", dev, "--json")
	require.Equal(t, 2000, info.SecurityLevel)
	require.Equal(t, "4.5", info.Version)

	var otherTEE map[string]any
	raw, err := os.ReadFile(filepath.Join(other, "device.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &otherTEE))
	otherTEE = otherTEE["tee"].(map[string]any)

	file := filepath.Join(dev, "device.json")
	for _, c := range []struct {
		name string
		edit func(top, st map[string]any)
		says string
	}{
		{"sl-3000", func(_, st map[string]any) { st["security_level"] = 3000 },
			"security_level 3000 does not match the device certificate's 2000"},
		{"sl-99999", func(_, st map[string]any) { st["security_level"] = 99999 },
			"security_level 99999 does not match the device certificate's 2000"},
		{"version", func(top, _ map[string]any) { top["version"] = "4.3" },
			"version 4.3 does not match the device certificate's 4.5"},
		{"swapped-chain", func(_, st map[string]any) {
			st["chain"], st["security_level"] = otherTEE["chain"], otherTEE["security_level"]
		}, "chain: the leaf certificate's keys are not the device keys this TEE holds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			orig := editDeviceJSON(t, dev, c.edit)
			defer func() { require.NoError(t, os.WriteFile(file, orig, 0o600)) }()

			r := run(t, "device", "info", "--dir", dev, "--json")
			f := failed(t, r, 1)
			require.Contains(t, *f.Error, file)
			require.Contains(t, *f.Error, c.says)
			require.NotContains(t, r.stdout, "security_level\": 3000")
			require.NotContains(t, r.stdout, "security_level\": 99999")

			r = run(t, "device", "info", "--dir", dev)
			require.Equal(t, 1, r.code, "%s", r)
			require.Empty(t, r.stdout)
			require.True(t, strings.HasPrefix(r.stderr, "prsim: "+file+" was edited or comes from another device"), "%s", r)
			require.Contains(t, r.stderr, c.says)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %s", r)

			r = run(t, "license", "list", "--dev", dev, "--json")
			require.Contains(t, *failed(t, r, 1).Error, c.says)
		})
	}
	okJSON(t, &info, "device", "info", "--dir", dev, "--json")
	require.Equal(t, 2000, info.SecurityLevel, "restored, the device opens again")
}

// TestLicenseAboveCertSL replays the whole attack against a server: an
// SL2000 device asks for sl:3000. The reference server refuses with a
// fault naming both levels; a server with --defect issue-above-cert-sl
// issues the license and the TEE refuses to bind it; a device.json raised
// to 3000 does not open at all.
func TestLicenseAboveCertSL(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	dev := newDevice(t, pkiDir, 2000, "soft")
	const code = "DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW (0x8004A004)"

	t.Run("reference-server-refuses", func(t *testing.T) {
		laURL := startServer(t, pkiDir) + "/rightsmanager.asmx"
		c := genContent(t, "cenc", 31, laURL)
		r := run(t, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", laURL+"?cfg=(sl:3000)", "--json")
		f := failed(t, r, 2)
		require.Equal(t, code, *f.Error)
		require.NotNil(t, f.Detail)
		require.Equal(t, "server says: cfg sl:3000 is above the device certificate's security level 2000", *f.Detail)
		var list storedOut
		okJSON(t, &list, "license", "list", "--dev", dev, "--json")
		require.Empty(t, list.Licenses)
	})

	t.Run("defect-server-issues-tee-refuses", func(t *testing.T) {
		laURL := startServerArgs(t, pkiDir, "--defect", "issue-above-cert-sl") + "/rightsmanager.asmx"
		c := genContent(t, "cenc", 32, laURL)
		url := laURL + "?cfg=(sl:3000,persist:true)"
		r := run(t, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", url, "--json")
		require.Equal(t, 2, r.code, "%s", r)
		var acq acquireOut
		decode(t, r, &acq)
		require.NotEmpty(t, acq.Licenses)
		for _, l := range acq.Licenses {
			require.False(t, l.Bound)
			require.Equal(t, 3000, l.MinSecurityLevel)
			require.Equal(t, code, *l.Error)
		}

		// The attack itself: raise the stored level and try again.
		orig := editDeviceJSON(t, dev, func(_, st map[string]any) { st["security_level"] = 3000 })
		defer func() { require.NoError(t, os.WriteFile(filepath.Join(dev, "device.json"), orig, 0o600)) }()
		for _, args := range [][]string{
			{"license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", url, "--json"},
			{"play", "--dev", dev, "--mpd", c.MPD, "--out", t.TempDir(), "--url", url, "--json"},
		} {
			f := failed(t, run(t, args...), 1)
			require.Contains(t, *f.Error, "security_level 3000 does not match the device certificate's 2000")
		}
	})
}
