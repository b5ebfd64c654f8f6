package licsrv

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

// The Microsoft test-server cfg= grammar (docs/formats/policies-and-outputs.md §6):
// one or more bracket groups "(k:v,k:v),(k:v)", each one license; values are
// atoms or nested groups. Keys and enumerated values match case-insensitively.

// maxCfg bounds the cfg value; real ones are a few hundred bytes.
const maxCfg = 8 << 10

// maxDepth bounds bracket nesting.
const maxDepth = 8

// node is a parsed cfg item: "key:value", a bare atom, or a group.
type node struct {
	key  string // lower-cased; "" for a bare item
	atom string
	list []node // non-nil for a group value
}

type cfgParser struct {
	s     string
	pos   int
	depth int
}

// parseCfg parses the groups of a cfg value.
func parseCfg(s string) ([][]node, error) {
	if len(s) > maxCfg {
		return nil, &cfgError{"cfg is longer than " + strconv.Itoa(maxCfg) + " bytes"}
	}
	p := &cfgParser{s: s}
	var groups [][]node
	for {
		if !p.eat('(') {
			return nil, p.syntax("want '(' to open a group")
		}
		items, err := p.items()
		if err != nil {
			return nil, err
		}
		groups = append(groups, items)
		if p.pos == len(p.s) {
			return groups, nil
		}
		if !p.eat(',') {
			return nil, p.syntax("want ',' or the end after a group")
		}
	}
}

// syntax reports a syntax error at the current offset, naming an
// unbalanced bracket when that is what went wrong.
func (p *cfgParser) syntax(want string) error {
	switch {
	case p.pos >= len(p.s):
		if p.depth > 0 {
			return cfgSyntax(p.pos, "unbalanced brackets: missing ')'")
		}
		return cfgSyntax(p.pos, "unexpected end; "+want)
	case p.s[p.pos] == ')':
		return cfgSyntax(p.pos, "unbalanced brackets: unexpected ')'")
	}
	return cfgSyntax(p.pos, fmt.Sprintf("unexpected %s; %s", quote(p.s[p.pos:p.pos+1]), want))
}

func (p *cfgParser) eat(c byte) bool {
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// items parses "item(,item)*)" after an opening bracket.
func (p *cfgParser) items() ([]node, error) {
	p.depth++
	if p.depth > maxDepth {
		return nil, cfgSyntax(p.pos, "brackets nested deeper than "+strconv.Itoa(maxDepth))
	}
	defer func() { p.depth-- }()
	list := []node{}
	if p.eat(')') {
		return list, nil
	}
	for {
		n, err := p.item()
		if err != nil {
			return nil, err
		}
		list = append(list, n)
		if p.eat(')') {
			return list, nil
		}
		if !p.eat(',') {
			return nil, p.syntax("want ',' or ')' after an item")
		}
	}
}

func (p *cfgParser) item() (node, error) {
	if p.eat('(') {
		l, err := p.items()
		return node{list: l}, err
	}
	a := p.atom()
	if !p.eat(':') {
		return node{atom: a}, nil
	}
	n := node{key: strings.ToLower(a)}
	if p.eat('(') {
		l, err := p.items()
		if err != nil {
			return node{}, err
		}
		n.list = l
		return n, nil
	}
	n.atom = p.atom()
	return n, nil
}

// atom reads up to the next structural character. GUIDs and base64 contain
// none of them; ':' ends a key.
func (p *cfgParser) atom() string {
	start := p.pos
	for p.pos < len(p.s) && !strings.ContainsRune("(),:", rune(p.s[p.pos])) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// cfgFromQuery extracts cfg= from a raw query without turning '+' into a
// space (base64 values may contain it).
func cfgFromQuery(raw string) (string, bool, error) {
	for _, part := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		if strings.EqualFold(k, "cfg") {
			s, err := url.PathUnescape(v)
			if err != nil {
				return "", true, &cfgError{"cfg is not valid percent-encoding"}
			}
			return s, true, nil
		}
	}
	return "", false, nil
}

// OutputConfig is an explicit output protection (GUID + config data).
type OutputConfig struct {
	ID   kid.ID
	Data []byte
}

// Policy is one license's policy: a cfg group, or the defaults of an empty
// request (non-persistent, SL150, test key seed, the header's KIDs).
type Policy struct {
	KID        *kid.ID // nil = the header's KIDs (kid:header likewise)
	ContentKey *[16]byte
	KeySeed    []byte
	SL         uint16
	Persist    bool
	CBC        *bool // nil = follow the header's ALGID
	Begin, End *time.Time
	// BeginClientTime (cfg begindate:clienttime, a prsim extension) takes
	// the challenge's ClientTime as the begin date.
	BeginClientTime bool
	FirstPlay       *uint32
	RealTime        bool
	Removal         *time.Time
	OPL             [5]uint16 // cvopl, ucvopl, avopl, caopl, ucaopl (XMR 0x05 order)
	HasOPL          bool
	DigitalVideo    []OutputConfig
	DigitalAudio    []OutputConfig
	AnalogVideo     []OutputConfig
	PlayEnablers    []kid.ID
	ErrorCode       *drm.Code
	Revoked         bool
	ClientInfo      bool
	TID             string
	SourceID        *uint32
	// Read and Execute ask for those rights, which only clients before
	// PlayReady 3.0 accept (the server refuses them for newer ones).
	Read, Execute bool
	Simple        bool // legacy SimpleNonPersistentLicense: non-persistent
	// SecureStop (cfg securestop:true, a prsim key) adds SECURE_STOP and
	// SECURESTOP2 to a non-persistent license (docs/protocol.md §11).
	SecureStop   bool
	Restrictions []xmr.ExtensibleRestriction
	Rights       []xmr.ExtensibleRight
	// entitlement-only fields (entitlement.go): the usage policy's name
	// and what the client must support for this key.
	usagePolicy string
	needsDVOP   bool
}

// oplKeys are the cfg OPL keys in the order of XMR object 0x05.
var oplKeys = [5]string{"cvopl", "ucvopl", "avopl", "caopl", "ucaopl"}

// The GUIDs cfg keys stand for (docs/formats/policies-and-outputs.md §3–§4),
// from package xmr's registry.
var (
	guidMaxRes       = kid.MustParse(xmr.ProtectionMaxResolution)
	guidExplicitACP  = kid.MustParse(xmr.ProtectionAGC)
	guidUnknownOutHD = kid.MustParse(xmr.EnablerUnknownOutput)
	guidUnknownOutSD = kid.MustParse(xmr.EnablerConstrainedUnknownOutput)
)

// policies turns parsed groups into policies.
func policies(groups [][]node) ([]Policy, error) {
	out := make([]Policy, 0, len(groups))
	for _, g := range groups {
		p := Policy{SL: 150}
		for _, n := range g {
			if err := p.set(n); err != nil {
				return nil, err
			}
		}
		if p.Simple && p.Persist {
			return nil, &cfgError{"cfg simple: simple:true asks for a non-persistent license, which contradicts persist:true"}
		}
		if p.SecureStop && p.Persist {
			return nil, &cfgError{"cfg securestop: secure stop applies to non-persistent licenses only, which contradicts persist:true"}
		}
		out = append(out, p)
	}
	return out, nil
}

// supportedKeys lists the cfg keys set accepts, for the reason of an
// unsupported one.
const supportedKeys = "kid, contentkey (ck), keyseed, sl, persist, ckt, begindate, enddate (expiration), removaldate, " +
	"firstplayexpiration (firstexp), realtime, cvopl, ucvopl, avopl, caopl, ucaopl, dvop, daop, avop, explicitacp, maxres, " +
	"allowunknownhd, allowunknownsd, playenablers, errorcode, revoked, msg, tid, playright, readright, executeright, " +
	"simple, securestop, sourceid, extendedrestrictions, extendedright (refused: accountid, isroot, rootid, ckt:keyexchange)"

// maxExtensible bounds the extensible restrictions of one group or right,
// and maxExtensibleData the data bytes of one.
const (
	maxExtensible     = 16
	maxExtensibleData = 1024
)

func (p *Policy) set(n node) error {
	v := n.atom
	switch n.key {
	case "dvop", "daop", "avop", "playenablers", "extendedrestrictions", "extendedright":
		if n.list == nil {
			return &cfgError{"cfg " + n.key + ": value must be a bracket group"}
		}
	case "contentkey", "ck", "keyseed":
		if n.list != nil {
			return badSecret(n, "base64 (it is a bracket group)")
		}
	case "":
		if n.list != nil {
			return &cfgError{"cfg group holds a nested group without a key"}
		}
		// The value is withheld: a bare value is often a content key or
		// key seed whose "contentkey:" was left out.
		return &cfgError{"cfg item has no key (want key:value; value withheld)"}
	default:
		if n.list != nil {
			return badValue(n, "a single value")
		}
	}
	switch n.key {
	case "kid":
		if strings.EqualFold(v, "header") {
			p.KID = nil
			return nil
		}
		id, err := kid.Parse(v)
		if err != nil {
			return badValue(n, "a GUID or base64 KID")
		}
		p.KID = &id
	case "contentkey", "ck":
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != 16 {
			return badSecret(n, "base64 of 16 bytes")
		}
		p.ContentKey = (*[16]byte)(b)
	case "keyseed":
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) < 30 {
			return badSecret(n, "base64 of at least 30 bytes")
		}
		p.KeySeed = b
	case "sl":
		x, err := strconv.ParseUint(v, 10, 16)
		if err != nil || (x != 150 && x != 2000 && x != 3000) {
			return badValue(n, "150, 2000 or 3000")
		}
		p.SL = uint16(x)
	case "persist":
		return setBool(&p.Persist, n)
	case "ckt":
		switch strings.ToLower(v) {
		case "aes128bitctr":
			p.CBC = new(bool)
		case "aes128bitcbc":
			t := true
			p.CBC = &t
		case "keyexchange":
			return &cfgError{"cfg ckt: keyexchange (PlayReady 4.5 Key Exchange licenses) is not supported by prsim's reference server"}
		default:
			return badValue(n, "AES128BitCTR or AES128BitCBC")
		}
	case "begindate":
		if strings.EqualFold(v, "clienttime") {
			p.Begin, p.BeginClientTime = nil, true
			return nil
		}
		p.BeginClientTime = false
		if err := setDate(&p.Begin, n); err != nil {
			return badValue(n, "a date yyyymmdd or yyyymmddhhmmss (GMT), or clienttime")
		}
	case "enddate", "expiration":
		return setDate(&p.End, n)
	case "removaldate":
		return setDate(&p.Removal, n)
	case "firstplayexpiration", "firstexp":
		x, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return badValue(n, "a number of seconds (0 to 4294967295)")
		}
		s := uint32(x)
		p.FirstPlay = &s
	case "realtime":
		return setBool(&p.RealTime, n)
	case "cvopl", "ucvopl", "avopl", "caopl", "ucaopl":
		x, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return badValue(n, "an output protection level (0 to 65535)")
		}
		p.OPL[slices.Index(oplKeys[:], n.key)] = uint16(x)
		p.HasOPL = true
	case "dvop", "daop", "avop":
		oc, err := outputConfig(n)
		if err != nil {
			return err
		}
		switch n.key {
		case "dvop":
			p.DigitalVideo = append(p.DigitalVideo, oc)
		case "daop":
			p.DigitalAudio = append(p.DigitalAudio, oc)
		default:
			p.AnalogVideo = append(p.AnalogVideo, oc)
		}
	case "explicitacp":
		x, err := strconv.ParseUint(v, 10, 32)
		if err != nil || x > 3 {
			return badValue(n, "0, 1, 2 or 3")
		}
		p.AnalogVideo = append(p.AnalogVideo, OutputConfig{ID: guidExplicitACP, Data: binary.LittleEndian.AppendUint32(nil, uint32(x))})
	case "maxres":
		w, h, ok := strings.Cut(strings.ToLower(v), "x")
		wi, err1 := strconv.ParseUint(w, 10, 32)
		hi, err2 := strconv.ParseUint(h, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return badValue(n, "WIDTHxHEIGHT")
		}
		// Seed 004: two big-endian u32, width then height.
		d := binary.BigEndian.AppendUint32(nil, uint32(wi))
		p.DigitalVideo = append(p.DigitalVideo, OutputConfig{ID: guidMaxRes, Data: binary.BigEndian.AppendUint32(d, uint32(hi))})
	case "allowunknownhd", "allowunknownsd":
		var on bool
		if err := setBool(&on, n); err != nil {
			return err
		}
		if on {
			g := guidUnknownOutHD
			if n.key == "allowunknownsd" {
				g = guidUnknownOutSD
			}
			p.PlayEnablers = append(p.PlayEnablers, g)
		}
	case "playenablers":
		for _, e := range n.list {
			if e.key != "" || e.list != nil {
				return &cfgError{"cfg playenablers: entries must be bare GUIDs"}
			}
			id, err := kid.Parse(e.atom)
			if err != nil {
				return &cfgError{"cfg playenablers: entry " + quote(e.atom) + " is not a GUID"}
			}
			p.PlayEnablers = append(p.PlayEnablers, id)
		}
	case "errorcode":
		c, err := drm.ParseHex(v)
		if err != nil {
			return badValue(n, "a hex DRM code such as 0x8004C600")
		}
		p.ErrorCode = &c
	case "revoked":
		return setBool(&p.Revoked, n)
	case "msg":
		if !strings.EqualFold(v, "clientinfo") {
			return badValue(n, "clientinfo (the only message supported)")
		}
		p.ClientInfo = true
	case "tid":
		if _, err := kid.Parse(v); err != nil {
			return badValue(n, "a GUID")
		}
		p.TID = v
	case "playright":
		var on bool
		if err := setBool(&on, n); err != nil {
			return err
		}
		if !on {
			return badValue(n, "true (a license without the Play right is not supported)")
		}
	case "readright":
		return setBool(&p.Read, n)
	case "executeright":
		return setBool(&p.Execute, n)
	case "simple":
		return setBool(&p.Simple, n)
	case "securestop":
		return setBool(&p.SecureStop, n)
	case "sourceid":
		x, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return badValue(n, "a source ID (0 to 65535)")
		}
		s := uint32(x)
		p.SourceID = &s
	case "extendedrestrictions":
		rs, err := restrictions(n.key, n.list)
		if err != nil {
			return err
		}
		if len(p.Restrictions)+len(rs) > maxExtensible {
			return &cfgError{"cfg extendedrestrictions: more than " + strconv.Itoa(maxExtensible) + " restrictions"}
		}
		p.Restrictions = append(p.Restrictions, rs...)
	case "extendedright":
		r, err := extendedRight(n.list)
		if err != nil {
			return err
		}
		if len(p.Rights) >= maxExtensible {
			return &cfgError{"cfg extendedright: more than " + strconv.Itoa(maxExtensible) + " rights"}
		}
		p.Rights = append(p.Rights, r)
	case "accountid":
		return &cfgError{"cfg accountid: domain-bound licenses are not supported (prsim has no domains)"}
	case "isroot":
		var on bool
		if err := setBool(&on, n); err != nil {
			return err
		}
		if on {
			return &cfgError{"cfg isroot: chained (root/leaf) licenses are not supported by prsim's reference server"}
		}
	case "rootid":
		return &cfgError{"cfg rootid: chained (root/leaf) licenses are not supported by prsim's reference server"}
	default:
		return &cfgError{"cfg key " + quote(n.key) + " is not supported (supported: " + supportedKeys + ")"}
	}
	return nil
}

// restrictions reads a list of "(type:N,mustunderstand:bool,besteffort:bool,data:base64)".
func restrictions(key string, list []node) ([]xmr.ExtensibleRestriction, error) {
	if len(list) > maxExtensible {
		return nil, &cfgError{"cfg " + key + ": more than " + strconv.Itoa(maxExtensible) + " restrictions"}
	}
	out := make([]xmr.ExtensibleRestriction, 0, len(list))
	for _, e := range list {
		if e.key != "" || e.list == nil {
			return nil, &cfgError{"cfg " + key + ": each restriction must be a group (type:N,mustunderstand:bool,besteffort:bool,data:base64)"}
		}
		var r xmr.ExtensibleRestriction
		var haveType bool
		for _, f := range e.list {
			if f.list != nil {
				return nil, &cfgError{"cfg " + key + ": restriction item " + quote(f.key) + " must be a single value"}
			}
			switch f.key {
			case "type":
				x, err := strconv.ParseUint(f.atom, 10, 16)
				if err != nil || x == 0 {
					return nil, &cfgError{"cfg " + key + ": type " + quote(f.atom) + " is not an object type (1 to 65535)"}
				}
				if _, known := xmr.CanonicalFlags(uint16(x)); known {
					return nil, &cfgError{"cfg " + key + ": type " + f.atom + " is an XMR object type prsim defines (" +
						xmr.TypeName(uint16(x)) + "); an extensible restriction needs another type"}
				}
				r.Type, haveType = uint16(x), true
			case "mustunderstand", "besteffort":
				var b bool
				if err := setBool(&b, node{key: key + " " + f.key, atom: f.atom}); err != nil {
					return nil, &cfgError{"cfg " + key + ": " + f.key + " " + quote(f.atom) + " is not true or false"}
				}
				if f.key == "mustunderstand" {
					r.MustUnderstand = b
				} else {
					r.BestEffort = b
				}
			case "data":
				b, err := base64.StdEncoding.DecodeString(f.atom)
				if err != nil {
					return nil, &cfgError{"cfg " + key + ": data " + quote(f.atom) + " is not base64"}
				}
				if len(b) > maxExtensibleData {
					return nil, &cfgError{"cfg " + key + ": data is longer than " + strconv.Itoa(maxExtensibleData) + " bytes"}
				}
				r.Data = b
			default:
				return nil, &cfgError{"cfg " + key + ": item " + quote(f.key+":"+f.atom) + " is not type:, mustunderstand:, besteffort: or data:"}
			}
		}
		if !haveType {
			return nil, &cfgError{"cfg " + key + ": a restriction needs type:N"}
		}
		out = append(out, r)
	}
	return out, nil
}

// extendedRight reads "(type:N,extended:((restriction),…))".
func extendedRight(list []node) (xmr.ExtensibleRight, error) {
	var r xmr.ExtensibleRight
	var haveType bool
	for _, f := range list {
		switch f.key {
		case "type":
			x, err := strconv.ParseUint(f.atom, 10, 16)
			if err != nil || x == 0 || f.list != nil {
				return r, &cfgError{"cfg extendedright: type " + quote(f.atom) + " is not an object type (1 to 65535)"}
			}
			if _, known := xmr.CanonicalFlags(uint16(x)); known && (x < uint64(xmr.TypeExtensiblePolicyFirst) || x > uint64(xmr.TypeExtensiblePolicyLast)) {
				return r, &cfgError{"cfg extendedright: type " + f.atom + " is an XMR object type prsim defines (" +
					xmr.TypeName(uint16(x)) + "); an extensible right needs another type"}
			}
			r.Type, haveType = uint16(x), true
		case "extended":
			if f.list == nil {
				return r, &cfgError{"cfg extendedright: extended must be a list of restriction groups"}
			}
			rs, err := restrictions("extendedright", f.list)
			if err != nil {
				return r, err
			}
			r.Restrictions = rs
		default:
			return r, &cfgError{"cfg extendedright: item " + quote(f.key+":"+f.atom) + " is not type: or extended:"}
		}
	}
	if !haveType {
		return r, &cfgError{"cfg extendedright: needs type:N"}
	}
	return r, nil
}

func setBool(dst *bool, n node) error {
	switch strings.ToLower(n.atom) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		return badValue(n, "true or false")
	}
	return nil
}

// setDate reads yyyymmdd[hhmmss], GMT.
func setDate(dst **time.Time, n node) error {
	layout := "20060102"
	if len(n.atom) == 14 {
		layout = "20060102150405"
	}
	t, err := time.ParseInLocation(layout, n.atom, time.UTC)
	if err != nil {
		return badValue(n, "a date yyyymmdd or yyyymmddhhmmss (GMT)")
	}
	*dst = &t
	return nil
}

func outputConfig(n node) (OutputConfig, error) {
	var oc OutputConfig
	var haveID bool
	for _, e := range n.list {
		switch strings.ToLower(e.key) {
		case "guid":
			id, err := kid.Parse(e.atom)
			if err != nil || e.list != nil {
				return oc, &cfgError{"cfg " + n.key + ": guid " + quote(e.atom) + " is not a GUID"}
			}
			oc.ID, haveID = id, true
		case "data":
			b, err := base64.StdEncoding.DecodeString(e.atom)
			if err != nil || e.list != nil {
				return oc, &cfgError{"cfg " + n.key + ": data " + quote(e.atom) + " is not base64"}
			}
			oc.Data = b
		default:
			return oc, &cfgError{"cfg " + n.key + ": item " + quote(e.key+":"+e.atom) + " is not guid: or data:"}
		}
	}
	if !haveID {
		return oc, &cfgError{"cfg " + n.key + ": needs guid:GUID"}
	}
	return oc, nil
}
