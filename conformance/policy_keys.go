package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/prsim/prsim/wire/entitlement"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/xmr"
)

// slAsk asks for a key at minimum security level sl.
func slAsk(sl uint16) policyAsk {
	return policyAsk{name: fmt.Sprintf("sl:%d", sl), cfg: fmt.Sprintf("sl:%d", sl), ent: &entitlement.PlayReady{MinDeviceSecurityLevel: &sl},
		check: func(p xmr.Policy) string {
			if p.MinSecurityLevel != sl {
				return fmt.Sprintf("minimum security level %d", p.MinSecurityLevel)
			}
			return ""
		}}
}

// runY5: per-key security levels in one request as the SL2000 device.
// cfg: groups at 150 and 2000, each license at its level. Entitlement
// (seed 004): keys at 2000 and 3000, only the 2000 key comes back.
func runY5(ctx context.Context, e *env) outcome {
	if e.o.Profile == ProfileNone {
		return needsPolicyProfile()
	}
	d, err := e.policyDevice(PersonaSL2000)
	if err != nil {
		return errored("%v", err)
	}
	levels, keep := []uint16{150, 2000}, 2
	want := "two licenses, at minimum security levels 150 and 2000, each for its KID, bound"
	if e.o.Profile == ProfileEntitlement {
		levels, keep = []uint16{2000, 3000}, 1
		want = "one license, for the 2000 key only (the 3000 key left out for the SL2000 device), bound"
	}
	var keys []policyKey
	var ids []kid.ID
	for _, sl := range levels {
		k, err := e.policyKey(slAsk(sl))
		if err != nil {
			return errored("%v", err)
		}
		defer clear(k.key[:])
		keys = append(keys, k)
		ids = append(ids, k.id)
	}
	u, hdr, err := e.policyRequest(keys, entOptions{})
	if err != nil {
		return errored("%v", err)
	}
	x, err := e.acquireWith(ctx, d, e.header(pro.Version43, pro.AlgAESCTR, ids...), u, hdr, nil, nil)
	if err != nil {
		return errored("%v", err)
	}
	lics, bad := x.licenses(want)
	if bad != nil {
		return *bad
	}
	byKID := map[kid.ID][]byte{}
	for _, lic := range lics {
		l, err := xmr.Parse(lic)
		if err != nil {
			return failed(want, "a license that does not parse: "+codeText(err))
		}
		ck, err := l.ContentKey()
		if err != nil {
			return failed(want, "a license without a content key: "+codeText(err))
		}
		if byKID[ck.KID] != nil || !slices.Contains(ids, ck.KID) {
			return failed(want, fmt.Sprintf("%d licenses, one for KID %s repeated or not asked", len(lics), ck.KID))
		}
		byKID[ck.KID] = lic
	}
	var problems []string
	for i, k := range keys {
		lic := byKID[k.id]
		switch {
		case i >= keep && lic != nil:
			l, _ := xmr.Parse(lic)
			problems = append(problems, fmt.Sprintf("a license for the sl:%d key (minimum %d), which the device cannot use", levels[i], l.MinSecurityLevel()))
		case i < keep && lic == nil:
			problems = append(problems, fmt.Sprintf("no license for the sl:%d key", levels[i]))
		case i < keep:
			l, _ := xmr.Parse(lic)
			if p := k.ask.check(l.Policy()); p != "" {
				problems = append(problems, "the sl:"+fmt.Sprint(levels[i])+" key's license at "+p)
			} else if p := e.judgeDecision(d, k.id, lic); p != "" {
				problems = append(problems, "the sl:"+fmt.Sprint(levels[i])+" key: "+p)
			}
		}
	}
	if len(problems) > 0 {
		return failed(want, strings.Join(problems, "; "))
	}
	return passed(fmt.Sprintf("%d license(s), each at its key's level", keep))
}

// runY6: entitlement denials. Each request must get a fault and no
// license; the fault code and reason are reported, not judged (the
// reference server: DRM_E_SERVER_SERVICE_SPECIFIC for a denial,
// DRM_E_SERVER_INVALID_MESSAGE for a bad or expired message).
func runY6(ctx context.Context, e *env) outcome {
	if e.o.Profile != ProfileEntitlement {
		return skipped("profile " + e.o.Profile + ": Y6 judges entitlement messages (profile entitlement)")
	}
	d, err := e.device(PersonaSL2000)
	if err != nil {
		return errored("%v", err)
	}
	badKey := append([]byte{}, e.o.CommKey...)
	badKey[0] ^= 0x01
	defer clear(badKey)
	cases := []struct {
		name  string
		asked int      // header KIDs: the first keys
		sls   []uint16 // entitled keys, by level
		opt   entOptions
	}{
		{"a requested KID not entitled", 2, []uint16{150}, entOptions{}},
		{"every key above the device's level", 1, []uint16{3000}, entOptions{}},
		{"a message signed with another key", 1, []uint16{150}, entOptions{signKey: badKey}},
		{"an expired message", 1, []uint16{150}, entOptions{expired: true}},
		{"two usage policies of the same name", 1, []uint16{150, 150}, entOptions{sameNames: true}},
	}
	const want = "a fault and no license for each bad entitlement"
	var seen, problems []string
	for _, c := range cases {
		var keys []policyKey
		var ids []kid.ID
		for i := 0; i < max(c.asked, len(c.sls)); i++ {
			k, err := e.policyKey(slAsk(150))
			if err != nil {
				return errored("%v", err)
			}
			defer clear(k.key[:])
			if i < len(c.sls) {
				sl := c.sls[i]
				k.ask.ent.MinDeviceSecurityLevel = &sl
				keys = append(keys, k)
			}
			if i < c.asked {
				ids = append(ids, k.id)
			}
		}
		u, hdr, err := e.policyRequest(keys, c.opt)
		if err != nil {
			return errored("%v", err)
		}
		x, err := e.acquireWith(ctx, d, e.header(pro.Version43, pro.AlgAESCTR, ids...), u, hdr, nil, nil)
		if err != nil {
			return errored("%v", err)
		}
		if x.fault == nil {
			problems = append(problems, c.name+": "+x.describe())
			continue
		}
		seen = append(seen, c.name+": "+x.describe())
	}
	if len(problems) > 0 {
		return failed(want, strings.Join(problems, "; "))
	}
	return passed(strings.Join(seen, "; "))
}

// runY7: a PlayReady 2.0 device and digital video output protection.
// Entitlement: a key whose policy has one is left out, so a request for it
// alone is denied, while the same request for a key without one gets its
// license (the control: the denial is about the protection). cfg: the
// license carries the protection, and the device refuses it as the oracle
// does (a 2.0 persona does not understand the object).
func runY7(ctx context.Context, e *env) outcome {
	if e.o.Profile == ProfileNone {
		return needsPolicyProfile()
	}
	d, err := e.policyDevice(PersonaPR20)
	if err != nil {
		return errored("%v", err)
	}
	dvop := protectionAsk("maxres:1920x1080", digitalVideo, guidMaxRes, maxRes1080Data, "maxres:1920x1080", nil, "")
	if e.o.Profile == ProfileCfg {
		bad, err := e.askEach(ctx, d, []policyAsk{dvop})
		if err != nil {
			return errored("%v", err)
		}
		if len(bad) > 0 {
			return failed("the maximum-resolution protection in the license, decided by the 2.0 device as the oracle decides", bad[0])
		}
		return passed("license with the protection; the 2.0 device decides as the oracle")
	}
	const want = "a fault and no license for the key that needs digital video output protection, a license for the one that does not"
	var seen []string
	for _, a := range []policyAsk{dvop, slAsk(2000)} {
		k, err := e.policyKey(a)
		if err != nil {
			return errored("%v", err)
		}
		defer clear(k.key[:])
		u, hdr, err := e.policyRequest([]policyKey{k}, entOptions{})
		if err != nil {
			return errored("%v", err)
		}
		x, err := e.acquireWith(ctx, d, e.header(pro.Version40, pro.AlgAESCTR, k.id), u, hdr, nil, nil)
		if err != nil {
			return errored("%v", err)
		}
		if a.name == dvop.name {
			if x.fault == nil {
				return failed(want, "for the protected key: "+x.describe())
			}
			seen = append(seen, "protected key: "+x.describe())
			continue
		}
		if x.resp == nil || len(x.resp.Licenses) != 1 {
			return failed(want, "for the unprotected key (the control): "+x.describe())
		}
		if p := e.judgeDecision(d, k.id, x.resp.Licenses[0]); p != "" {
			return failed(want, "for the unprotected key (the control): "+p)
		}
		seen = append(seen, "unprotected key: one license")
	}
	return passed(strings.Join(seen, "; "))
}
