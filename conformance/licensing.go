package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/xmr"
)

func licensingScenarios() []Scenario {
	return family(FamilyLicensing, []row{
		{"L1", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §6 (test-server default: one non-persistent license for the header KID); docs/formats/soap.md §8",
			"A WRMHEADER 4.0 with one KID gets exactly one non-persistent license for that KID, which the device binds.",
			runL1},
		{"L2", Must, PersonaSL3000,
			"docs/formats/pro-header.md §4 (4.2/4.3 KIDS list); docs/formats/policies-and-outputs.md §6 (one license per KID group)",
			"A WRMHEADER 4.2 and a 4.3 with three KIDs each get one bound license per KID, no KID missing or repeated.",
			runL2},
		{"L3", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §5 and §6 (persist:true); MS docs Overview/license-persistence.md",
			"A persist:true license is persistent, is stored, and still binds after the device restarts.",
			runL3},
		{"L4", Must, PersonaSL3000,
			"docs/formats/pro-header.md §4 (ALGID AESCBC, 4.3); docs/formats/xmr.md §8 (key type 5 = AES-CBC); docs/formats/policies-and-outputs.md §6 (ckt)",
			"A WRMHEADER 4.3 whose KID has ALGID AESCBC (cbcs content) gets a license with an AES-CBC content key.",
			runL4},
		{"L5", Must, PersonaSL3000,
			"docs/formats/pro-header.md §6 (CHECKSUM) and §7 (test key seed); docs/formats/policies-and-outputs.md §6 (default key)",
			"Without a content key in the request, the license key is the test-key-seed key: it matches the header CHECKSUM.",
			runL5},
		{"L6", Must, PersonaSL3000,
			"docs/formats/pro-header.md §4 (PROTECTINFO LICENSEREQUESTED, 4.3)",
			`A WRMHEADER 4.3 with LICENSEREQUESTED="false" is answered with a response holding no license and no fault.`,
			runL6},
		{"L7", Must, PersonaSL2000,
			"docs/formats/policies-and-outputs.md §1 (a client binds only if its SL ≥ the license minimum) and §6 (sl)",
			"An SL2000 device asking for an sl:3000 license is refused with a fault or gets a license it cannot bind, never one it binds.",
			runL7},
	})
}

func runL1(ctx context.Context, e *env) outcome {
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, cfg: "(persist:false)"})
	if o != nil {
		return *o
	}
	const want = "one non-persistent license for the header KID, bound"
	lic, bad := x.oneLicense(want)
	if bad != nil {
		return *bad
	}
	rs := bindAll(x.d, lic)
	if rs[0].KID != x.ids[0] {
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
		rs := bindAll(d, lics...)
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
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, cfg: "(persist:true)", needed: true})
	if o != nil {
		return *o
	}
	const want = "one persistent license, stored, that binds again after a device restart"
	lic, bad := x.oneLicense(want)
	if bad != nil {
		return *bad
	}
	rs := bindAll(x.d, lic)
	if err := firstBindError(rs); err != nil {
		return failed(want, err.Error())
	}
	if !rs[0].Persistent {
		return failed(want, "a non-persistent license (SETTINGS CANNOT_PERSIST)")
	}
	d, err := e.restart(x.d)
	if err != nil {
		return errored("%v", err)
	}
	stored, err := d.Client.StoredLicenses()
	if err != nil {
		return errored("cannot list stored licenses: %v", err)
	}
	id, n := x.ids[0], 0
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
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, cfg: "(ckt:aes128bitcbc)", version: pro.Version43, alg: pro.AlgAESCBC})
	if o != nil {
		return *o
	}
	const want = "one license with an AES-CBC (key type 5) content key, bound"
	lic, l, bad := x.oneParsed(want)
	if bad != nil {
		return *bad
	}
	ck, err := l.ContentKey()
	if err != nil {
		return failed(want, "a license without a content key: "+codeText(err))
	}
	if ck.KeyType != xmr.KeyTypeAESCBC {
		return failed(want, fmt.Sprintf("content key type %d", ck.KeyType))
	}
	if err := firstBindError(bindAll(x.d, lic)); err != nil {
		return failed(want, err.Error())
	}
	k, err := x.d.Client.Key(x.ids[0])
	if err != nil || !k.CBC() {
		return failed(want, "a bound key the TEE does not take as AES-CBC")
	}
	return passed("AES-CBC content key, bound")
}

func runL5(ctx context.Context, e *env) outcome {
	var sum []byte
	checksum := func(h *pro.Header) error {
		id := h.KIDs[0].ID
		ck, err := keyseed.Derive(keyseed.TestSeed(), id)
		if err != nil {
			return err
		}
		sum, err = pro.Checksum(pro.AlgAESCTR, id, ck[:])
		clear(ck[:])
		h.KIDs[0].Checksum = sum
		return err
	}
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, header: checksum})
	if o != nil {
		return *o
	}
	const want = "a bound license whose content key matches the header CHECKSUM (test key seed)"
	lic, bad := x.oneLicense(want)
	if bad != nil {
		return *bad
	}
	if err := firstBindError(bindAll(x.d, lic)); err != nil {
		return failed(want, err.Error())
	}
	k, err := x.d.Client.Key(x.ids[0])
	if err != nil {
		return failed(want, codeText(err))
	}
	if err := k.VerifyChecksum(pro.AlgAESCTR, sum); err != nil {
		return failed(want, "a content key that does not match the CHECKSUM: "+codeText(err))
	}
	return passed("content key matches the CHECKSUM")
}

func runL6(ctx context.Context, e *env) outcome {
	notRequested := func(h *pro.Header) error {
		no := false
		h.LicenseRequested = &no
		return nil
	}
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, version: pro.Version43, header: notRequested})
	if o != nil {
		return *o
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
	x, o := e.acquireNew(ctx, request{persona: PersonaSL2000, cfg: "(sl:3000)", needed: true})
	if o != nil {
		return *o
	}
	const want = "a fault, or licenses the SL2000 device refuses to bind"
	switch {
	case x.fault != nil:
		return passed("refused: " + x.describe())
	case x.resp == nil:
		return failed(want, x.describe())
	}
	for _, r := range bindAll(x.d, x.resp.Licenses...) {
		if r.Bound {
			return failed(want, fmt.Sprintf("the SL2000 device bound the license for %s (minimum SL %d)", r.KID, r.MinSecurityLevel))
		}
		if !errors.Is(r.Err, drm.ErrDeviceSecurityLevelTooLow) {
			return failed(want, "a license refused for another reason: "+codeText(r.Err))
		}
	}
	return passed(fmt.Sprintf("%d license(s), refused by the device with %s", len(x.resp.Licenses), drm.ErrDeviceSecurityLevelTooLow))
}
