package ree_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
)

// newDeviceDir provisions a closed soft device of fx into a fresh directory.
func newDeviceDir(t *testing.T, fx *fixture.Fixture, sl uint32, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dev")
	d, err := fx.NewDevice(dir, fixture.Device{Version: version, SecurityLevel: sl})
	require.NoError(t, err)
	require.NoError(t, d.Close())
	return dir
}

func readDeviceJSON(t *testing.T, dir string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "device.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

func writeDeviceJSON(t *testing.T, dir string, m map[string]any) {
	t.Helper()
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "device.json"), raw, 0o600))
}

// editDevice applies edit to device.json in dir.
func editDevice(t *testing.T, dir string, edit func(m, teeState map[string]any)) {
	t.Helper()
	m := readDeviceJSON(t, dir)
	edit(m, m["tee"].(map[string]any))
	writeDeviceJSON(t, dir, m)
}

// requireRefused checks that opening dir fails with a state error that
// names dir's device.json, says what differs and carries no DRM code.
func requireRefused(t *testing.T, dir, field string, says ...string) {
	t.Helper()
	d, err := ree.OpenDevice(dir)
	require.Nil(t, d)
	require.Error(t, err)
	var se *ree.DeviceStateError
	require.True(t, errors.As(err, &se), "%v", err)
	require.Equal(t, dir, se.Dir)
	require.ErrorIs(t, err, tee.ErrStateMismatch)
	var me *tee.StateMismatchError
	require.True(t, errors.As(err, &me))
	require.Equal(t, field, me.Field)
	_, coded := drm.CodeOf(err)
	require.False(t, coded, "%v", err)
	require.Contains(t, err.Error(), filepath.Join(dir, "device.json"))
	for _, s := range says {
		require.Contains(t, err.Error(), s)
	}
}

// The attack: device.json's security_level raised from 2000 (or 150) to
// 3000, or to 99999. Before, OpenDevice reported the edited level and the
// TEE bound SL3000 licenses; now it refuses the directory.
func TestOpenDeviceRefusesEditedSecurityLevel(t *testing.T) {
	p := testFixture()
	for _, c := range []struct{ from, to float64 }{{2000, 3000}, {2000, 99999}, {150, 3000}, {3000, 2000}} {
		dir := newDeviceDir(t, p, uint32(c.from), "4.5")
		editDevice(t, dir, func(_, st map[string]any) {
			require.Equal(t, c.from, st["security_level"])
			st["security_level"] = c.to
		})
		requireRefused(t, dir, "security_level",
			"security_level "+jsonNum(c.to)+" does not match the device certificate's "+jsonNum(c.from))
	}

	// Untouched, the same kind of device opens at its certificate's level.
	dir := newDeviceDir(t, p, 2000, "4.5")
	d, err := ree.OpenDevice(dir)
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, uint32(2000), d.TEE.SecurityLevel())
	require.Equal(t, "4.5", d.Version)
	require.Equal(t, "4.5", d.TEE.Persona().Version)
}

// The PlayReady version is recorded in the leaf (SECURITY_VERSION) and
// implied by its features: an edited version is refused.
func TestOpenDeviceRefusesEditedVersion(t *testing.T) {
	p := testFixture()
	for _, c := range []struct{ from, to, says string }{
		{"4.5", "4.3", "version 4.3 does not match the device certificate's 4.5"},
		{"4.5", "2.0", "version 2.0 does not match the device certificate's 4.5"},
		{"2.0", "4.5", "version 4.5 does not match the device certificate's 2.0"},
		{"4.5", "9.9", "not a PlayReady version prsim knows"},
	} {
		dir := newDeviceDir(t, p, 2000, c.from)
		editDevice(t, dir, func(m, _ map[string]any) { m["version"] = c.to })
		requireRefused(t, dir, "version", c.says)
	}
}

// A device provisioned before the leaf recorded its version has no
// SECURITY_VERSION: the features still decide between 2.0 and later.
func TestOpenDeviceLegacyLeafFeatures(t *testing.T) {
	fx := testFixture()
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	req, err := fx.ProvisionRequest(2000, "2.0")
	require.NoError(t, err)
	req.Version = "" // a 2.0 leaf, no version recorded
	td, err := tee.Provision(b, req)
	require.NoError(t, err)
	require.Empty(t, td.Persona().Version)
	require.Equal(t, []uint32{bcert.FeatureSupportsCRLs}, td.Persona().Features)
	st, err := json.Marshal(td.State())
	require.NoError(t, err)
	roots, err := json.Marshal([]ecc.Point{fx.PKI.Root})
	require.NoError(t, err)

	for _, c := range []struct {
		version string
		ok      bool
	}{{"2.0", true}, {"4.5", false}, {"3.0", false}} {
		dir := t.TempDir()
		writeDeviceJSON(t, dir, map[string]any{"format": 1, "version": c.version, "created": time.Now().UTC(),
			"roots": json.RawMessage(roots), "tee": json.RawMessage(st)})
		if c.ok {
			d, err := ree.OpenDevice(dir)
			require.NoError(t, err)
			require.NoError(t, d.Close())
			continue
		}
		requireRefused(t, dir, "version", "PlayReady "+c.version+" devices carry features [9,13], the device certificate carries [9]")
	}
}

// Another device's chain (here of a higher level) in this device's
// device.json names keys this TEE does not hold.
func TestOpenDeviceRefusesSwappedChain(t *testing.T) {
	p := testFixture()
	low := newDeviceDir(t, p, 2000, "4.5")
	high := newDeviceDir(t, p, 3000, "4.5")
	hs := readDeviceJSON(t, high)["tee"].(map[string]any)
	editDevice(t, low, func(_, st map[string]any) {
		st["chain"] = hs["chain"]
		st["security_level"] = hs["security_level"]
	})
	requireRefused(t, low, "chain", "not the device keys this TEE holds")
}

// The chain must end at one of the device's roots.
func TestOpenDeviceRefusesForeignRoots(t *testing.T) {
	p := testFixture()
	other, err := fixture.New(fixture.Options{})
	require.NoError(t, err)
	dir := newDeviceDir(t, p, 2000, "4.5")
	foreign := readDeviceJSON(t, newDeviceDir(t, other, 2000, "4.5"))["roots"]
	editDevice(t, dir, func(m, _ map[string]any) { m["roots"] = foreign })
	requireRefused(t, dir, "roots", "does not end at any of the device's roots")
}

func jsonNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// TestDeviceJSONNotRegularOrHuge: device.json is the REE's file; a FIFO in
// its place is refused (not read forever) and an oversized one is refused
// before it is read, each naming the file and carrying no DRM code.
func TestDeviceJSONNotRegularOrHuge(t *testing.T) {
	t.Parallel()
	fifoDir := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(fifoDir, "device.json"), 0o600))
	hugeDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(hugeDir, "device.json"), make([]byte, 2<<20), 0o600))
	for name, tc := range map[string]struct{ dir, says string }{
		"fifo": {fifoDir, "not a regular file"},
		"huge": {hugeDir, "more than the limit"},
	} {
		d, err := ree.OpenDevice(tc.dir)
		require.Nil(t, d, name)
		require.Error(t, err, name)
		require.Contains(t, err.Error(), filepath.Join(tc.dir, "device.json"), name)
		require.Contains(t, err.Error(), tc.says, name)
		require.False(t, errors.Is(err, ree.ErrNoDevice), name)
		_, ok := drm.CodeOf(err)
		require.False(t, ok, name)
	}
}
