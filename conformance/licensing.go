package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/xmr"
)

func licensingScenarios() []Scenario {
	s := func(id string, l Level, persona, rule, title string, run func(context.Context, *env) outcome) Scenario {
		return Scenario{ID: id, Family: FamilyLicensing, Level: l, Persona: persona, Rule: rule, Title: title, run: run}
	}
	return []Scenario{
		s("L1", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §6 (test-server default: one non-persistent license for the header KID); docs/formats/soap.md §8",
			"A WRMHEADER 4.0 with one KID gets exactly one non-persistent license for that KID, which the device binds.",
			runL1),
		s("L2", Must, PersonaSL3000,
			"docs/formats/pro-header.md §4 (4.2/4.3 KIDS list); docs/formats/policies-and-outputs.md §6 (one license per KID group)",
			"A WRMHEADER 4.2 and a 4.3 with three KIDs each get one bound license per KID, no KID missing or repeated.",
			runL2),
		s("L3", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §5 and §6 (persist:true); MS docs Overview/license-persistence.md",
			"A persist:true license is persistent, is stored, and still binds after the device restarts.",
			runL3),
		s("L4", Must, PersonaSL3000,
			"docs/formats/pro-header.md §4 (ALGID AESCBC, 4.3); docs/formats/xmr.md §8 (key type 5 = AES-CBC); docs/formats/policies-and-outputs.md §6 (ckt)",
			"A WRMHEADER 4.3 whose KID has ALGID AESCBC (cbcs content) gets a license with an AES-CBC content key.",
			runL4),
		s("L5", Must, PersonaSL3000,
			"docs/formats/pro-header.md §6 (CHECKSUM) and §7 (test key seed); docs/formats/policies-and-outputs.md §6 (default key)",
			"Without a content key in the request, the license key is the test-key-seed key: it matches the header CHECKSUM.",
			runL5),
		s("L6", Must, PersonaSL3000,
			"docs/formats/pro-header.md §4 (PROTECTINFO LICENSEREQUESTED, 4.3)",
			`A WRMHEADER 4.3 with LICENSEREQUESTED="false" is answered with a response holding no license and no fault.`,
			runL6),
		s("L7", Must, PersonaSL2000,
			"docs/formats/policies-and-outputs.md §1 (a client binds only if its SL ≥ the license minimum) and §6 (sl)",
			"An SL2000 device asking for an sl:3000 license is refused with a fault or gets a license it cannot bind, never one it binds.",
			runL7),
	}
}

// newKID draws a random KID.
func (e *env) newKID() (kid.ID, error) {
	var id kid.ID
	if _, err := io.ReadFull(e.o.Rand, id[:]); err != nil {
		return id, err
	}
	id[6] = id[6]&0x0f | 0x40 // a version-4 UUID, as packagers make
	id[8] = id[8]&0x3f | 0x80
	return id, nil
}

func (e *env) newKIDs(n int) ([]kid.ID, error) {
	out := make([]kid.ID, n)
	for i := range out {
		var err error
		if out[i], err = e.newKID(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *env) header(version, alg string, ids ...kid.ID) *pro.Header {
	h := &pro.Header{Version: version, LAURL: e.o.URL}
	for _, id := range ids {
		h.KIDs = append(h.KIDs, pro.KeyInfo{ID: id, AlgID: alg})
	}
	return h
}

// bindAll binds every license through d's REE (stored if persistent).
func bindAll(d *ree.Device, lics [][]byte) []ree.LicenseResult {
	out := make([]ree.LicenseResult, len(lics))
	for i, l := range lics {
		out[i] = d.Client.BindLicense(l)
	}
	return out
}

// firstBindError names the first license that did not bind.
func firstBindError(rs []ree.LicenseResult) error {
	for _, r := range rs {
		if !r.Bound {
			return fmt.Errorf("license for %s not bound: %s", r.KID, codeText(r.Err))
		}
		if r.Err != nil {
			return fmt.Errorf("license for %s: %s", r.KID, codeText(r.Err))
		}
	}
	return nil
}

func runL1(ctx context.Context, e *env) outcome {
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	id, err := e.newKID()
	if err != nil {
		return errored("%v", err)
	}
	u, _ := e.laURL("(persist:false)", false)
	x, err := e.acquire(ctx, d, e.header(pro.Version40, pro.AlgAESCTR, id), u, nil, nil)
	if err != nil {
		return errored("%v", err)
	}
	const want = "one non-persistent license for the header KID, bound"
	lics, bad := x.licenses(want)
	if bad != nil {
		return *bad
	}
	if len(lics) != 1 {
		return failed(want, fmt.Sprintf("%d licenses", len(lics)))
	}
	rs := bindAll(d, lics)
	if rs[0].KID != id {
		return failed(want, fmt.Sprintf("a license for KID %s", rs[0].KID))
	}
	if rs[0].Persistent {
		return failed(want, "a persistent license")
	}
	if err := firstBindError(rs); err != nil {
		return failed(want, err.Error())
	}
	return passed("one non-persistent license, bound")
}

func runL2(ctx context.Context, e *env) outcome {
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	for _, v := range []string{pro.Version42, pro.Version43} {
		ids, err := e.newKIDs(3)
		if err != nil {
			return errored("%v", err)
		}
		var groups []string
		for _, id := range ids {
			groups = append(groups, "(kid:"+id.String()+")")
		}
		u, _ := e.laURL(strings.Join(groups, ","), false)
		x, err := e.acquire(ctx, d, e.header(v, pro.AlgAESCTR, ids...), u, nil, nil)
		if err != nil {
			return errored("%v", err)
		}
		want := fmt.Sprintf("one bound license for each of the 3 KIDs of a %s header", v)
		lics, bad := x.licenses(want)
		if bad != nil {
			return *bad
		}
		rs := bindAll(d, lics)
		count := map[kid.ID]int{}
		for _, r := range rs {
			count[r.KID]++
		}
		for _, id := range ids {
			if count[id] != 1 {
				return failed(want, fmt.Sprintf("%d license(s) for KID %s among %d", count[id], id, len(lics)))
			}
		}
		if len(lics) != len(ids) {
			return failed(want, fmt.Sprintf("%d licenses", len(lics)))
		}
		if err := firstBindError(rs); err != nil {
			return failed(want, err.Error())
		}
	}
	return passed("4.2 and 4.3 headers: one bound license per KID")
}

func runL3(ctx context.Context, e *env) outcome {
	const cfg = "(persist:true)"
	u, ok := e.laURL(cfg, true)
	if !ok {
		return needsPolicy(cfg)
	}
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	id, err := e.newKID()
	if err != nil {
		return errored("%v", err)
	}
	x, err := e.acquire(ctx, d, e.header(pro.Version40, pro.AlgAESCTR, id), u, nil, nil)
	if err != nil {
		return errored("%v", err)
	}
	const want = "one persistent license, stored, that binds again after a device restart"
	lics, bad := x.licenses(want)
	if bad != nil {
		return *bad
	}
	if len(lics) != 1 {
		return failed(want, fmt.Sprintf("%d licenses", len(lics)))
	}
	rs := bindAll(d, lics)
	if err := firstBindError(rs); err != nil {
		return failed(want, err.Error())
	}
	if !rs[0].Persistent {
		return failed(want, "a non-persistent license (SETTINGS CANNOT_PERSIST)")
	}
	d, err = e.restart(d)
	if err != nil {
		return errored("%v", err)
	}
	stored, err := d.Client.StoredLicenses()
	if err != nil {
		return errored("cannot list stored licenses: %v", err)
	}
	n := 0
	for _, l := range stored {
		if l.KID == id {
			n++
		}
	}
	if n != 1 {
		return failed(want, fmt.Sprintf("%d stored license(s) for the KID after the restart", n))
	}
	if _, err := d.Client.Key(id); err != nil {
		return failed(want, "the stored license does not bind after the restart: "+codeText(err))
	}
	return passed("persistent license stored and bound after a restart")
}

func runL4(ctx context.Context, e *env) outcome {
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	id, err := e.newKID()
	if err != nil {
		return errored("%v", err)
	}
	u, _ := e.laURL("(ckt:aes128bitcbc)", false)
	x, err := e.acquire(ctx, d, e.header(pro.Version43, pro.AlgAESCBC, id), u, nil, nil)
	if err != nil {
		return errored("%v", err)
	}
	const want = "one license with an AES-CBC (key type 5) content key, bound"
	lics, bad := x.licenses(want)
	if bad != nil {
		return *bad
	}
	if len(lics) != 1 {
		return failed(want, fmt.Sprintf("%d licenses", len(lics)))
	}
	l, err := xmr.Parse(lics[0])
	if err != nil {
		return failed(want, "a license that does not parse: "+codeText(err))
	}
	ck, err := l.ContentKey()
	if err != nil {
		return failed(want, "a license without a content key: "+codeText(err))
	}
	if ck.KeyType != xmr.KeyTypeAESCBC {
		return failed(want, fmt.Sprintf("content key type %d", ck.KeyType))
	}
	rs := bindAll(d, lics)
	if err := firstBindError(rs); err != nil {
		return failed(want, err.Error())
	}
	k, err := d.Client.Key(id)
	if err != nil || !k.CBC() {
		return failed(want, "a bound key the TEE does not take as AES-CBC")
	}
	return passed("AES-CBC content key, bound")
}

func runL5(ctx context.Context, e *env) outcome {
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	id, err := e.newKID()
	if err != nil {
		return errored("%v", err)
	}
	ck, err := keyseed.Derive(keyseed.TestSeed(), id)
	if err != nil {
		return errored("%v", err)
	}
	sum, err := pro.Checksum(pro.AlgAESCTR, id, ck[:])
	clear(ck[:])
	if err != nil {
		return errored("%v", err)
	}
	h := e.header(pro.Version40, pro.AlgAESCTR, id)
	h.KIDs[0].Checksum = sum
	x, err := e.acquire(ctx, d, h, e.o.URL, nil, nil)
	if err != nil {
		return errored("%v", err)
	}
	const want = "a bound license whose content key matches the header CHECKSUM (test key seed)"
	lics, bad := x.licenses(want)
	if bad != nil {
		return *bad
	}
	if len(lics) != 1 {
		return failed(want, fmt.Sprintf("%d licenses", len(lics)))
	}
	if err := firstBindError(bindAll(d, lics)); err != nil {
		return failed(want, err.Error())
	}
	k, err := d.Client.Key(id)
	if err != nil {
		return failed(want, codeText(err))
	}
	if err := k.VerifyChecksum(pro.AlgAESCTR, sum); err != nil {
		return failed(want, "a content key that does not match the CHECKSUM: "+codeText(err))
	}
	return passed("content key matches the CHECKSUM")
}

func runL6(ctx context.Context, e *env) outcome {
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	id, err := e.newKID()
	if err != nil {
		return errored("%v", err)
	}
	h := e.header(pro.Version43, pro.AlgAESCTR, id)
	no := false
	h.LicenseRequested = &no
	x, err := e.acquire(ctx, d, h, e.o.URL, nil, nil)
	if err != nil {
		return errored("%v", err)
	}
	const want = "a response with no license and no fault"
	if x.resp == nil {
		return failed(want, x.describe())
	}
	if n := len(x.resp.Licenses); n != 0 {
		return failed(want, fmt.Sprintf("a response with %d license(s)", n))
	}
	return passed("no license, no fault")
}

func runL7(ctx context.Context, e *env) outcome {
	const cfg = "(sl:3000)"
	u, ok := e.laURL(cfg, true)
	if !ok {
		return needsPolicy(cfg)
	}
	d, err := e.device(PersonaSL2000)
	if err != nil {
		return errored("%v", err)
	}
	id, err := e.newKID()
	if err != nil {
		return errored("%v", err)
	}
	x, err := e.acquire(ctx, d, e.header(pro.Version40, pro.AlgAESCTR, id), u, nil, nil)
	if err != nil {
		return errored("%v", err)
	}
	const want = "a fault, or licenses the SL2000 device refuses to bind"
	switch {
	case x.fault != nil:
		return passed("refused: " + x.describe())
	case x.resp == nil:
		return failed(want, x.describe())
	}
	for _, r := range bindAll(d, x.resp.Licenses) {
		if r.Bound {
			return failed(want, fmt.Sprintf("the SL2000 device bound the license for %s (minimum SL %d)", r.KID, r.MinSecurityLevel))
		}
		if !errors.Is(r.Err, drm.ErrDeviceSecurityLevelTooLow) {
			return failed(want, "a license refused for another reason: "+codeText(r.Err))
		}
	}
	return passed(fmt.Sprintf("%d license(s), refused by the device with %s", len(x.resp.Licenses), drm.ErrDeviceSecurityLevelTooLow))
}
