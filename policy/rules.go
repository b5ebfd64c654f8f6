package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

// Output classes an explicit protection container applies to (docs/formats/xmr.md §7).
type class uint8

const (
	analogVideo  class = iota // 0x07{0x08}
	digitalAudio              // 0x2E{0x31}
	digitalVideo              // 0x58{0x59}
	numClasses
)

var classNames = [numClasses]string{"analog video", "digital audio", "digital video"}

// evaluator holds one evaluation: the request, the license's policy and
// what compile made of its explicit protections and play enablers.
type evaluator struct {
	req   Request
	pol   xmr.Policy
	pr3   bool
	notes []string

	// Explicit protections (§3), as compiled.
	notUnderstood [numClasses]string // a must-understand object prsim cannot honour: block the class
	hdcpType1     bool               // HDCP type restriction in force
	maxW, maxH    uint32             // maximum effective decode resolution; 0 = none
	internalOnly  bool
	watermark     string // must-engage watermarking: why video is blocked
	digitalOnly   bool
	agcLevel      uint32
	agcMust       bool
	cgms          uint32 // CGMS-A value to engage (0 = none)
	cgmsHard      bool   // 2098DE8D: block analog outputs that cannot engage it
	componentCap  uint32
	vgaCap        uint32
	scms          *uint32
	scmsMust      bool

	// Play enablers (§4).
	enablers map[kid.ID]bool
}

func (e *evaluator) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !slices.Contains(e.notes, s) {
		e.notes = append(e.notes, s)
	}
}

// license checks what applies to the license as a whole; done reports a
// refusal.
func (e *evaluator) license(l *xmr.License) (Decision, bool) {
	p := e.pol
	var other []string
	if p.Copy != nil {
		other = append(other, "Copy")
	}
	if l.Outer.Child(xmr.TypeExecutePolicyContainer) != nil {
		other = append(other, "Execute")
	}
	if l.Outer.Child(xmr.TypeReadPolicyContainer) != nil {
		other = append(other, "Read")
	}
	if !p.Play {
		why := "the license grants no Play right (no playback container, docs/formats/policies-and-outputs.md §5)"
		if len(other) > 0 {
			why += "; it grants only " + strings.Join(other, ", ") + ", which PlayReady 3.0 and later do not support and prsim never exercises"
		}
		return refuse(drm.ErrRightsNotAvailable, nil, "%s", why), true
	}
	if len(other) > 0 {
		if e.pr3 {
			e.note("%s right refused: a PlayReady 3.0+ client accepts only Play; playback uses the Play right", strings.Join(other, ", "))
		} else {
			e.note("%s right not exercised: prsim implements only Play", strings.Join(other, ", "))
		}
	}
	// A 2.0 client has no digital video output protection objects: to its
	// parser they are unknown objects, so a must-understand one rejects
	// the license and any other is skipped.
	if !e.pr3 {
		for _, pc := range l.Outer.ChildrenOf(xmr.TypePlaybackPolicyContainer) {
			for _, c := range pc.ChildrenOf(xmr.TypeExplicitDigitalVideoContainer) {
				must := c.Flags&xmr.FlagMustUnderstand != 0
				for _, o := range c.ChildrenOf(xmr.TypeDigitalVideoOutputConfig) {
					must = must || o.Flags&xmr.FlagMustUnderstand != 0
				}
				if must {
					return refuse(drm.ErrExtendedRestrictionNotUnderstood, e.notes,
						"a PlayReady %s client does not understand digital video output protections (XMR 0x58/0x59) and the license marks one must-understand", e.req.Persona.Version), true
				}
				e.note("digital video output protection ignored: a PlayReady %s client does not understand it and it is not must-understand", e.req.Persona.Version)
			}
		}
	}
	for _, o := range p.Unknown {
		switch {
		case o.Flags&xmr.FlagMustUnderstand != 0 && o.Flags&xmr.FlagBestEffort == 0:
			return refuse(drm.ErrExtendedRestrictionNotUnderstood, e.notes,
				"object 0x%04x is must-understand and prsim does not understand it", o.Type), true
		default:
			e.note("object 0x%04x not understood: ignored (not must-understand, or best effort)", o.Type)
		}
	}
	if p.RestrictedSourceID {
		return refuse(drm.ErrRightsNotAvailable, e.notes,
			"the license restricts playback to content from a restricted source (RESTRICTED_SOURCEID 0x28); prsim plays network content only and cannot attest its source"), true
	}
	if p.SourceID != nil {
		name := xmr.SourceIDName(*p.SourceID)
		if name == "" {
			name = "not a listed ecosystem"
		}
		e.note("source ID %d (%s): content comes from a network source and prsim has no source input to restrict; noted, not enforced", *p.SourceID, name)
	}
	if o := p.OPL; o != nil && o.CompressedDigitalVideo != 0 {
		e.note("compressed digital video OPL %d: prsim never passes compressed video to any output (§2)", o.CompressedDigitalVideo)
	}
	return Decision{}, false
}

// explicitObject is one explicit output protection entry with its flags.
type explicitObject struct {
	cls  class
	id   kid.ID
	data []byte
	must bool
}

func explicitObjects(l *xmr.License) []explicitObject {
	var out []explicitObject
	for _, pc := range l.Outer.ChildrenOf(xmr.TypePlaybackPolicyContainer) {
		for _, x := range []struct {
			cls             class
			container, item uint16
		}{
			{analogVideo, xmr.TypeExplicitAnalogVideoContainer, xmr.TypeAnalogVideoOutputConfig},
			{digitalAudio, xmr.TypeExplicitDigitalAudioContainer, xmr.TypeDigitalAudioOutputConfig},
			{digitalVideo, xmr.TypeExplicitDigitalVideoContainer, xmr.TypeDigitalVideoOutputConfig},
		} {
			for _, c := range pc.ChildrenOf(x.container) {
				for _, o := range c.ChildrenOf(x.item) {
					if len(o.Body) < kid.Size {
						continue // Parse rejects it; only an edited tree gets here
					}
					id, _ := kid.FromGUID(o.Body[:kid.Size])
					out = append(out, explicitObject{cls: x.cls, id: id, data: o.Body[kid.Size:], must: o.Flags&xmr.FlagMustUnderstand != 0})
				}
			}
		}
	}
	return out
}

// compile turns the explicit protections and play enablers into the
// evaluator's fields.
func (e *evaluator) compile(l *xmr.License) {
	for _, x := range explicitObjects(l) {
		if x.cls == digitalVideo && !e.pr3 {
			continue // a 2.0 client skipped them (license)
		}
		if !e.understand(x) {
			name := xmr.OutputProtectionName(x.id)
			what := "unknown " + classNames[x.cls] + " output protection " + x.id.String()
			if name != "" {
				what = classNames[x.cls] + " output protection " + name + " with config data prsim cannot read (" + xmr.DescribeConfig(x.id, x.data) + ")"
			}
			if x.must {
				if e.notUnderstood[x.cls] == "" {
					e.notUnderstood[x.cls] = "§3: " + what + " is must-understand: every " + classNames[x.cls] + " output is blocked (fail closed)"
				}
			} else {
				e.note("%s: not must-understand, ignored", what)
			}
		}
	}
	e.enablers = map[kid.ID]bool{}
	for _, id := range e.pol.PlayEnablers {
		e.enablers[id] = true
		switch id.String() {
		case strings.ToLower(xmr.EnablerWiVu), strings.ToLower(xmr.EnablerHelix):
			e.note("play enabler %s (%s): this platform has no such output", xmr.PlayEnablerName(id), id)
		default:
			if xmr.PlayEnablerName(id) == "" {
				e.note("play enabler %s not known to prsim: ignored", id)
			}
		}
	}
	if e.hdcpType1 {
		if v := e.udv(); v < 271 || v > 300 {
			e.note("HDCP type restriction applies with uncompressed digital video OPL 271–300 (§2), and the license's is %d: no effect", v)
		}
	}
}

// understand records one explicit protection; false means prsim does not
// understand it in this container (unknown GUID or unreadable data).
func (e *evaluator) understand(x explicitObject) bool {
	is := func(s string) bool { return x.id == kid.MustParse(s) }
	switch {
	case x.cls == digitalVideo && is(xmr.ProtectionHDCPType):
		v, ok := xmr.ConfigValue(x.data)
		switch {
		case len(x.data) == 0 || (ok && v == 1):
			e.hdcpType1 = true
		case ok && v == 0:
			e.note("HDCP type restriction with value 0: no type restriction")
		default:
			return false
		}
	case x.cls == digitalVideo && is(xmr.ProtectionMaxResolution):
		w, h, ok := xmr.MaxResolution(x.data)
		if !ok {
			return false
		}
		if e.maxW == 0 || w*h < e.maxW*e.maxH {
			e.maxW, e.maxH = w, h
		}
	case x.cls == digitalVideo && is(xmr.ProtectionInternalOnly):
		e.internalOnly = true
	case x.cls == digitalVideo && is(xmr.ProtectionWatermark):
		w, err := xmr.ParseWatermarkConfig(x.data)
		if err != nil {
			return false
		}
		switch w.Mode {
		case xmr.WatermarkMustEngage:
			e.watermark = fmt.Sprintf("§3: watermarking must be engaged (vendor %s) and prsim supports no watermark vendor", w.Vendor)
		case xmr.WatermarkEngageIfPossible:
			e.note("watermarking: engage if possible; prsim supports no watermark vendor, so video passes without it")
		case xmr.WatermarkDropIfPossible:
			e.note("watermarking: drop if possible; prsim applies none")
		default:
			e.note("watermarking: disengage; prsim applies none")
		}
	case x.cls == analogVideo && is(xmr.ProtectionDigitalVideoOnly):
		e.digitalOnly = true
	case x.cls == analogVideo && is(xmr.ProtectionAGC):
		v, ok := xmr.ConfigValue(x.data)
		if !ok || v > 3 {
			return false
		}
		if v > e.agcLevel {
			e.agcLevel = v
		}
		e.agcMust = e.agcMust || x.must
	case x.cls == analogVideo && (is(xmr.ProtectionCGMSA) || is(xmr.ProtectionCGMSAHard)):
		v, ok := xmr.ConfigValue(x.data)
		if !ok || v > 3 {
			return false
		}
		e.cgms = max(e.cgms, v)
		e.cgmsHard = e.cgmsHard || is(xmr.ProtectionCGMSAHard)
	case x.cls == analogVideo && (is(xmr.ProtectionComponentCap) || is(xmr.ProtectionVGACap)):
		v, ok := xmr.PixelCap(x.data)
		if !ok {
			return false
		}
		capp := &e.componentCap
		if is(xmr.ProtectionVGACap) {
			capp = &e.vgaCap
		}
		if *capp == 0 || v < *capp {
			*capp = v
		}
	case x.cls == digitalAudio && is(xmr.ProtectionSCMS):
		v, ok := xmr.SCMSBits(x.data)
		if !ok {
			return false
		}
		e.scms = &v
		e.scmsMust = e.scmsMust || x.must
	default:
		return false
	}
	return true
}

func (e *evaluator) udv() uint16 {
	if e.pol.OPL == nil {
		return 0
	}
	return e.pol.OPL.UncompressedDigitalVideo
}

func hdcpName(h hal.HDCP) string { return "HDCP" + h.String() }

func pixelCapName(n uint32) string {
	if n == xmr.DefaultPixelCap {
		return "520k-pixel cap"
	}
	return fmt.Sprintf("%d-pixel cap", n)
}

// video returns the verdicts on the video an output would carry.
func (e *evaluator) video(o hal.Output) []result {
	k := o.Kind
	var res []result
	switch {
	case k == hal.Internal:
		res = append(res, pass("§2: the integrated panel always passes video (a prsim decision)"))
	case k == hal.HDMI || k == hal.DisplayPort:
		res = append(res, e.udvRule(o))
	case k.Analog():
		res = append(res, e.analogRules(o)...)
	default: // Miracast, AirPlay, DTCP, Unknown
		res = append(res, e.enablerRule(o, true))
		if v := e.udv(); v > 300 {
			res = append(res, block("§2: uncompressed digital video OPL %d (above 300) blocks every digital video output", v))
		}
	}
	if k != hal.Internal && e.internalOnly {
		res = append(res, block("§3: internal video output only: %s is external", k))
	}
	if !k.Analog() {
		if e.watermark != "" {
			res = append(res, block("%s", e.watermark))
		}
		if r := e.notUnderstood[digitalVideo]; r != "" {
			res = append(res, block("%s", r))
		}
	}
	if (k.Analog() || k == hal.Unknown) && e.notUnderstood[analogVideo] != "" {
		res = append(res, block("%s", e.notUnderstood[analogVideo]))
	}
	if k == hal.Unknown && e.digitalOnly {
		res = append(res, block("§3: digital video only: an unknown output may be analog (fail closed)"))
	}
	if e.maxW != 0 {
		w, h := e.maxW, e.maxH
		d := e.req.Platform.Decoder
		if d.MaxWidth != 0 && d.MaxWidth < w {
			w = d.MaxWidth
		}
		if d.MaxHeight != 0 && d.MaxHeight < h {
			h = d.MaxHeight
		}
		res = append(res, constrain(fmt.Sprintf("max %dx%d", w, h),
			"§3: maximum effective decode resolution %dx%d (decoder at most %s)", e.maxW, e.maxH, decoderLimit(d)))
	}
	return res
}

func decoderLimit(d hal.Decoder) string {
	if d.MaxWidth == 0 && d.MaxHeight == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%dx%d", d.MaxWidth, d.MaxHeight)
}

// udvRule is the uncompressed digital video column of the §2 video table
// for an HDMI or DisplayPort output.
func (e *evaluator) udvRule(o hal.Output) result {
	v := e.udv()
	k := o.Kind
	has := o.HDCP != hal.HDCPNone
	pre := fmt.Sprintf("§2: uncompressed digital video OPL %d", v)
	switch {
	case v <= 100:
		return pass("%s (0–100): pass", pre)
	case v <= 200:
		return pass("%s (101–200): pass", pre)
	case v <= 250:
		if has {
			return protect([]string{hdcpName(o.HDCP)}, "%s (201–250): HDCP attempted and engaged", pre)
		}
		return pass("%s (201–250): attempt HDCP, pass regardless; %s has none (best effort)", pre, k)
	case v <= 270:
		switch {
		case has:
			return protect([]string{hdcpName(o.HDCP)}, "%s (251–270): HDCP engaged", pre)
		case e.req.Persona.SecurityLevel >= 3000:
			return block("%s (251–270) on a hardware DRM (SL3000) client requires HDCP; %s has none", pre, k)
		default:
			return constrain(pixelCapName(xmr.DefaultPixelCap),
				"%s (251–270) on a software DRM (SL%d) client: HDCP failed on %s, constrained to 520,000 pixels per frame", pre, e.req.Persona.SecurityLevel, k)
		}
	case v <= 300:
		if e.hdcpType1 {
			if o.HDCP >= hal.HDCP22 && o.Type1 {
				return protect([]string{hdcpName(o.HDCP), "HDCP type 1"}, "%s (271–300) with the HDCP type restriction: HDCP 2.2+ with content stream type 1 engaged", pre)
			}
			return block("%s (271–300) with the HDCP type restriction requires HDCP 2.2+ with content stream type 1; %s has HDCP %s%s",
				pre, k, o.HDCP, map[bool]string{true: " with type 1", false: " without type 1"}[o.Type1])
		}
		if has {
			return protect([]string{hdcpName(o.HDCP)}, "%s (271–300): HDCP required and engaged", pre)
		}
		return block("%s (271–300) requires HDCP; %s has none", pre, k)
	}
	return block("%s (above 300): block", pre)
}

// analogRules are the analog TV column of the §2 video table and the
// analog explicit protections of §3, for component, composite and VGA.
func (e *evaluator) analogRules(o hal.Output) []result {
	k := o.Kind
	var res []result
	var v uint16
	if e.pol.OPL != nil {
		v = e.pol.OPL.AnalogVideo
	}
	pre := fmt.Sprintf("§2: analog video OPL %d", v)
	const copyNever = "CGMS-A CopyNever"
	switch {
	case v <= 100:
		res = append(res, pass("%s (0–100): pass", pre))
	case v <= 150:
		if o.CGMSA {
			res = append(res, protect([]string{copyNever}, "%s (101–150): CGMS-A CopyNever engaged", pre))
		} else {
			res = append(res, pass("%s (101–150): %s cannot engage CGMS-A, pass", pre, k))
		}
	case v <= 200:
		if o.CGMSA {
			res = append(res, protect([]string{copyNever}, "%s (151–200): CGMS-A CopyNever required and engaged", pre))
		} else {
			res = append(res, block("%s (151–200) requires CGMS-A CopyNever; %s cannot engage it", pre, k))
		}
	default:
		res = append(res, block("%s (above 200): block", pre))
	}
	if e.digitalOnly {
		res = append(res, block("§3: digital video only: every analog video output is blocked"))
	}
	if l := e.agcLevel; l > 0 {
		switch {
		case o.AGC:
			res = append(res, protect([]string{fmt.Sprintf("AGC level %d", l)}, "§3: AGC and colour stripe level %d engaged", l))
		case e.agcMust:
			res = append(res, block("§3: AGC and colour stripe level %d is must-understand; %s cannot engage it", l, k))
		default:
			res = append(res, pass("§3: AGC and colour stripe level %d not engaged (%s cannot), not must-understand", l, k))
		}
	}
	if c := e.cgms; c > 0 {
		name := "CGMS-A " + xmr.CGMSName(c)
		switch {
		case o.CGMSA:
			res = append(res, protect([]string{name}, "§3: %s engaged", name))
		case e.cgmsHard:
			res = append(res, block("§3: hard analog TV restriction requires %s; %s cannot engage it", name, k))
		default:
			res = append(res, pass("§3: best-effort analog TV restriction: %s cannot engage %s, pass", k, name))
		}
	}
	if k == hal.Component && e.componentCap != 0 {
		res = append(res, constrain(pixelCapName(e.componentCap), "§3: component video limited to %d pixels per frame", e.componentCap))
	}
	if k == hal.VGA && e.vgaCap != 0 {
		res = append(res, constrain(pixelCapName(e.vgaCap), "§3: VGA/RGB limited to %d pixels per frame", e.vgaCap))
	}
	return res
}

// enablerRule decides an output that plays only with a play enabler (§4).
func (e *evaluator) enablerRule(o hal.Output, video bool) result {
	has := func(s string) bool { return e.enablers[kid.MustParse(s)] }
	switch o.Kind {
	case hal.Unknown:
		if video && e.pol.MinSecurityLevel >= 3000 && (has(xmr.EnablerUnknownOutput) || has(xmr.EnablerConstrainedUnknownOutput)) {
			return block("§4: video is never passed to an unknown output under a license whose minimum security level is %d (3000), play enabler or not", e.pol.MinSecurityLevel)
		}
		switch {
		case has(xmr.EnablerUnknownOutput):
			return pass("§4: play enabler %s (unknown output, any resolution)", xmr.EnablerUnknownOutput)
		case has(xmr.EnablerConstrainedUnknownOutput) && video:
			return constrain(pixelCapName(xmr.DefaultPixelCap), "§4: play enabler %s (unknown output at constrained resolution): at most 520,000 pixels per frame", xmr.EnablerConstrainedUnknownOutput)
		case has(xmr.EnablerConstrainedUnknownOutput):
			return pass("§4: play enabler %s (unknown output at constrained resolution); audio is not constrained", xmr.EnablerConstrainedUnknownOutput)
		}
		return block("§4: an unknown output passes only with the unknown-output play enabler (%s or %s); the license has neither", xmr.EnablerUnknownOutput, xmr.EnablerConstrainedUnknownOutput)
	case hal.Miracast:
		return e.linkEnabler(o.Kind, xmr.EnablerMiracast, "Miracast")
	case hal.AirPlay:
		return e.linkEnabler(o.Kind, xmr.EnablerAirPlay, "AirPlay")
	}
	return e.linkEnabler(o.Kind, xmr.EnablerDTCP, "DTCP")
}

func (e *evaluator) linkEnabler(k hal.OutputKind, guid, prot string) result {
	if e.enablers[kid.MustParse(guid)] {
		return protect([]string{prot}, "§4: play enabler %s (%s): passed over the %s link's own protection", guid, xmr.PlayEnablerName(kid.MustParse(guid)), prot)
	}
	return block("§4: %s passes only with its play enabler %s; the license does not have it", k, guid)
}

// audio returns the verdicts on the audio an output would carry: the §2
// audio table and the digital audio protections of §3.
func (e *evaluator) audio(o hal.Output) []result {
	var ca, ua uint16
	if e.pol.OPL != nil {
		ca, ua = e.pol.OPL.CompressedDigitalAudio, e.pol.OPL.UncompressedDigitalAudio
	}
	k := o.Kind
	var res []result
	switch k {
	case hal.Internal, hal.Component, hal.Composite:
		// Speakers and analog audio jacks: the analog audio column, whose
		// only limit is above 300 (either audio OPL counts, fail closed).
		if v := max(ca, ua); v > 300 {
			res = append(res, block("§2: audio OPL %d (above 300) blocks analog audio", v))
		} else {
			res = append(res, pass("§2: analog audio passes at audio OPL %d (0–300)", v))
		}
	case hal.HDMI, hal.DisplayPort:
		// prsim decodes audio to PCM for HDMI/DP: uncompressed digital audio.
		res = append(res, uncompressedAudio(o, ua))
		if ca > 300 {
			res = append(res, block("§2: compressed digital audio OPL %d (above 300) blocks every audio output", ca))
		}
	case hal.SPDIF:
		// S/PDIF may carry a compressed bitstream or PCM; both columns apply.
		res = append(res, compressedAudio(ca), uncompressedAudio(o, ua))
		if e.scms != nil {
			name := fmt.Sprintf("SCMS copy bits %02b", *e.scms)
			switch {
			case o.SCMS:
				res = append(res, protect([]string{name}, "§3: %s engaged", name))
			case e.scmsMust:
				res = append(res, block("§3: %s is must-understand; spdif cannot engage SCMS", name))
			default:
				res = append(res, pass("§3: %s not engaged (spdif cannot), not must-understand", name))
			}
		}
	default: // Miracast, AirPlay, DTCP, Unknown
		res = append(res, e.enablerRule(o, false))
		if v := max(ca, ua); v > 300 {
			res = append(res, block("§2: audio OPL %d (above 300) blocks every audio output", v))
		}
	}
	if r := e.notUnderstood[digitalAudio]; r != "" && k != hal.Internal && k != hal.Component && k != hal.Composite {
		res = append(res, block("%s", r))
	}
	return res
}

func uncompressedAudio(o hal.Output, v uint16) result {
	pre := fmt.Sprintf("§2: uncompressed digital audio OPL %d", v)
	k := o.Kind
	switch {
	case v <= 200:
		return pass("%s (0–200): pass", pre)
	case v <= 250:
		switch {
		case o.HDCP != hal.HDCPNone:
			return protect([]string{hdcpName(o.HDCP)}, "%s (201–250): HDCP engaged", pre)
		case o.SCMS:
			return protect([]string{"SCMS CopyNever"}, "%s (201–250): SCMS engaged with CopyNever", pre)
		}
		return block("%s (201–250) requires HDCP, or SCMS with CopyNever; %s has neither", pre, k)
	case v <= 300:
		if o.HDCP != hal.HDCPNone {
			return protect([]string{hdcpName(o.HDCP)}, "%s (251–300): HDCP required and engaged", pre)
		}
		return block("%s (251–300) requires HDCP; %s has none", pre, k)
	}
	return block("%s (above 300): block", pre)
}

func compressedAudio(v uint16) result {
	pre := fmt.Sprintf("§2: compressed digital audio OPL %d", v)
	switch {
	case v <= 100:
		return pass("%s (0–100): pass", pre)
	case v <= 300:
		return block("%s (101–300): compressed digital audio is blocked", pre)
	}
	return block("%s (above 300): block", pre)
}
