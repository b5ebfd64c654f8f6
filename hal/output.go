package hal

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// OutputKind is the kind of a video or audio output of the simulated platform.
type OutputKind uint8

// Output kinds (docs/formats/policies-and-outputs.md §2–§4).
const (
	Internal    OutputKind = iota + 1 // the integrated panel and speakers
	HDMI                              // HDMI (also stands for DVI, MHL), HDCP-capable
	DisplayPort                       // DisplayPort, HDCP-capable
	Component                         // analog component video
	Composite                         // analog composite (TV) video
	VGA                               // analog computer monitor (VGA/RGB)
	SPDIF                             // S/PDIF digital audio
	Miracast                          // wireless display
	AirPlay                           // Apple AirPlay
	DTCP                              // DTCP-IP link
	Unknown                           // an output the platform cannot identify (e.g. in a virtual machine)
)

var kindNames = [...]string{
	Internal: "internal", HDMI: "hdmi", DisplayPort: "displayport", Component: "component", Composite: "composite",
	VGA: "vga", SPDIF: "spdif", Miracast: "miracast", AirPlay: "airplay", DTCP: "dtcp", Unknown: "unknown",
}

// String returns the kind's name in an output spec, e.g. "hdmi".
func (k OutputKind) String() string {
	if k >= Internal && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid(" + strconv.Itoa(int(k)) + ")"
}

// Analog reports whether the output carries analog video.
func (k OutputKind) Analog() bool { return k == Component || k == Composite || k == VGA }

// Video reports whether the output carries video (every kind but S/PDIF).
func (k OutputKind) Video() bool { return k >= Internal && k <= Unknown && k != SPDIF }

// Audio reports whether the output carries audio (every kind but VGA).
func (k OutputKind) Audio() bool { return k >= Internal && k <= Unknown && k != VGA }

func (k OutputKind) hdcpCapable() bool { return k == HDMI || k == DisplayPort }

// HDCP is the highest HDCP version an output can engage.
type HDCP uint8

// HDCP versions.
const (
	HDCPNone HDCP = iota
	HDCP14
	HDCP22
	HDCP23
)

var hdcpNames = [...]string{HDCPNone: "none", HDCP14: "1.4", HDCP22: "2.2", HDCP23: "2.3"}

// String returns "none", "1.4", "2.2" or "2.3".
func (h HDCP) String() string {
	if int(h) < len(hdcpNames) {
		return hdcpNames[h]
	}
	return "invalid(" + strconv.Itoa(int(h)) + ")"
}

// Output is one output and what it can engage. Only the fields of its kind
// may be set (ParseOutputs enforces it).
type Output struct {
	Kind OutputKind
	// HDCP and Type1 are for HDMI and DisplayPort. Type1 is the capability
	// to send an HDCP content stream of type 1, which exists from HDCP 2.1
	// on, so it needs HDCP 2.2 or 2.3 here.
	HDCP  HDCP
	Type1 bool
	// CGMSA (copy generation management) and AGC (automatic gain control /
	// colour stripe) are for the analog outputs.
	CGMSA bool
	AGC   bool
	// SCMS (serial copy management) is for S/PDIF.
	SCMS bool
	// Cert is, for an output that passes content on to another device
	// (Miracast, AirPlay, DTCP: a cast target), the path of the receiving
	// device's certificate chain (BCert CHAI); Receiver holds its bytes
	// once [Platform.LoadReceivers] read them. The TEE checks the chain
	// against its revocation list before it lets the output play.
	Cert     string
	Receiver []byte
}

// receiver reports whether the output passes content on to another
// device, which may carry a certificate.
func (k OutputKind) receiver() bool { return k == Miracast || k == AirPlay || k == DTCP }

// LoadReceivers reads the certificate chain of every output with a Cert
// path, with read (the caller's file access: package hal does no I/O).
func (p *Platform) LoadReceivers(read func(path string) ([]byte, error)) error {
	for i := range p.Outputs {
		o := &p.Outputs[i]
		if o.Cert == "" {
			continue
		}
		b, err := read(o.Cert)
		if err != nil {
			return fmt.Errorf("hal: output %s: its receiver certificate cannot be read: %w", o.Kind, err)
		}
		o.Receiver = b
	}
	return nil
}

// String returns the output's canonical spec token, e.g. "hdmi:hdcp=2.2,type1".
func (o Output) String() string {
	var opts []string
	if o.Kind.hdcpCapable() && o.HDCP != HDCPNone {
		opts = append(opts, "hdcp="+o.HDCP.String())
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{o.Type1, "type1"}, {o.CGMSA, "cgmsa"}, {o.AGC, "agc"}, {o.SCMS, "scms"}} {
		if f.on {
			opts = append(opts, f.name)
		}
	}
	if o.Cert != "" {
		opts = append(opts, certPrefix+o.Cert)
	}
	if len(opts) == 0 {
		return o.Kind.String()
	}
	return o.Kind.String() + ":" + strings.Join(opts, ",")
}

// Decoder is the platform's video decoder; 0x0 means no limit.
type Decoder struct {
	MaxWidth, MaxHeight uint32
}

// Platform is the simulated platform's outputs and decoder. It is a plain
// value: a device gets one at creation and a play may override it; no
// package state holds it.
type Platform struct {
	Outputs []Output // at least one, at most one per kind, in spec order
	Decoder Decoder
}

// DefaultOutputs is the output spec of a device made without one: a
// device with only its integrated panel (and speakers), like a phone or a
// tablet not connected to anything.
const DefaultOutputs = "internal"

// Bounds of an output spec.
const (
	MaxSpecLen   = 512        // bytes
	MaxOutputs   = 16         // tokens, decoder included
	MaxDimension = 1 << 16    // decoder width or height
	maxShown     = 24         // bytes of a bad token an error shows
	decoderName  = "decoder"  // the decoder token's name
	maxPrefix    = "max="     // the decoder's only option
	hdcpPrefix   = "hdcp="    // the HDCP option of hdmi/displayport
	certPrefix   = "cert="    // the receiver certificate of a cast target
	tokenSep     = ";"        // between tokens
	optSep       = ","        // between options
	kindSep      = ":"        // between a kind and its options
	dimSep       = "x"        // between width and height
	internalKind = "internal" // for the "no output" hint
)

// ErrOutputSpec is matched (errors.Is) by every error of [ParseOutputs].
var ErrOutputSpec = errors.New("hal: bad output spec")

// specError names the offending token (shortened) without echoing more.
type specError struct {
	token, why string
}

func (e *specError) Error() string {
	if e.token == "" {
		return "hal: bad output spec: " + e.why
	}
	return fmt.Sprintf("hal: bad output spec: %q: %s", short(e.token), e.why)
}

func (e *specError) Is(target error) bool { return target == ErrOutputSpec }

func short(s string) string {
	if len(s) > maxShown {
		return s[:maxShown] + "…"
	}
	return s
}

// DefaultPlatform returns the platform of [DefaultOutputs].
func DefaultPlatform() Platform {
	return Platform{Outputs: []Output{{Kind: Internal}}}
}

// ParseOutputs parses an output spec such as
//
//	internal;hdmi:hdcp=2.2,type1;component:cgmsa,agc;spdif:scms;unknown;decoder:max=1920x1080
//
// Tokens are separated by ';'. A token is KIND[:OPT,OPT…] or decoder:max=WxH.
// Options: hdmi and displayport take hdcp=none|1.4|2.2|2.3 and type1 (which
// needs hdcp 2.2 or 2.3); component, composite and vga take cgmsa and agc;
// spdif takes scms; internal, miracast, airplay, dtcp and unknown take none.
// Names are case-insensitive; each kind appears at most once and at least
// one output is required. Errors wrap [ErrOutputSpec] and name the bad token.
func ParseOutputs(spec string) (Platform, error) {
	var p Platform
	if len(spec) > MaxSpecLen {
		return p, &specError{why: fmt.Sprintf("longer than %d bytes", MaxSpecLen)}
	}
	tokens := strings.Split(spec, tokenSep)
	if len(tokens) > MaxOutputs {
		return p, &specError{why: fmt.Sprintf("more than %d tokens", MaxOutputs)}
	}
	seen := map[OutputKind]bool{}
	decoder := false
	for _, tok := range tokens {
		name, opts, hasOpts := strings.Cut(tok, kindSep)
		name = strings.ToLower(name)
		if name == decoderName {
			if decoder {
				return Platform{}, &specError{tok, "decoder given twice"}
			}
			d, err := parseDecoder(tok, opts)
			if err != nil {
				return Platform{}, err
			}
			p.Decoder, decoder = d, true
			continue
		}
		k := kindOf(name)
		if k == 0 {
			if tok == "" {
				return Platform{}, &specError{why: "empty token (want KIND[:OPTIONS] between ';')"}
			}
			return Platform{}, &specError{tok, "unknown output kind (want internal, hdmi, displayport, component, composite, vga, spdif, miracast, airplay, dtcp, unknown or decoder)"}
		}
		if seen[k] {
			return Platform{}, &specError{tok, "output kind given twice"}
		}
		seen[k] = true
		o := Output{Kind: k}
		if hasOpts {
			if err := o.setOptions(tok, opts); err != nil {
				return Platform{}, err
			}
		}
		p.Outputs = append(p.Outputs, o)
	}
	if len(p.Outputs) == 0 {
		return Platform{}, &specError{why: "no output (e.g. \"" + internalKind + "\")"}
	}
	return p, nil
}

func kindOf(name string) OutputKind {
	for k := Internal; k <= Unknown; k++ {
		if kindNames[k] == name {
			return k
		}
	}
	return 0
}

func (o *Output) setOptions(tok, opts string) error {
	seen := map[string]bool{}
	for _, opt := range strings.Split(opts, optSep) {
		if o.Kind.receiver() && len(opt) >= len(certPrefix) && strings.EqualFold(opt[:len(certPrefix)], certPrefix) {
			// A path keeps its case.
			if seen["cert"] {
				return &specError{tok, "option given twice"}
			}
			seen["cert"] = true
			if o.Cert = opt[len(certPrefix):]; o.Cert == "" {
				return &specError{tok, "cert needs the path of the receiver's certificate chain"}
			}
			continue
		}
		opt = strings.ToLower(opt)
		key, _, _ := strings.Cut(opt, "=")
		if seen[key] {
			return &specError{tok, "option given twice"}
		}
		seen[key] = true
		bad := func() error {
			return &specError{tok, fmt.Sprintf("%s takes no option %q", o.Kind, short(opt))}
		}
		switch {
		case o.Kind.hdcpCapable() && strings.HasPrefix(opt, hdcpPrefix):
			h, ok := parseHDCP(strings.TrimPrefix(opt, hdcpPrefix))
			if !ok {
				return &specError{tok, "hdcp must be none, 1.4, 2.2 or 2.3"}
			}
			o.HDCP = h
		case o.Kind.hdcpCapable() && opt == "type1":
			o.Type1 = true
		case o.Kind.Analog() && opt == "cgmsa":
			o.CGMSA = true
		case o.Kind.Analog() && opt == "agc":
			o.AGC = true
		case o.Kind == SPDIF && opt == "scms":
			o.SCMS = true
		default:
			return bad()
		}
	}
	if o.Type1 && o.HDCP < HDCP22 {
		return &specError{tok, "type1 needs hdcp=2.2 or 2.3 (HDCP content stream type 1 exists from HDCP 2.1 on)"}
	}
	return nil
}

func parseHDCP(s string) (HDCP, bool) {
	for h, n := range hdcpNames {
		if n == s {
			return HDCP(h), true
		}
	}
	return 0, false
}

func parseDecoder(tok, opts string) (Decoder, error) {
	dims, ok := strings.CutPrefix(strings.ToLower(opts), maxPrefix)
	if !ok {
		return Decoder{}, &specError{tok, "decoder takes max=WIDTHxHEIGHT"}
	}
	ws, hs, ok := strings.Cut(dims, dimSep)
	w, err1 := strconv.ParseUint(ws, 10, 32)
	h, err2 := strconv.ParseUint(hs, 10, 32)
	if !ok || err1 != nil || err2 != nil || w == 0 || h == 0 || w > MaxDimension || h > MaxDimension {
		return Decoder{}, &specError{tok, fmt.Sprintf("decoder max must be WIDTHxHEIGHT, each 1…%d", MaxDimension)}
	}
	return Decoder{MaxWidth: uint32(w), MaxHeight: uint32(h)}, nil
}

// String returns the canonical spec: outputs in order, then the decoder
// when it has a limit. ParseOutputs(p.String()) gives p back.
func (p Platform) String() string {
	parts := make([]string, 0, len(p.Outputs)+1)
	for _, o := range p.Outputs {
		parts = append(parts, o.String())
	}
	if d := p.Decoder; d.MaxWidth != 0 || d.MaxHeight != 0 {
		parts = append(parts, fmt.Sprintf("%s%s%s%d%s%d", decoderName, kindSep, maxPrefix, d.MaxWidth, dimSep, d.MaxHeight))
	}
	return strings.Join(parts, tokenSep)
}

// Output returns the platform's output of kind k.
func (p Platform) Output(k OutputKind) (Output, bool) {
	for _, o := range p.Outputs {
		if o.Kind == k {
			return o, true
		}
	}
	return Output{}, false
}
