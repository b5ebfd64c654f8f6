package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/entitlement"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/xmr"
)

// The policy family asks the server, in the run's profile (cfg groups or
// an entitlement message's usage policies), for one policy object per
// license, checks the license carries exactly that object and value, and
// that the device decides on it as the policy oracle does.

func policyScenarios() []Scenario {
	return family(FamilyPolicy, []row{
		{"Y1", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §2 (allowed OPL values) and §6–§7 (caopl, ucaopl, cvopl, ucvopl, avopl; the *_opl usage policy fields); docs/formats/xmr.md §7 (OUTPUT_PROTECTION 0x05)",
			"Each allowed OPL value asked for (audio 100–300, compressed video 400/500, uncompressed video 100–300, analog video 100–200) comes back in the license's OPL object at that value.",
			runY1},
		{"Y2", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §3 (explicit output protections: GUID and config data) and §6–§7 (dvop, avop, daop, maxres, explicitacp; *_output_protections)",
			"Each explicit digital video, analog video and digital audio output protection asked for comes back in its container with its GUID and exactly its config data.",
			runY2},
		{"Y3", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §4 (play enablers) and §6–§7 (allowunknownhd, allowunknownsd, playenablers; play_enablers)",
			"Each play enabler asked for (unknown output, constrained unknown output, AirPlay, Miracast, DTCP, HDCP/WiVu, Helix) comes back as a play enabler object.",
			runY3},
		{"Y4", Should, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §6–§7 (sourceid; source_id; Axinom DRM docs, content key usage policies, for the values); docs/formats/xmr.md §5 (SOURCEID 0x22)",
			"A source ID asked for comes back in the license's SOURCEID object at that value.",
			runY4},
		{"Y5", Must, PersonaSL2000,
			"docs/formats/policies-and-outputs.md §1 (minimum security level per license) and §6 (sl per group); §7 (a key whose min_device_security_level the client lacks is left out)",
			"Keys asked for at different minimum security levels each carry their own level; a key above the SL2000 device's level is left out of the answer (entitlement).",
			runY5},
		{"Y6", Must, PersonaSL2000,
			"docs/formats/policies-and-outputs.md §7 (a requested KID not entitled denies the license; none eligible denies it; the message is signed with the communication key and short-lived); Axinom DRM docs, content key usage policies (policy names are unique)",
			"An entitlement message that does not entitle a requested KID, entitles only keys the device cannot use, is signed with another key, has expired, or names two usage policies alike gets a fault and no license.",
			runY6},
		{"Y7", Must, PersonaPR20,
			"docs/formats/policies-and-outputs.md §7 and Axinom DRM docs, content key usage policies (a key whose policy the client cannot support is left out; PlayReady 2.0 clients do not support digital video output protection)",
			"A PlayReady 2.0 device gets no key whose usage policy needs a digital video output protection (entitlement), and decides on such a license as the oracle does (cfg).",
			runY7},
	})
}

// policyAsk is one license the runner asks for: its policy in both
// profiles and what the license must then carry.
type policyAsk struct {
	name string                 // as reported, e.g. "ucvopl:300"
	cfg  string                 // cfg items of the group
	ent  *entitlement.PlayReady // the entitlement usage policy
	// check says what is wrong with the license's policy ("" = it
	// carries what was asked).
	check func(xmr.Policy) string
}

// policyKey is a fresh KID and random content key with the ask.
type policyKey struct {
	id  kid.ID
	key [16]byte
	ask policyAsk
}

func (e *env) policyKey(a policyAsk) (policyKey, error) {
	k := policyKey{ask: a}
	var err error
	if k.id, err = e.newKID(); err != nil {
		return k, err
	}
	_, err = io.ReadFull(e.o.Rand, k.key[:])
	return k, err
}

// policyRequest renders keys in the run's profile (cfg or entitlement;
// the policy scenarios skip under ProfileNone): the URL with cfg groups,
// one per key, or the URL and an entitlement message, one inline key and
// usage policy per key.
func (e *env) policyRequest(keys []policyKey, o entOptions) (u string, hdr http.Header, err error) {
	if e.o.Profile == ProfileEntitlement {
		var ek []entKey
		for _, k := range keys {
			p := *k.ask.ent
			if p.MinDeviceSecurityLevel == nil {
				sl := uint16(150) // as cfg's default; a message's is 2000
				p.MinDeviceSecurityLevel = &sl
			}
			ek = append(ek, entKey{id: k.id, key: k.key, policy: &p})
		}
		tok, err := e.entitlement(ek, o)
		if err != nil {
			return "", nil, err
		}
		return e.o.URL, entHeader(tok), nil
	}
	var groups []string
	for _, k := range keys {
		g := "(kid:" + k.id.String() + ",contentkey:" + base64.StdEncoding.EncodeToString(k.key[:])
		if k.ask.cfg != "" {
			g += "," + k.ask.cfg
		}
		groups = append(groups, g+")")
	}
	sep := "?"
	if strings.Contains(e.o.URL, "?") {
		sep = "&"
	}
	return e.o.URL + sep + "cfg=" + strings.Join(groups, ","), nil, nil
}

// needsPolicyProfile is the skip of a policy scenario under ProfileNone.
func needsPolicyProfile() outcome {
	return skipped("profile none: the policy family needs profile cfg or entitlement")
}

// askEach asks for each policy in its own request (so that one refused
// value does not hide the others) as d, checks the license's object, binds
// it and judges the device's decision. It returns what went wrong, one
// entry per failed ask.
func (e *env) askEach(ctx context.Context, d *ree.Device, asks []policyAsk) ([]string, error) {
	var bad []string
	for _, a := range asks {
		k, err := e.policyKey(a)
		if err != nil {
			return nil, err
		}
		problem, err := e.askOne(ctx, d, k)
		clear(k.key[:])
		if err != nil {
			return nil, err
		}
		if problem != "" {
			bad = append(bad, a.name+": "+problem)
		}
	}
	return bad, nil
}

func (e *env) askOne(ctx context.Context, d *ree.Device, k policyKey) (string, error) {
	u, hdr, err := e.policyRequest([]policyKey{k}, entOptions{})
	if err != nil {
		return "", err
	}
	x, err := e.acquireWith(ctx, d, e.header(pro.Version40, pro.AlgAESCTR, k.id), u, hdr, nil, nil)
	if err != nil {
		return "", err
	}
	if x.resp == nil {
		return x.describe(), nil
	}
	if n := len(x.resp.Licenses); n != 1 {
		return fmt.Sprintf("%d licenses", n), nil
	}
	lic := x.resp.Licenses[0]
	l, err := xmr.Parse(lic)
	if err != nil {
		return "a license that does not parse: " + codeText(err), nil
	}
	if p := k.ask.check(l.Policy()); p != "" {
		return p, nil
	}
	return e.judgeDecision(d, k.id, lic), nil
}

// oplAsk asks for one OPL field at v.
func oplAsk(field string, v uint16) policyAsk {
	a := policyAsk{name: fmt.Sprintf("%s:%d", field, v), cfg: fmt.Sprintf("%s:%d", field, v), ent: &entitlement.PlayReady{}}
	var get func(*xmr.OPL) uint16
	switch field {
	case "cvopl":
		a.ent.CompressedDigitalVideoOPL = v
		get = func(o *xmr.OPL) uint16 { return o.CompressedDigitalVideo }
	case "ucvopl":
		a.ent.UncompressedDigitalVideoOPL = v
		get = func(o *xmr.OPL) uint16 { return o.UncompressedDigitalVideo }
	case "avopl":
		a.ent.AnalogVideoOPL = v
		get = func(o *xmr.OPL) uint16 { return o.AnalogVideo }
	case "caopl":
		a.ent.CompressedDigitalAudioOPL = v
		get = func(o *xmr.OPL) uint16 { return o.CompressedDigitalAudio }
	case "ucaopl":
		a.ent.UncompressedDigitalAudioOPL = v
		get = func(o *xmr.OPL) uint16 { return o.UncompressedDigitalAudio }
	}
	a.check = func(p xmr.Policy) string {
		switch {
		case p.OPL == nil:
			return "a license without an OPL object"
		case get(p.OPL) != v:
			return fmt.Sprintf("the OPL object's %s at %d", field, get(p.OPL))
		}
		return ""
	}
	return a
}

// oplAsks are the allowed values of each OPL (docs/formats/policies-and-outputs.md §2).
func oplAsks() []policyAsk {
	var out []policyAsk
	for _, f := range []struct {
		field  string
		values []uint16
	}{
		{"caopl", []uint16{100, 150, 200, 250, 300}},
		{"ucaopl", []uint16{100, 150, 200, 250, 300}},
		{"cvopl", []uint16{400, 500}},
		{"ucvopl", []uint16{100, 250, 270, 300}},
		{"avopl", []uint16{100, 150, 200}},
	} {
		for _, v := range f.values {
			out = append(out, oplAsk(f.field, v))
		}
	}
	return out
}

func runY1(ctx context.Context, e *env) outcome {
	return e.runAsks(ctx, PersonaSL3000, "each OPL value in the license's OPL object", oplAsks())
}

// runAsks runs asks as persona and judges them together.
func (e *env) runAsks(ctx context.Context, persona, want string, asks []policyAsk) outcome {
	if e.o.Profile == ProfileNone {
		return needsPolicyProfile()
	}
	d, err := e.policyDevice(persona)
	if err != nil {
		return errored("%v", err)
	}
	bad, err := e.askEach(ctx, d, asks)
	if err != nil {
		return errored("%v", err)
	}
	if len(bad) > 0 {
		return failed(want+", decided as the oracle decides", fmt.Sprintf("%d of %d wrong: %s", len(bad), len(asks), strings.Join(bad, "; ")))
	}
	return passed(fmt.Sprintf("%d policies asked, each carried and decided as the oracle decides", len(asks)))
}

// Explicit output protections and play enablers
// (docs/formats/policies-and-outputs.md §3–§4).
var (
	guidHDCPType      = kid.MustParse("ABB2C6F1-E663-4625-A945-972D17B231E7")
	guidMaxRes        = kid.MustParse("9645E831-E01D-4FFF-8342-0A720E3E028F")
	guidInternalOnly  = kid.MustParse("2076ECD5-044F-4047-BFCF-7A75D0E4E269")
	guidDigitalOnly   = kid.MustParse("760AE755-682A-41E0-B1B3-DCDF836A7306")
	guidACP           = kid.MustParse("C3FD11C6-F8B7-4D20-B008-1DB17D61F2DA")
	guidCGMSA         = kid.MustParse("225CD36F-F132-49EF-BA8C-C91EA28E4369")
	guidHardAnalogTV  = kid.MustParse("2098DE8D-7DDD-4BAB-96C6-32EBB6FABEA3")
	guidComponentCap  = kid.MustParse("811C5110-46C8-4C6E-8163-C0482A15D47E")
	guidSCMS          = kid.MustParse("6D5CFA59-C250-4426-930E-FAC72C8FCFA6")
	guidUnknownOutHD  = kid.MustParse("786627D8-C2A6-44BE-8F88-08AE255B01A7")
	guidUnknownOutSD  = kid.MustParse("B621D91F-EDCC-4035-8D4B-DC71760D43E9")
	guidAirPlay       = kid.MustParse("5ABF0F0D-DC29-4B82-9982-FD8E57525BFC")
	guidMiracast      = kid.MustParse("A340C256-0941-4D4C-AD1D-0B6735C0CB24")
	guidDTCP          = kid.MustParse("D685030B-0F4F-43A6-BBAD-356F1EA0049A")
	guidWiVu          = kid.MustParse("1B4542E3-B5CF-4C99-B3BA-829AF46C92F8")
	guidHelix         = kid.MustParse("002F9772-38A0-43E5-9F79-0F6361DCC62A")
	maxRes1080Data    = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 1920), 1080)
	acpLevel2Data     = binary.LittleEndian.AppendUint32(nil, 2)
	beOne             = []byte{0, 0, 0, 1}
	componentCapData  = binary.BigEndian.AppendUint32(nil, 519000)
	hardAnalogTVLevel = []byte{0, 0, 0, 2}
)

// protectionKind names an explicit output protection container.
type protectionKind struct {
	cfgKey string // dvop, avop, daop
	name   string
	get    func(xmr.Policy) []xmr.OutputConfig
	set    func(*entitlement.PlayReady, entitlement.OutputProtection)
}

var (
	digitalVideo = protectionKind{"dvop", "digital video", func(p xmr.Policy) []xmr.OutputConfig { return p.DigitalVideo },
		func(p *entitlement.PlayReady, x entitlement.OutputProtection) {
			p.DigitalVideo = append(p.DigitalVideo, x)
		}}
	analogVideo = protectionKind{"avop", "analog video", func(p xmr.Policy) []xmr.OutputConfig { return p.AnalogVideo },
		func(p *entitlement.PlayReady, x entitlement.OutputProtection) {
			p.AnalogVideo = append(p.AnalogVideo, x)
		}}
	digitalAudio = protectionKind{"daop", "digital audio", func(p xmr.Policy) []xmr.OutputConfig { return p.DigitalAudio },
		func(p *entitlement.PlayReady, x entitlement.OutputProtection) {
			p.DigitalAudio = append(p.DigitalAudio, x)
		}}
)

// protectionAsk asks for one explicit protection; cfg, when not "", is the
// cfg spelling (a shorthand such as maxres), else dvop/avop/daop:(guid,data).
// base is asked alongside (e.g. the OPL an HDCP type restriction needs) but
// not judged here.
func protectionAsk(name string, k protectionKind, id kid.ID, data []byte, cfg string, base *entitlement.PlayReady, baseCfg string) policyAsk {
	a := policyAsk{name: name, ent: &entitlement.PlayReady{}}
	if base != nil {
		*a.ent = *base
	}
	k.set(a.ent, entitlement.OutputProtection{ID: id.String(), ConfigData: base64.StdEncoding.EncodeToString(data)})
	if cfg == "" {
		cfg = k.cfgKey + ":(guid:" + id.String() + ",data:" + base64.StdEncoding.EncodeToString(data) + ")"
	}
	if baseCfg != "" {
		cfg = baseCfg + "," + cfg
	}
	a.cfg = cfg
	a.check = func(p xmr.Policy) string {
		var seen []string
		for _, oc := range k.get(p) {
			if oc.ID == id && bytes.Equal(oc.Data, data) {
				return ""
			}
			if oc.ID == id {
				seen = append(seen, "config data "+hex.EncodeToString(oc.Data))
			}
		}
		if len(seen) > 0 {
			return fmt.Sprintf("%s protection %s with %s, want %s", k.name, id, strings.Join(seen, ", "), hex.EncodeToString(data))
		}
		return fmt.Sprintf("no %s protection %s (%d entries)", k.name, id, len(k.get(p)))
	}
	return a
}

func protectionAsks() []policyAsk {
	hdcp300 := &entitlement.PlayReady{UncompressedDigitalVideoOPL: 300}
	return []policyAsk{
		// Legal only with uncompressed digital video OPL 300.
		protectionAsk("dvop HDCP type restriction", digitalVideo, guidHDCPType, beOne, "", hdcp300, "ucvopl:300"),
		protectionAsk("maxres:1920x1080", digitalVideo, guidMaxRes, maxRes1080Data, "maxres:1920x1080", nil, ""),
		protectionAsk("dvop internal output only", digitalVideo, guidInternalOnly, []byte{1}, "", nil, ""),
		protectionAsk("explicitacp:2", analogVideo, guidACP, acpLevel2Data, "explicitacp:2", nil, ""),
		protectionAsk("avop digital video only", analogVideo, guidDigitalOnly, beOne, "", nil, ""),
		protectionAsk("avop CGMS-A best effort", analogVideo, guidCGMSA, beOne, "", nil, ""),
		protectionAsk("avop hard analog-TV restriction", analogVideo, guidHardAnalogTV, hardAnalogTVLevel, "", nil, ""),
		protectionAsk("avop component 520k-pixel cap", analogVideo, guidComponentCap, componentCapData, "", nil, ""),
		protectionAsk("daop SCMS", digitalAudio, guidSCMS, beOne, "", nil, ""),
	}
}

func runY2(ctx context.Context, e *env) outcome {
	return e.runAsks(ctx, PersonaSL3000, "each explicit output protection with its GUID and config data", protectionAsks())
}

// enablerAsk asks for play enablers ids; cfg as runAsk.
func enablerAsk(name, cfg string, ids ...kid.ID) policyAsk {
	a := policyAsk{name: name, ent: &entitlement.PlayReady{}}
	var list []string
	for _, id := range ids {
		a.ent.PlayEnablers = append(a.ent.PlayEnablers, id.String())
		list = append(list, id.String())
	}
	if cfg == "" {
		cfg = "playenablers:(" + strings.Join(list, ",") + ")"
	}
	a.cfg = cfg
	a.check = func(p xmr.Policy) string {
		for _, id := range ids {
			found := false
			for _, g := range p.PlayEnablers {
				found = found || g == id
			}
			if !found {
				return fmt.Sprintf("no play enabler %s (%d present)", id, len(p.PlayEnablers))
			}
		}
		return ""
	}
	return a
}

func enablerAsks() []policyAsk {
	return []policyAsk{
		enablerAsk("allowunknownhd:true", "allowunknownhd:true", guidUnknownOutHD),
		enablerAsk("allowunknownsd:true", "allowunknownsd:true", guidUnknownOutSD),
		enablerAsk("AirPlay", "", guidAirPlay),
		enablerAsk("Miracast", "", guidMiracast),
		enablerAsk("DTCP", "", guidDTCP),
		enablerAsk("HDCP/WiVu", "", guidWiVu),
		enablerAsk("Helix", "", guidHelix),
		enablerAsk("AirPlay and DTCP together", "", guidAirPlay, guidDTCP),
	}
}

func runY3(ctx context.Context, e *env) outcome {
	return e.runAsks(ctx, PersonaSL3000, "each play enabler in a play enabler object", enablerAsks())
}

// sourceIDAsk asks for source ID v (seed 004 lists the allowed values).
func sourceIDAsk(v uint32) policyAsk {
	return policyAsk{name: fmt.Sprintf("sourceid:%d", v), cfg: fmt.Sprintf("sourceid:%d", v), ent: &entitlement.PlayReady{SourceID: uint16(v)},
		check: func(p xmr.Policy) string {
			switch {
			case p.SourceID == nil:
				return "a license without a SOURCEID object"
			case *p.SourceID != v:
				return fmt.Sprintf("SOURCEID %d", *p.SourceID)
			}
			return ""
		}}
}

func runY4(ctx context.Context, e *env) outcome {
	// CGMS-A, DTCP and DTCP at ≤ 520,000 pixels.
	return e.runAsks(ctx, PersonaSL3000, "the source ID in the SOURCEID object",
		[]policyAsk{sourceIDAsk(2), sourceIDAsk(258), sourceIDAsk(265)})
}
