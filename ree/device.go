package ree

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/store"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
)

// A device directory holds device.json (persona, TEE state with wrapped key
// blobs, trusted roots; mode 0600) and store.db (the license store).
const (
	deviceFile = "device.json"
	storeFile  = "store.db"
)

// maxDeviceJSON bounds device.json (a real one is a few kB).
const maxDeviceJSON = 1 << 20

// errDeviceFile is wrapped by the refusal of a device.json that is not a
// regular file of sane size.
var errDeviceFile = errors.New("ree: not a device file")

// Versions are the PlayReady client versions a device can claim.
var Versions = []string{"2.0", "3.0", "4.3", "4.5"}

// ErrNoDevice is matched (errors.Is) by the error [OpenDevice] returns when
// a directory holds no device; that error is a [*NoDeviceError] naming it.
var ErrNoDevice = errors.New("ree: no device in directory (run prsim device new)")

// NoDeviceError says which directory holds no device.
type NoDeviceError struct {
	Dir string
}

func (e *NoDeviceError) Error() string {
	return fmt.Sprintf("ree: no device in %s (no %s)", e.Dir, deviceFile)
}

// Is makes errors.Is(err, ErrNoDevice) hold.
func (e *NoDeviceError) Is(target error) bool { return target == ErrNoDevice }

// DeviceStateError says that a device directory's device.json contradicts
// the device certificate or the keys its TEE holds: the file was edited,
// or parts of it come from another device. errors.Is(err,
// tee.ErrStateMismatch) holds; Err is the [*tee.StateMismatchError].
type DeviceStateError struct {
	Dir string
	Err error
}

func (e *DeviceStateError) Error() string {
	return fmt.Sprintf("ree: %s was edited or comes from another device (restore it, or provision a new device): %v",
		filepath.Join(e.Dir, deviceFile), e.Err)
}

func (e *DeviceStateError) Unwrap() error { return e.Err }

// deviceJSON is the device.json layout (docs/protocol.md §5). The REE can
// edit it, so nothing the TEE decides on is taken from it on trust: the
// security level and the features are the leaf certificate's, Version
// must agree with them (and with the leaf's SECURITY_VERSION when it has
// one), and the chain must verify to one of Roots (checked in OpenDevice).
type deviceJSON struct {
	Format  int         `json:"format"`
	Version string      `json:"version"`
	Created time.Time   `json:"created"`
	Roots   []ecc.Point `json:"roots"`
	TEE     tee.State   `json:"tee"`
	// Outputs is the platform's default output spec (hal.ParseOutputs);
	// absent in devices made before prsim simulated outputs: hal.DefaultOutputs.
	Outputs string `json:"outputs,omitempty"`
	// Clock is the trusted clock kind, a copy of what the leaf claims
	// (checked in OpenDevice); absent in devices made before prsim
	// emulated clocks: none.
	Clock clock.Kind `json:"clock,omitempty"`
	// WallOffset is how far the user moved the HAL wall clock from the
	// host's (prsim device set-time), in seconds: the wall clock is the
	// user's to set, so it lives here, in the REE's file.
	WallOffset int64 `json:"wall_clock_offset_s,omitempty"`
}

// Device is a provisioned device kept in a directory, with its open key
// backend, TEE, store and REE client.
type Device struct {
	Dir     string
	Version string
	// Outputs is the device's default output spec, from device.json; the
	// platform the TEE was opened with is TEE.Platform() (it differs when
	// OpenDeviceWith overrides it).
	Outputs string
	Created time.Time
	// Clock is the trusted clock kind the leaf certificate claims.
	Clock clock.Kind
	// Wall is the HAL wall clock: the user's, moved with SetWallClock;
	// the TEE's anti-rollback clock reads it and judges it.
	Wall    *hal.WallClock
	TEE     *tee.Device
	Client  *Client
	backend *tee.Backend
	store   *store.Store
	dj      deviceJSON
}

// NewDeviceOptions describes a device to provision.
type NewDeviceOptions struct {
	Version       string // PlayReady version, default "4.5"
	SecurityLevel uint32
	Backend       string // tee backend URI; "sim" gets a fresh seed
	ModelChain    *bcert.Chain
	ModelSigner   bcert.Signer
	Roots         []ecc.Point
	// Outputs is the platform's output spec (hal.ParseOutputs), recorded
	// as the device's default; "" = hal.DefaultOutputs.
	Outputs string
	// Clock is the trusted clock the device has ("" = DefaultClock),
	// claimed in its leaf certificate.
	Clock clock.Kind
	Rand  io.Reader
	// Now is the host clock the HAL wall clock runs on (nil = the system's).
	Now func() time.Time
}

// DefaultClock is the clock a new device gets: an anti-rollback clock
// works offline from the wall clock, as most devices' do; a secure clock
// needs a time server (docs/formats/policies-and-outputs.md §9).
const DefaultClock = clock.KindAntiRollback

// NewDevice provisions a device into dir (which must not hold one).
func NewDevice(dir string, o NewDeviceOptions) (*Device, error) {
	if o.Version == "" {
		o.Version = "4.5"
	}
	if !validVersion(o.Version) {
		return nil, fmt.Errorf("ree: unknown PlayReady version %q", o.Version)
	}
	if o.Outputs == "" {
		o.Outputs = hal.DefaultOutputs
	}
	platform, err := hal.ParseOutputs(o.Outputs)
	if err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	if err := loadReceivers(&platform, true); err != nil {
		return nil, err
	}
	if o.Rand == nil {
		o.Rand = cryptoRand{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Clock == "" {
		o.Clock = DefaultClock
	}
	if _, err := clock.ParseKind(string(o.Clock)); err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, deviceFile)); err == nil {
		return nil, fmt.Errorf("ree: %s already holds a device", dir)
	}
	uri, err := tee.ResolveBackend(o.Backend, o.Rand)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	// A store without device.json is what a failed provisioning left:
	// no device owns it.
	if err := os.Remove(filepath.Join(dir, storeFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ree: %w", err)
	}
	s, err := store.Open(filepath.Join(dir, storeFile))
	if err != nil {
		return nil, err
	}
	b, err := tee.OpenBackend(uri)
	if err != nil {
		s.Close()
		return nil, err
	}
	wall := hal.NewWallClock(clock.Func(o.Now))
	t, err := tee.Provision(b, tee.ProvisionRequest{
		ModelChain: o.ModelChain, ModelSigner: o.ModelSigner, SecurityLevel: o.SecurityLevel,
		Features: LeafFeatures(o.Version, o.Clock), Version: o.Version, Rand: o.Rand, Platform: platform, Storage: s, Wall: wall,
	})
	if err != nil {
		s.Close()
		b.Close()
		return nil, err
	}
	dj := deviceJSON{Format: 1, Version: o.Version, Created: o.Now().UTC().Truncate(time.Second), Roots: o.Roots, TEE: t.State(),
		Outputs: platform.String(), Clock: o.Clock}
	if err := saveDeviceJSON(dir, dj); err != nil {
		s.Close()
		b.Close()
		return nil, err
	}
	return finishOpen(dir, dj, b, t, s, wall)
}

// OpenDevice opens the device in dir, re-creating its backend (for "sim:SEED"
// the simulator with the device's seed), on its default platform.
func OpenDevice(dir string) (*Device, error) { return OpenDeviceWith(dir, OpenOptions{}) }

// OpenOptions change how a device is opened.
type OpenOptions struct {
	// Platform, if set, replaces the device's default outputs for this
	// session (prsim play --outputs): it is the HAL the TEE is opened with.
	Platform *hal.Platform
	// Now is the host clock the HAL wall clock runs on (nil = the system's).
	Now func() time.Time
}

// OpenDeviceWith is [OpenDevice] with options.
func OpenDeviceWith(dir string, o OpenOptions) (*Device, error) {
	// The REE's file, so untrusted: bounded, and a FIFO or device in its
	// place is refused instead of read forever.
	raw, err := readBounded(filepath.Join(dir, deviceFile), maxDeviceJSON, errDeviceFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NoDeviceError{Dir: dir}
	}
	if err != nil {
		return nil, err
	}
	var dj deviceJSON
	if err := json.Unmarshal(raw, &dj); err != nil || dj.Format != 1 {
		return nil, fmt.Errorf("ree: %s is corrupt or of an unknown format", filepath.Join(dir, deviceFile))
	}
	b, err := tee.OpenBackend(dj.TEE.Backend)
	if err != nil {
		return nil, fmt.Errorf("ree: %s: %w", filepath.Join(dir, deviceFile), err)
	}
	spec := dj.Outputs
	if spec == "" {
		spec = hal.DefaultOutputs
	}
	platform, err := hal.ParseOutputs(spec)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("ree: %s: outputs: %w", filepath.Join(dir, deviceFile), err)
	}
	dj.Outputs = platform.String()
	if o.Platform != nil {
		platform = *o.Platform
	}
	s, err := store.Open(filepath.Join(dir, storeFile))
	if err != nil {
		b.Close()
		return nil, err
	}
	base := clock.System()
	if o.Now != nil {
		base = clock.Func(o.Now)
	}
	wall := hal.NewWallClock(base)
	wall.Advance(time.Duration(dj.WallOffset) * time.Second)
	if err := loadReceivers(&platform, false); err != nil {
		s.Close()
		b.Close()
		return nil, err
	}
	t, err := tee.OpenWith(b, dj.TEE, tee.Options{Platform: platform, Storage: s, Wall: wall})
	if err == nil {
		err = checkPersona(dj, t)
	}
	if err == nil && t.StateChanged() {
		// A device made before the sealed TEE state: record its new
		// storage root (and counter) before anything is sealed under it.
		dj.TEE = t.State()
		err = saveDeviceJSON(dir, dj)
	}
	if err != nil {
		s.Close()
		b.Close()
		if errors.Is(err, tee.ErrStateMismatch) {
			return nil, &DeviceStateError{Dir: dir, Err: err}
		}
		if errors.Is(err, tee.ErrRollback) {
			return nil, &RollbackError{Dir: dir, Err: err}
		}
		return nil, err
	}
	return finishOpen(dir, dj, b, t, s, wall)
}

// RollbackError says that a device's store holds an older TEE state than
// its TPM's generation counter: a copy of the store was put back (or the
// TEE state was removed from it). errors.Is(err, tee.ErrRollback) holds.
type RollbackError struct {
	Dir string
	Err error
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("ree: %s was rolled back, and the device refuses it (restore the newest copy, or provision a new device): %v",
		filepath.Join(e.Dir, storeFile), e.Err)
}

func (e *RollbackError) Unwrap() error { return e.Err }

// clockKind is the clock device.json records; a device made before prsim
// emulated clocks has none.
func (dj deviceJSON) clockKind() clock.Kind {
	if dj.Clock == "" {
		return clock.KindNone
	}
	return dj.Clock
}

func saveDeviceJSON(dir string, dj deviceJSON) error {
	raw, err := json.MarshalIndent(dj, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, deviceFile), raw)
}

// checkPersona holds device.json's REE-side persona to the certificate the
// TEE opened with: the version must claim exactly the leaf's features (and
// be the leaf's SECURITY_VERSION, when it has one), and the chain must end
// at one of the device's roots.
func checkPersona(dj deviceJSON, t *tee.Device) error {
	p := t.Persona()
	if !validVersion(dj.Version) {
		return &tee.StateMismatchError{Field: "version", Reason: "not a PlayReady version prsim knows (" + strings.Join(Versions, ", ") + ")"}
	}
	if p.Version != "" && p.Version != dj.Version {
		return &tee.StateMismatchError{Field: "version", Stored: dj.Version, Cert: p.Version}
	}
	kind := dj.clockKind()
	if _, err := clock.ParseKind(string(kind)); err != nil {
		return &tee.StateMismatchError{Field: "clock", Reason: "not a clock kind prsim knows (secure, anti-rollback, none)"}
	}
	if kind != p.ClockKind() {
		return &tee.StateMismatchError{Field: "clock", Stored: string(kind), Cert: string(p.ClockKind())}
	}
	if want := LeafFeatures(dj.Version, kind); !sameSet(want, p.Features) {
		return &tee.StateMismatchError{Field: "version", Reason: fmt.Sprintf("PlayReady %s devices carry features %s, the device certificate carries %s",
			dj.Version, featureList(want), featureList(p.Features))}
	}
	if !slices.Contains(dj.Roots, t.RootIssuer()) {
		return &tee.StateMismatchError{Field: "roots", Reason: "the device certificate chain does not end at any of the device's roots"}
	}
	return nil
}

func sameSet(a, b []uint32) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func featureList(f []uint32) string {
	parts := make([]string, len(f))
	for i, v := range f {
		parts[i] = fmt.Sprintf("%d", v)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func finishOpen(dir string, dj deviceJSON, b *tee.Backend, t *tee.Device, s *store.Store, wall *hal.WallClock) (*Device, error) {
	c, err := New(Config{Device: t, Store: s, Roots: dj.Roots, ClientVersion: dj.Version + ".0.0",
		REEFeatures: reeFeatures(dj.Version), Clock: wall})
	if err != nil {
		s.Close()
		b.Close()
		return nil, err
	}
	return &Device{Dir: dir, Version: dj.Version, Outputs: dj.Outputs, Created: dj.Created, Clock: dj.clockKind(), Wall: wall,
		TEE: t, Client: c, backend: b, store: s, dj: dj}, nil
}

// SetWallClock moves the HAL wall clock, as a user changing the device's
// time does (prsim device set-time), and records the offset in
// device.json. The TEE's anti-rollback clock judges it at its next read.
func (d *Device) SetWallClock(t time.Time) error {
	d.Wall.Set(t)
	return d.saveWallOffset()
}

// AdvanceWallClock moves the HAL wall clock by by (negative: back).
func (d *Device) AdvanceWallClock(by time.Duration) error {
	d.Wall.Advance(by)
	return d.saveWallOffset()
}

func (d *Device) saveWallOffset() error {
	d.dj.WallOffset = int64(d.Wall.Offset().Round(time.Second) / time.Second)
	return saveDeviceJSON(d.Dir, d.dj)
}

// RollbackProtected reports whether a store copied back into the device
// directory is detected: the TEE keeps its generation counter in TPM NV,
// and that TPM's state does not live inside the device directory (an
// swtpm state directory under it would be copied back with the store).
func (d *Device) RollbackProtected() bool {
	if !d.TEE.RollbackProtected() {
		return false
	}
	uri := d.backend.URI()
	if dir, ok := strings.CutPrefix(uri, "swtpm:"); ok && filepath.IsAbs(dir) {
		abs, err := filepath.Abs(d.Dir)
		if err != nil {
			return false
		}
		// IsLocal, not a ".." prefix: a state directory named "..tpm"
		// inside the device directory is inside.
		if rel, err := filepath.Rel(abs, dir); err == nil && filepath.IsLocal(rel) {
			return false
		}
	}
	return true
}

// Backend returns the concrete key-backend URI.
func (d *Device) Backend() string { return d.backend.URI() }

// Close wipes session keys, commits the TEE's clock state and closes the
// store and backend.
func (d *Device) Close() error {
	d.Client.Close()
	err := d.TEE.Close()
	if serr := d.store.Close(); err == nil {
		err = serr
	}
	if berr := d.backend.Close(); err == nil {
		err = berr
	}
	return err
}

func validVersion(v string) bool {
	for _, x := range Versions {
		if x == v {
			return true
		}
	}
	return false
}

// LeafFeatures are the BCert features a device of this PlayReady version
// and clock claims in its leaf certificate: every device supports CRLs,
// all but 2.0 claim the PlayReady 3 features, and a trusted clock is
// claimed as SECURE_CLOCK or ANTIROLLBACK_CLOCK (docs/formats/bcert.md §7).
func LeafFeatures(version string, kind clock.Kind) []uint32 {
	f := []uint32{bcert.FeatureSupportsCRLs}
	if version != "2.0" {
		f = append(f, bcert.FeaturePR3)
	}
	switch kind {
	case clock.KindSecure:
		f = append(f, bcert.FeatureSecureClock)
	case clock.KindAntiRollback:
		f = append(f, bcert.FeatureAntiRollbackClock)
	}
	return f
}

// reeFeatures are the REE feature names a device advertises in its client
// data (docs/formats/soap.md §3; prsim's element, docs/protocol.md).
func reeFeatures(version string) []string {
	switch version {
	case "4.3", "4.5":
		return []string{"AESCBCS", "InMemoryOnlyLicenses"}
	}
	return []string{"InMemoryOnlyLicenses"}
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("ree: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ree: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// RemoveDevice deletes the device in dir: it releases the TPM resources the
// TEE holds for it (tee.Device.Destroy) and removes the directory.
func RemoveDevice(dir string) error {
	d, err := OpenDevice(dir)
	if err != nil {
		return err
	}
	err = d.TEE.Destroy()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// maxReceiverChain bounds a receiver certificate chain read from a file.
const maxReceiverChain = 64 << 10

// loadReceivers reads the receiver certificate chain of every cast-target
// output that names one (hal Output.Cert); absolute makes the paths
// absolute first, so that device.json keeps working from any directory.
func loadReceivers(p *hal.Platform, absolute bool) error {
	if absolute {
		for i := range p.Outputs {
			if c := p.Outputs[i].Cert; c != "" {
				a, err := filepath.Abs(c)
				if err != nil {
					return fmt.Errorf("ree: %w", err)
				}
				p.Outputs[i].Cert = a
			}
		}
	}
	if err := p.LoadReceivers(func(path string) ([]byte, error) { return ReadLocalFile(path, maxReceiverChain) }); err != nil {
		return fmt.Errorf("ree: %w", err)
	}
	return nil
}
