// Package demo runs prsim's whole chain on one machine and tells what the
// device did: a fresh test PKI, the reference license server on loopback, an
// SL3000 device whose keys live in the TPM simulator, cenc and cbcs DASH
// content (separate video and audio keys), license acquisition, playback
// through the TEE, and a byte-for-byte check of every decrypted sample
// against the clear source; then the refusals a device owes (a security
// level too low, an output without the required protection, a wall clock
// set back or a license past its end on the TEE's trusted clock) and the
// conformance suite. It is the body of "prsim demo" and "make demo".
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/conformance"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/kid"
)

// Options configures a run.
type Options struct {
	Out     io.Writer
	TPM     string // device backend; "" = "sim"
	KeepDir string // "" = a temporary directory, removed afterwards
}

// ErrMismatch is returned when decrypted output differs from the source.
var ErrMismatch = errors.New("demo: decrypted output differs from the clear source")

type narrator struct {
	w    io.Writer
	step int
}

func (n *narrator) say(format string, a ...any) {
	n.step++
	fmt.Fprintf(n.w, "%2d. %s\n", n.step, fmt.Sprintf(format, a...))
}

func (n *narrator) detail(format string, a ...any) {
	fmt.Fprintf(n.w, "    %s\n", fmt.Sprintf(format, a...))
}

// Run executes the demo.
func Run(ctx context.Context, o Options) error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.TPM == "" {
		o.TPM = "sim"
	}
	dir := o.KeepDir
	if dir == "" {
		d, err := os.MkdirTemp("", "prsim-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	n := &narrator{w: o.Out}
	fmt.Fprintln(o.Out, "prsim demo: a simulated PlayReady device, end to end on this machine")

	// 1. PKI.
	fx, err := fixture.New(fixture.Options{Dir: dir})
	if err != nil {
		return err
	}
	n.say("Made a test PKI (prsim's own root; no Microsoft key): root, SL150/2000/3000 model certificates, a license-server certificate and a CRL signer.")

	// 2. Server.
	srv, err := fx.StartServer(licsrv.Config{DataDir: filepath.Join(dir, "server"), Limits: demoLimits()})
	if err != nil {
		return err
	}
	defer srv.Close()
	base, laURL := srv.Base, srv.LAURL
	n.say("Started the reference license server on %s (AcquireLicense; certificate at %s%s).", laURL, base, licsrv.CertPath)

	// 3. Device.
	dev, err := fx.NewDevice(filepath.Join(dir, "device"), fixture.Device{Version: "4.5", SecurityLevel: 3000, Backend: o.TPM})
	if err != nil {
		return err
	}
	defer dev.Close()
	sp := dev.TEE.Public()
	n.say("Provisioned an SL3000 PlayReady 4.5 device on backend %s: its TEE generated a signing and an encryption key (wrapped TPM blobs), built its leaf certificate and had the model key sign it (signing key %x…).", dev.Backend(), sp[:6])

	// 4. Content.
	type pres struct {
		scheme  string
		content *testmedia.Content
		video   kid.ID
		audio   kid.ID
	}
	var all []pres
	for i, scheme := range []string{"cenc", "cbcs"} {
		v := kid.MustParse(fmt.Sprintf("10000000-1000-1000-1000-1000000000%d1", i))
		a := kid.MustParse(fmt.Sprintf("10000000-1000-1000-1000-1000000000%d2", i))
		vk, err := keyseed.Derive(keyseed.TestSeed(), v)
		if err != nil {
			return err
		}
		ak, err := keyseed.Derive(keyseed.TestSeed(), a)
		if err != nil {
			return err
		}
		c, err := testmedia.Generate(testmedia.Options{Dir: filepath.Join(dir, "content-"+scheme), Scheme: scheme,
			Video: testmedia.Track{KID: v, Key: vk}, Audio: testmedia.Track{KID: a, Key: ak}, LAURL: laURL, Segments: 3, Seed: int64(i + 1)})
		if err != nil {
			return err
		}
		all = append(all, pres{scheme, c, v, a})
	}
	n.say("Packaged test content: two DASH presentations (cenc AES-CTR and cbcs AES-CBC 1:9), each with a video key and a separate audio key derived from the public test key seed; PlayReady PSSH and mspr:pro in the MPD.")

	// 5. Licenses: non-persistent for cenc (default cfg), persistent SL3000 for cbcs.
	for _, pr := range all {
		mpdData, err := os.ReadFile(pr.content.MPD)
		if err != nil {
			return err
		}
		hs, err := ree.HeadersFromMPD(mpdData)
		if err != nil {
			return err
		}
		url := ""
		kind := "non-persistent, minimum SL150"
		if pr.scheme == "cbcs" {
			url = laURL + "?cfg=(persist:true,sl:3000)"
			kind = "persistent, minimum SL3000"
		}
		n.say("Acquiring %s licenses (%s): the challenge is signed with the device key inside the TEE and its client data ElGamal-encrypted to the server certificate; the response signature is checked, then the TEE unwraps each content key with ECDH_ZGen and verifies the license CMAC.", pr.scheme, kind)
		for _, h := range hs {
			res, err := dev.Client.Acquire(ctx, h, url)
			if err != nil {
				return err
			}
			for _, r := range res {
				if r.Err != nil {
					return r.Err
				}
				n.detail("license for %s: bound", r.KID)
			}
		}
	}
	stored, err := dev.Client.StoredLicenses()
	if err != nil {
		return err
	}
	n.detail("%d persistent licenses are in the device store (bbolt).", len(stored))

	// 6. Play and compare.
	for _, pr := range all {
		out := filepath.Join(dir, "out-"+pr.scheme)
		n.say("Playing the %s presentation into %s: every segment is decrypted through TEE key handles and written as clear fMP4.", pr.scheme, out)
		tracks, err := dev.Client.Play(ctx, pr.content.MPD, out, "")
		if err != nil {
			return err
		}
		for _, t := range tracks {
			got, err := SampleData(filepath.Join(out, t.Out))
			if err != nil {
				return err
			}
			want := pr.content.Clear[t.Type]
			if err := sameSamples(got, want); err != nil {
				return fmt.Errorf("%w: %s %s: %v", ErrMismatch, pr.scheme, t.Type, err)
			}
			n.detail("%s %s: %d samples decrypted through the TEE handle for %s, identical to the clear source", pr.scheme, t.Type, t.Samples, t.KID)
		}
	}

	// 7. A device below the license's minimum is refused.
	dev2, err := fx.NewDevice(filepath.Join(dir, "device-sl2000"), fixture.Device{SecurityLevel: 2000})
	if err != nil {
		return err
	}
	defer dev2.Close()
	mpdData, err := os.ReadFile(all[1].content.MPD)
	if err != nil {
		return err
	}
	hdrs, err := ree.HeadersFromMPD(mpdData)
	if err != nil {
		return err
	}
	// The reference server refuses a level above the device certificate's;
	// a server that issues it anyway meets the TEE's own refusal.
	res, err := dev2.Client.Acquire(ctx, hdrs[0], laURL+"?cfg=(sl:3000)")
	switch {
	case errors.Is(err, drm.ErrDeviceSecurityLevelTooLow):
		n.say("An SL2000 software device asked for an SL3000 license and the server refused it: %v.", drm.ErrDeviceSecurityLevelTooLow)
	case err != nil:
		return err
	case len(res) == 0 || !errors.Is(res[0].Err, drm.ErrDeviceSecurityLevelTooLow):
		return fmt.Errorf("demo: an SL2000 device bound an SL3000 license")
	default:
		n.say("An SL2000 software device received an SL3000 license and its TEE refused to bind it: %v.", drm.ErrDeviceSecurityLevelTooLow)
	}

	// 8. Output protection: the TEE decides per output before it releases
	// a decryptor.
	if err := outputs(ctx, n, fx, filepath.Join(dir, "device-outputs"), all[0].content.MPD, laURL, filepath.Join(dir, "out-outputs")); err != nil {
		return err
	}

	// 9. Trusted time: the TEE judges dates on its own clock, not the
	// user's wall clock.
	if err := trustedTime(ctx, n, fx, filepath.Join(dir, "device-clock"), all[0].content.MPD, laURL, filepath.Join(dir, "out-clock")); err != nil {
		return err
	}

	// 10. The main job: the conformance suite, against the clean server and
	// against one with a known bug injected.
	if err := conform(ctx, n, fx, laURL, filepath.Join(dir, "conformance")); err != nil {
		return err
	}
	fmt.Fprintln(o.Out, "demo OK: every decrypted sample matches the clear source, and the conformance suite tells a correct server from a broken one.")
	return nil
}

// outputs plays cenc content under uncompressed digital video OPL 300 on a
// platform with the internal panel and an HDMI output without HDCP: the
// HDMI output is blocked while the panel plays; with the refuse strategy
// playback is refused.
func outputs(ctx context.Context, n *narrator, fx *fixture.Fixture, devDir, mpdPath, laURL, out string) error {
	const spec = "internal;hdmi:hdcp=none"
	d, err := fx.NewDevice(devDir, fixture.Device{SecurityLevel: 3000})
	if err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	plat, err := hal.ParseOutputs(spec)
	if err != nil {
		return err
	}
	d, err = ree.OpenDeviceWith(devDir, ree.OpenOptions{Platform: &plat})
	if err != nil {
		return err
	}
	defer d.Close()
	url := laURL + "?cfg=(ucvopl:300)"
	tracks, err := d.Client.Play(ctx, mpdPath, out, url)
	if err != nil {
		return err
	}
	n.say("Played the cenc presentation with licenses carrying uncompressed digital video OPL 300 on a device whose outputs are %q: before releasing each decryptor the TEE decided per output.", spec)
	var hdmiBlocked, panelPlays bool
	for _, o := range ree.CombineOutputs(plat, tracks) {
		n.detail("%s: %s (%s)", o.Output, o.Action, o.Reason)
		switch {
		case o.Kind == hal.HDMI && o.Action == policy.Block:
			hdmiBlocked = true
		case o.Kind == hal.Internal && o.Action == policy.Pass:
			panelPlays = true
		}
	}
	if !hdmiBlocked || !panelPlays {
		return errors.New("demo: OPL 300 did not block HDMI without HDCP while the panel plays")
	}
	_, err = d.Client.Play(ctx, mpdPath, out+"-refuse", url, ree.WithStrategy(policy.StrategyRefuse))
	if !errors.Is(err, drm.ErrTEEOutputProtectionRequirementsNotMet) {
		return fmt.Errorf("demo: the refuse strategy did not refuse playback (%v)", err)
	}
	n.detail("with --strategy refuse the TEE refuses playback instead: %v", drm.ErrTEEOutputProtectionRequirementsNotMet)
	return nil
}

// trustedTime shows the anti-rollback clock at work on a PlayReady 4.5
// device: a persistent license that ends in an hour plays; the user sets
// the wall clock back two hours and the TEE refuses to play
// (DRM_E_TEE_CLOCK_DRIFTED: the wall clock is behind the clock's
// last-known-good time); set right again it plays; then two hours pass
// without waiting (TPM2_ClockSet moves the TPM Clock that witnesses the
// wall clock, and the wall clock moves with it) and the license has expired
// (DRM_E_LICENSE_EXPIRED). The device is a software one: the simulator is
// one per process and the main device holds it; the soft backend carries an
// emulated TPM Clock in its sealed state, which ClockSet moves the same way.
func trustedTime(ctx context.Context, n *narrator, fx *fixture.Fixture, devDir, mpdPath, laURL, out string) error {
	d, err := fx.NewDevice(devDir, fixture.Device{SecurityLevel: 3000, Version: "4.5", Clock: clock.KindAntiRollback})
	if err != nil {
		return err
	}
	defer d.Close()
	// Whole seconds: XMR dates have no finer resolution.
	end := d.Wall.Now().UTC().Add(time.Hour).Truncate(time.Second)
	url := laURL + "?cfg=(persist:true,enddate:" + end.Format("20060102150405") + ")"
	if _, err := d.Client.Play(ctx, mpdPath, out, url); err != nil {
		return err
	}
	n.say("Trusted time: a PlayReady 4.5 device with an anti-rollback clock acquired persistent licenses ending at %s and played the cenc presentation; the TEE checks the dates on its own clock (the wall clock, never allowed behind its sealed last-known-good time, which the TPM Clock witnesses).",
		end.Format(time.RFC3339))

	if err := d.AdvanceWallClock(-2 * time.Hour); err != nil {
		return err
	}
	_, err = d.Client.Play(ctx, mpdPath, out+"-back", url)
	if !errors.Is(err, drm.ErrTEEClockDrifted) {
		return fmt.Errorf("demo: playing with the wall clock set back 2 h was not refused with %s (%v)", drm.ErrTEEClockDrifted, err)
	}
	n.detail("the user set the wall clock back 2 h to stretch the license: refused, %s: %s", drm.ErrTEEClockDrifted, clockReason(err))

	if err := d.AdvanceWallClock(2 * time.Hour); err != nil {
		return err
	}
	if _, err := d.Client.Play(ctx, mpdPath, out+"-again", url); err != nil {
		return fmt.Errorf("demo: playing with the wall clock set right again: %w", err)
	}
	n.detail("wall clock set right again: plays")

	// Two hours pass: the TPM Clock and the wall clock both move, as they
	// would in real time, and the license's end is behind them.
	if err := d.TEE.AdvanceTPMClock(2 * time.Hour); err != nil {
		return err
	}
	if err := d.AdvanceWallClock(2 * time.Hour); err != nil {
		return err
	}
	_, err = d.Client.Play(ctx, mpdPath, out+"-late", url)
	if !errors.Is(err, drm.ErrLicenseExpired) {
		return fmt.Errorf("demo: playing 2 h later was not refused with %s (%v)", drm.ErrLicenseExpired, err)
	}
	n.detail("two hours later, without waiting (the TPM Clock moved forward as TPM2_ClockSet does, emulated on this software device, and the wall clock with it): the license ended at %s, refused, %s",
		end.Format(time.RFC3339), drm.ErrLicenseExpired)
	return nil
}

// clockReason is the TEE's reason for a clock refusal, which names times
// only (never key material).
func clockReason(err error) string {
	var ce *tee.ClockError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return err.Error()
}

// conform runs the conformance suite against the demo's server, then
// against a second server with the ignore-sl defect, and checks that the
// suite passes the first and catches the second.
func conform(ctx context.Context, n *narrator, fx *fixture.Fixture, laURL, work string) error {
	pkiDir := fx.PKIDir()
	rep, err := conformance.Run(ctx, conformance.Options{URL: laURL, PKIDir: pkiDir, WorkDir: filepath.Join(work, "clean")})
	if err != nil {
		return err
	}
	n.say("Ran the conformance suite (prsim conformance run) against the reference server with fresh software devices: %d pass, %d fail, %d skipped, %d error.",
		rep.Summary.Pass, rep.Summary.Fail, rep.Summary.Skipped, rep.Summary.Error)
	if rep.MustFailed() || rep.Summary.Fail > 0 || rep.Summary.Error > 0 {
		return errors.New("demo: the reference server failed its own conformance suite")
	}
	bad, err := fx.StartServer(licsrv.Config{Defects: []licsrv.Defect{licsrv.DefectIgnoreSL}, Limits: demoLimits()})
	if err != nil {
		return err
	}
	defer bad.Close()
	badURL := bad.LAURL
	rep, err = conformance.Run(ctx, conformance.Options{URL: badURL, PKIDir: pkiDir, WorkDir: filepath.Join(work, "ignore-sl")})
	if err != nil {
		return err
	}
	n.say("Ran it again against a server started with --defect %s (%s): %d pass, %d fail.",
		licsrv.DefectIgnoreSL, licsrv.DefectIgnoreSL.Description(), rep.Summary.Pass, rep.Summary.Fail)
	caught := false
	for _, r := range rep.Results {
		if r.Status == conformance.Fail {
			caught = true
			n.detail("%s %s (%s): %s", r.ID, r.Status, r.Level, r.Detail)
		}
	}
	if !caught || !rep.MustFailed() {
		return errors.New("demo: the conformance suite did not catch the ignore-sl defect")
	}
	return nil
}

// demoLimits are the reference server's limits with short header and idle
// timeouts, so that the conformance scenarios that wait for the server to
// cut a slow or idle connection (R3, R4) take about a second each.
func demoLimits() licsrv.Limits {
	return licsrv.Limits{ReadHeaderTimeout: time.Second, IdleTimeout: time.Second}
}

func sameSamples(got, want [][]byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			return fmt.Errorf("sample %d differs", i)
		}
	}
	return nil
}

// SampleData returns the sample payloads of a fragmented MP4 file (one
// track), in decode order.
func SampleData(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := mp4.DecodeFile(bytes.NewReader(b))
	if err != nil || f.Init == nil || f.Init.Moov == nil || f.Init.Moov.Mvex == nil {
		return nil, fmt.Errorf("demo: %s is not a fragmented MP4", path)
	}
	trex := f.Init.Moov.Mvex.Trex
	var out [][]byte
	for _, s := range f.Segments {
		for _, fr := range s.Fragments {
			ss, err := fr.GetFullSamples(trex)
			if err != nil {
				return nil, err
			}
			for _, x := range ss {
				out = append(out, append([]byte(nil), x.Data...))
			}
		}
	}
	return out, nil
}
