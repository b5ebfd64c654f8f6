package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/revocation"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// Revocation (docs/protocol.md §12, docs/formats/revocation.md): the
// runner is the authority's client here. It revokes throwaway devices and
// models in the PKI directory it shares with the server (pki.Revoke, as
// `prsim pki revoke` does) and waits for the server to reload.

const (
	// defaultRevocationWait is how long RV1–RV5 wait for the server to
	// reload the lists (and the allow file) after the runner changed them.
	defaultRevocationWait = 15 * time.Second
	// revPoll is the pause between two requests while waiting: real time,
	// like ConnWait, since the server reloads on its own clock.
	revPoll = 100 * time.Millisecond
)

// revServed are the lists a prsim authority issues and a server must
// deliver, in the order they are judged.
func revServed() []kid.ID {
	return []kid.ID{revocation.ListRevInfo2, revocation.ListRuntime, revocation.ListApp}
}

func revocationScenarios() []Scenario {
	return family(FamilyRevocation, []row{
		{"RV1", Must, PersonaRevokedDevice,
			"docs/protocol.md §12 (a chain with a certificate on the runtime CRL is refused); docs/formats/revocation.md §3 and §6",
			"A device whose leaf certificate the authority revokes is refused with DRM_E_DEVCERT_REVOKED once the server has reloaded its lists.",
			runRV1},
		{"RV2", Must, PersonaRevokedModel,
			"docs/protocol.md §12 (the BASIC digest of every certificate of the chain is matched); docs/formats/revocation.md §3 and §6",
			"A device under a model certificate the authority revokes is refused with DRM_E_DEVCERT_REVOKED once the server has reloaded its lists.",
			runRV2},
		{"RV3", Should, PersonaRevokedModel,
			"docs/formats/revocation.md §6 (RevAllowInfo: revoked model or company certificates the operator serves anyway); docs/protocol.md §12",
			"A device under a revoked model certificate is served again once the model's digest is on the server's RevAllowInfo allow list.",
			runRV3},
		{"RV4", Must, PersonaSL3000,
			"docs/formats/revocation.md §4 (newer lists go into the license response); docs/protocol.md §12",
			"A challenge advertising version 0 of RevInfo v2 and the runtime and application CRLs gets all three in the response, at the authority's current versions, signed by a CRL signer chained to the root.",
			runRV4},
		{"RV5", Must, PersonaSL3000,
			"docs/formats/revocation.md §5 (REVOCATION_INFORMATION_VERSION_2 in every license); docs/protocol.md §12",
			"A license carries REVOCATION_INFORMATION_VERSION_2 (0x0032) equal to the RIV of the RevInfo the server delivers, at least 1.",
			runRV5},
	})
}

// preIngest gives a device just provisioned the authority's current lists,
// as a device leaves the factory with the revocation data of its day. A
// server that never delivers lists (RV4's concern) then still issues
// licenses the runner's devices bind, and only RV4 fails on it. The TEE
// verifies the lists as it does a server's; without lists in the PKI
// directory (another authority's server) the device starts with none.
func (e *env) preIngest(d *ree.Device) {
	l, err := pki.Lists(e.o.PKIDir)
	if err != nil {
		return
	}
	for _, id := range revServed() {
		_, _ = d.TEE.IngestRevocation(id, l.Blob(id))
	}
}

// throwaway provisions a fresh SL3000 device under model for this scenario
// only (it is about to be revoked) and opens it; its directory goes with
// the personas'.
func (e *env) throwaway(model *pki.Issuer) (*ree.Device, error) {
	dir, err := e.tempDir("device")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(dir); err != nil { // ree.NewDevice makes it
		return nil, err
	}
	if err := e.makeDevice(dir, model, e.pki.Root, persona{sl: 3000, version: "4.5"}); err != nil {
		return nil, err
	}
	e.devDirs[filepath.Base(dir)] = dir
	d, err := ree.OpenDevice(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot open the throwaway device: %w", err)
	}
	e.open = append(e.open, d)
	return d, nil
}

// ask sends d's challenge for one fresh KID (no policy), changed by edit.
func (e *env) ask(ctx context.Context, d *ree.Device, edit func(*soap.Challenge)) (*exchange, error) {
	id, err := e.newKID()
	if err != nil {
		return nil, err
	}
	return e.acquire(ctx, d, e.header(pro.Version40, pro.AlgAESCTR, id), e.o.URL, edit, nil)
}

// wait pauses between two polls; false when the wait is over (deadline in
// real time) or ctx ended.
func wait(ctx context.Context, deadline time.Time) bool {
	if !time.Now().Add(revPoll).Before(deadline) {
		return false
	}
	t := time.NewTimer(revPoll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func revoked(x *exchange) bool { return x.fault != nil && x.fault.Code == drm.ErrDevCertRevoked }

// servedOK is the control before a revocation: the fresh device gets a
// license. Nil when it does.
func servedOK(x *exchange, who string) *outcome {
	if x.resp != nil && len(x.resp.Licenses) > 0 {
		return nil
	}
	o := failed("a license for "+who+" before it is revoked (the control)", x.describe())
	return &o
}

// untilRefused polls d's acquisitions until the server refuses it with
// DRM_E_DEVCERT_REVOKED. Nil outcome: refused (n requests).
func (e *env) untilRefused(ctx context.Context, d *ree.Device, want string) (int, *outcome) {
	deadline := time.Now().Add(e.o.RevocationWait)
	for n := 1; ; n++ {
		x, err := e.ask(ctx, d, nil)
		if err != nil {
			o := failedOrErrored(want, err)
			return n, &o
		}
		switch {
		case revoked(x):
			return n, nil
		case x.resp == nil:
			o := failed(want, x.describe()) // another fault: not a reload lag
			return n, &o
		}
		if !wait(ctx, deadline) {
			o := failed(want, fmt.Sprintf("%s on each of %d requests over %s", x.describe(), n, e.o.RevocationWait))
			return n, &o
		}
	}
}

// revokeThenRefused is RV1 and RV2 (and RV3's first half): a throwaway
// device under model is served, then the authority revokes the leaf (or
// the model), then the device must be refused.
func (e *env) revokeThenRefused(ctx context.Context, model *pki.Issuer, byModel bool) (*ree.Device, [32]byte, string, *outcome) {
	stop := func(o outcome) (*ree.Device, [32]byte, string, *outcome) { return nil, [32]byte{}, "", &o }
	if _, err := e.serverEncKey(ctx); err != nil {
		return stop(errored("%v", err))
	}
	d, err := e.throwaway(model)
	if err != nil {
		return stop(errored("%v", err))
	}
	what := "the device's leaf certificate"
	if byModel {
		what = "its model certificate"
	}
	x, err := e.ask(ctx, d, nil)
	if err != nil {
		return stop(failedOrErrored("a license for the fresh device", err))
	}
	if bad := servedOK(x, "the fresh device"); bad != nil {
		return stop(*bad)
	}
	var digest [32]byte
	if byModel {
		digest = model.Chain.Leaf().Basic().Digest
	} else {
		c, err := bcert.ParseChain(d.TEE.Chain())
		if err != nil {
			return stop(errored("the device's chain does not parse: %v", err))
		}
		digest = c.Leaf().Basic().Digest
	}
	crl, riv, err := pki.Revoke(e.o.PKIDir, digest, e.o.Now())
	if err != nil {
		return stop(errored("cannot revoke %s in the PKI: %v", what, err))
	}
	want := fmt.Sprintf("fault %s within %s of revoking %s (digest %s; runtime CRL version %d, RIV %d)",
		drm.ErrDevCertRevoked, e.o.RevocationWait, what, b64(digest), crl, riv)
	n, bad := e.untilRefused(ctx, d, want)
	if bad != nil {
		return stop(*bad)
	}
	return d, digest, fmt.Sprintf("refused with %s after %s was revoked (runtime CRL version %d, RIV %d; %d request(s))",
		drm.ErrDevCertRevoked, what, crl, riv, n), nil
}

func b64(d [32]byte) string { return base64.StdEncoding.EncodeToString(d[:]) }

func runRV1(ctx context.Context, e *env) outcome {
	model, err := e.pki.Model(3000)
	if err != nil {
		return errored("%v", err)
	}
	_, _, note, bad := e.revokeThenRefused(ctx, model, false)
	if bad != nil {
		return *bad
	}
	return passed(note)
}

// newModel is a throwaway model certificate under the PKI root: the PKI's
// own models are never revoked (every persona and run uses them).
func (e *env) newModel() (*pki.Issuer, error) {
	m, err := e.pki.NewModel(3000, e.o.Rand, e.o.Now())
	if err != nil {
		return nil, fmt.Errorf("cannot make a throwaway model: %w", err)
	}
	return m, nil
}

func runRV2(ctx context.Context, e *env) outcome {
	model, err := e.newModel()
	if err != nil {
		return errored("%v", err)
	}
	_, _, note, bad := e.revokeThenRefused(ctx, model, true)
	if bad != nil {
		return *bad
	}
	return passed(note)
}

func runRV3(ctx context.Context, e *env) outcome {
	if e.o.RevAllow == "" {
		return skipped("no allow file: pass the server's --rev-allow file with --rev-allow FILE (the runner adds a throwaway model's digest to it)")
	}
	model, err := e.newModel()
	if err != nil {
		return errored("%v", err)
	}
	d, digest, _, bad := e.revokeThenRefused(ctx, model, true)
	if bad != nil {
		return *bad
	}
	if err := addAllowed(e.o.RevAllow, digest); err != nil {
		return errored("cannot add the model's digest to the allow file: %v", err)
	}
	want := fmt.Sprintf("a license within %s of adding the revoked model's digest %s to the allow file", e.o.RevocationWait, b64(digest))
	deadline := time.Now().Add(e.o.RevocationWait)
	for n := 1; ; n++ {
		x, err := e.ask(ctx, d, nil)
		if err != nil {
			return failedOrErrored(want, err)
		}
		switch {
		case x.resp != nil && len(x.resp.Licenses) > 0:
			return passed(fmt.Sprintf("refused once its model was revoked, served again %d request(s) after the model was allow-listed", n))
		case !revoked(x):
			return failed(want, x.describe())
		}
		if !wait(ctx, deadline) {
			return failed(want, fmt.Sprintf("%s on each of %d requests over %s", x.describe(), n, e.o.RevocationWait))
		}
	}
}

// addAllowed adds digest to a RevAllowInfo file as one more AllowList
// before the closing root tag, keeping the operator's entries and layout,
// and replaces the file atomically (the server may read it at any time).
func addAllowed(path string, digest [32]byte) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.LastIndex(b, []byte("</RevAllowInfo>"))
	if i < 0 {
		return fmt.Errorf("%s has no </RevAllowInfo> closing tag", filepath.Base(path))
	}
	entry := "<AllowList><CertificateHash>" + b64(digest) + "</CertificateHash></AllowList>\n"
	out := append(append(append([]byte{}, b[:i]...), entry...), b[i:]...)
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".revallow-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if _, err := f.Write(out); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Chmod(fi.Mode().Perm()); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// delivered checks the lists of a response: each must parse and verify to
// the PKI root with a CRL-signer chain. It returns the versions delivered,
// by list, or a failing outcome.
func (e *env) delivered(lists []soap.Revocation, want string) (map[kid.ID]uint64, *outcome) {
	fail := func(seen string) (map[kid.ID]uint64, *outcome) {
		o := failed(want, seen)
		return nil, &o
	}
	roots := []ecc.Point{e.pki.Root}
	got := map[kid.ID]uint64{}
	for _, l := range lists {
		id, err := kid.FromGUID(l.ListID[:])
		if err != nil {
			return fail("a Revocation whose ListID is not a GUID")
		}
		name := listLabel(id)
		switch id {
		case revocation.ListRevInfo2:
			r, err := revocation.ParseRevInfo(l.Data)
			if err != nil {
				return fail("a RevInfo v2 that does not parse (" + codeText(err) + ")")
			}
			if _, err := r.Verify(roots, e.o.Now()); err != nil {
				return fail(fmt.Sprintf("a RevInfo v2 (RIV %d) that does not verify to the PKI root as a CRL signer (%s)", r.RIV, codeText(err)))
			}
			got[id] = uint64(r.RIV)
		case revocation.ListRuntime, revocation.ListApp:
			c, err := revocation.ParseCRL(l.Data)
			if err != nil {
				return fail("a " + name + " CRL that does not parse (" + codeText(err) + ")")
			}
			if c.ID != id {
				return fail("a " + name + " Revocation whose data is the " + listLabel(c.ID) + " list")
			}
			if _, err := c.Verify(roots, e.o.Now()); err != nil {
				return fail(fmt.Sprintf("a %s CRL (version %d) that does not verify to the PKI root as a CRL signer (%s)", name, c.Version, codeText(err)))
			}
			got[id] = uint64(c.Version)
		default:
			// WMDRM-ND or a list prsim does not know: not judged.
		}
	}
	return got, nil
}

func listLabel(id kid.ID) string {
	if n := revocation.ListName(id); n != "" {
		return n
	}
	return id.String()
}

// versionsText renders list versions, in revServed order.
func versionsText(v map[kid.ID]uint64) string {
	var parts []string
	for _, id := range revServed() {
		if n, ok := v[id]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", listLabel(id), n))
		}
	}
	if len(parts) == 0 {
		return "no list"
	}
	return strings.Join(parts, ", ")
}

func authorityVersions(l *pki.RevLists) map[kid.ID]uint64 {
	out := map[kid.ID]uint64{}
	for _, id := range revServed() {
		out[id], _ = l.Version(id)
	}
	return out
}

func runRV4(ctx context.Context, e *env) outcome {
	if _, err := e.serverEncKey(ctx); err != nil {
		return errored("%v", err)
	}
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	// The authority's versions are read before each request: a server may
	// lag them by one reload interval, never lead them.
	deadline := time.Now().Add(e.o.RevocationWait)
	var cur map[kid.ID]uint64
	for n := 1; ; n++ {
		l, err := pki.Lists(e.o.PKIDir)
		if err != nil {
			return errored("cannot read the PKI's revocation lists: %v", err)
		}
		cur = authorityVersions(l)
		want := "RevInfo v2, runtime and application CRLs delivered at the authority's versions (" + versionsText(cur) + "), verifying to the PKI root"
		x, err := e.ask(ctx, d, nil) // advertises version 0 of every list
		if err != nil {
			return failedOrErrored(want, err)
		}
		if x.resp == nil {
			return failed(want, x.describe())
		}
		got, bad := e.delivered(x.resp.RevInfo, want)
		if bad != nil {
			return *bad
		}
		same := true
		for _, id := range revServed() {
			same = same && got[id] == cur[id]
		}
		if same {
			break
		}
		if !wait(ctx, deadline) {
			return failed(want, fmt.Sprintf("%s (%d requests over %s)", versionsText(got), n, e.o.RevocationWait))
		}
	}
	// Should-level detail: a challenge that already holds the current
	// versions needs no list; one sent anyway only costs bytes.
	x, err := e.ask(ctx, d, func(ch *soap.Challenge) {
		for i, r := range ch.RevLists {
			if id, err := kid.FromGUID(r.ListID[:]); err == nil {
				ch.RevLists[i].Version = cur[id]
			}
		}
	})
	note := ""
	switch {
	case err != nil:
		note = "; the request advertising the current versions got no answer: " + sanitize(err.Error(), 120)
	case x.resp == nil:
		note = "; the request advertising the current versions got " + x.describe()
	case len(x.resp.RevInfo) > 0:
		note = fmt.Sprintf("; note (should): the request advertising the current versions still got %d list(s)", len(x.resp.RevInfo))
	default:
		note = "; none for a challenge advertising the current versions"
	}
	return passed("delivered " + versionsText(cur) + ", verifying to the PKI root" + note)
}

func runRV5(ctx context.Context, e *env) outcome {
	const base = "a license carrying REVOCATION_INFORMATION_VERSION_2 (0x0032)"
	deadline := time.Now().Add(e.o.RevocationWait)
	for n := 1; ; n++ {
		x, stop := e.acquireNew(ctx, request{persona: PersonaSL3000, want: base})
		if stop != nil {
			return *stop
		}
		_, l, bad := x.oneParsed(base)
		if bad != nil {
			return *bad
		}
		g := l.Outer.Child(xmr.TypeGlobalPolicyContainer)
		if g == nil || g.Child(xmr.TypeRevocationInfoVersion2) == nil {
			return failed(base, "no REVOCATION_INFORMATION_VERSION_2 object")
		}
		riv := l.Policy().RIV
		// The RIV to expect: the delivered RevInfo's; without one (the
		// server delivers none: RV4's concern), the authority's.
		wantRIV, fromDelivered := uint32(0), true
		for _, r := range x.resp.RevInfo {
			if id, err := kid.FromGUID(r.ListID[:]); err == nil && id == revocation.ListRevInfo2 {
				if ri, err := revocation.ParseRevInfo(r.Data); err == nil {
					wantRIV = ri.RIV
				}
			}
		}
		from := "the delivered RevInfo's"
		if wantRIV == 0 {
			ls, err := pki.Lists(e.o.PKIDir)
			if err != nil {
				return errored("no RevInfo delivered and the PKI's lists cannot be read: %v", err)
			}
			wantRIV, fromDelivered, from = ls.RevInfo.RIV, false, "the authority's (no RevInfo delivered)"
		}
		want := fmt.Sprintf("%s = %d, %s RIV", base, wantRIV, from)
		switch {
		case riv == wantRIV && riv >= 1:
			return passed(fmt.Sprintf("license RIV %d = %s RIV", riv, from))
		case riv == 0 || riv > wantRIV || fromDelivered:
			return failed(want, fmt.Sprintf("RIV %d", riv))
		}
		// Below the authority's with nothing delivered: the server may not
		// have reloaded yet.
		if !wait(ctx, deadline) {
			return failed(want, fmt.Sprintf("RIV %d on each of %d requests over %s", riv, n, e.o.RevocationWait))
		}
		e.closeDevices() // one device open at a time
	}
}
