package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/wire/xmr"
)

// Action is what happens to one output.
type Action uint8

// Actions, from the least to the most restrictive.
const (
	Pass      Action = iota + 1 // the output plays; nothing is engaged
	Protect                     // the output plays with the protections listed
	Constrain                   // the output plays at a reduced resolution
	Block                       // the output gets nothing
)

var actionNames = [...]string{Pass: "pass", Protect: "protect", Constrain: "constrain", Block: "block"}

// String returns "pass", "protect", "constrain" or "block".
func (a Action) String() string {
	if a >= Pass && a <= Block {
		return actionNames[a]
	}
	return "invalid(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText makes an Action a JSON string.
func (a Action) MarshalText() ([]byte, error) {
	if a < Pass || a > Block {
		return nil, errors.New("policy: invalid action")
	}
	return []byte(a.String()), nil
}

// Strategy says what a failing output does to playback (docs/formats/policies-and-outputs.md §2).
type Strategy uint8

// Strategies.
const (
	StrategyBlock  Strategy = iota // block only the failing outputs (default)
	StrategyRefuse                 // refuse playback when any output fails
)

// ParseStrategy parses "block" or "refuse".
func ParseStrategy(s string) (Strategy, error) {
	switch strings.ToLower(s) {
	case "block":
		return StrategyBlock, nil
	case "refuse":
		return StrategyRefuse, nil
	}
	return 0, errors.New("policy: strategy must be block or refuse")
}

// String returns "block" or "refuse".
func (s Strategy) String() string {
	if s == StrategyRefuse {
		return "refuse"
	}
	return "block"
}

// Stream is the stream a key decrypts.
type Stream uint8

// Streams.
const (
	AllStreams Stream = iota // video and audio (the stream is not known)
	Video
	Audio
)

// Persona is what the client is: its PlayReady version and security level.
type Persona struct {
	// Version is the PlayReady version, "2.0", "3.0", "4.3" or "4.5"; ""
	// is a device provisioned before prsim recorded it, a 4.x client.
	Version string
	// SecurityLevel is the device's level: 150, 2000 (software DRM) or
	// 3000 (hardware DRM).
	SecurityLevel uint32
}

// pr3 reports whether the persona is PlayReady 3.0 or later. A version
// that does not parse counts as 2.x, which understands less (fail closed).
func (p Persona) pr3() bool {
	if p.Version == "" {
		return true
	}
	major, _, _ := strings.Cut(p.Version, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 3
}

// Request is what Evaluate needs besides the license.
type Request struct {
	Persona  Persona
	Platform hal.Platform
	Strategy Strategy
	Stream   Stream
	// Blocked names outputs the TEE blocks whatever the license says (a
	// cast target whose receiver certificate is revoked), with why.
	Blocked map[hal.OutputKind]string
}

// OutputDecision is the decision for one output.
type OutputDecision struct {
	Kind   hal.OutputKind `json:"-"`
	Output string         `json:"output"` // Kind.String()
	Action Action         `json:"action"`
	// Protections are those engaged, e.g. "HDCP2.2", "HDCP type 1",
	// "CGMS-A CopyNever", "AGC level 2", "SCMS copy bits 11",
	// "520k-pixel cap", "max 1920x1080"; empty, never nil.
	Protections []string `json:"protections"`
	// Reason is the rule (or rules) that decided, in words, citing
	// docs/formats/policies-and-outputs.md by section.
	Reason string `json:"reason"`
}

// Decision is the outcome of [Evaluate].
type Decision struct {
	// Outputs holds one decision per platform output that carries the
	// requested stream, in platform order. It is nil when the license
	// itself is refused (a missing right, an object not understood).
	Outputs []OutputDecision
	// Refused says playback is refused; Code and Reason say why.
	Refused bool
	Code    drm.Code
	Reason  string
	// Notes are license-wide remarks: rights not exercised, objects
	// ignored, best-effort protections that could not be engaged.
	Notes []string
}

// Err returns nil, or an error wrapping Code that states Reason.
func (d Decision) Err() error {
	if !d.Refused {
		return nil
	}
	return fmt.Errorf("policy: %s: %w", d.Reason, d.Code)
}

// Output returns the decision for the output of kind k.
func (d Decision) Output(k hal.OutputKind) (OutputDecision, bool) {
	for _, o := range d.Outputs {
		if o.Kind == k {
			return o, true
		}
	}
	return OutputDecision{}, false
}

func refuse(code drm.Code, notes []string, format string, args ...any) Decision {
	return Decision{Refused: true, Code: code, Reason: fmt.Sprintf(format, args...), Notes: notes}
}

// Evaluate decides, for every output of r.Platform, what the license lets
// it play. It reads only the license and the request and has no side
// effect, so the TEE (before it releases a decryptor), the REE (to show the
// decision) and the conformance runner (as its oracle) get the same answer.
//
// Order: rights (Play is required; Copy, Execute and Read are never
// exercised), objects this persona does not understand, source
// restrictions, then each output against the OPL tables (§2), the explicit
// output protections (§3) and the play enablers (§4), then the strategy.
func Evaluate(l *xmr.License, r Request) Decision {
	if l == nil || l.Outer == nil {
		return refuse(drm.ErrRightsNotAvailable, nil, "no license")
	}
	p := l.Policy()
	e := &evaluator{req: r, pol: p, pr3: r.Persona.pr3()}
	if d, done := e.license(l); done {
		return d
	}
	e.compile(l)
	var d Decision
	video := r.Stream != Audio
	audio := r.Stream != Video
	for _, o := range r.Platform.Outputs {
		var res []result
		if video && o.Kind.Video() {
			res = append(res, e.video(o)...)
		}
		if audio && o.Kind.Audio() {
			res = append(res, e.audio(o)...)
		}
		if len(res) == 0 {
			continue
		}
		if why, ok := r.Blocked[o.Kind]; ok {
			res = []result{block("%s", why)}
		}
		d.Outputs = append(d.Outputs, combine(o.Kind, res))
	}
	d.Notes = e.notes
	var blocked []string
	for _, o := range d.Outputs {
		if o.Action == Block {
			blocked = append(blocked, o.Output+": "+o.Reason)
		}
	}
	switch {
	case len(d.Outputs) == 0:
		d.Refused, d.Code = true, drm.ErrTEEOutputProtectionRequirementsNotMet
		d.Reason = "no output of the platform carries the stream"
	case r.Strategy == StrategyRefuse && len(blocked) > 0:
		d.Refused, d.Code = true, drm.ErrTEEOutputProtectionRequirementsNotMet
		d.Reason = "strategy refuse: an output fails the license's output protection (" + strings.Join(blocked, "; ") + ")"
	case len(blocked) == len(d.Outputs):
		d.Refused, d.Code = true, drm.ErrTEEOutputProtectionRequirementsNotMet
		d.Reason = "no output can play (" + strings.Join(blocked, "; ") + ")"
	}
	return d
}

// result is one rule's verdict on one output.
type result struct {
	action Action
	prot   []string
	reason string
}

func pass(format string, args ...any) result {
	return result{action: Pass, reason: fmt.Sprintf(format, args...)}
}

func block(format string, args ...any) result {
	return result{action: Block, reason: fmt.Sprintf(format, args...)}
}

func protect(prot []string, format string, args ...any) result {
	return result{action: Protect, prot: prot, reason: fmt.Sprintf(format, args...)}
}

func constrain(prot string, format string, args ...any) result {
	return result{action: Constrain, prot: []string{prot}, reason: fmt.Sprintf(format, args...)}
}

// combine folds the rules' verdicts on one output: the most restrictive
// action wins; protections of every non-blocking rule are kept; the reason
// lists the rules that decided (the blocking ones when blocked, else every
// rule that engaged something, else every passing rule).
func combine(k hal.OutputKind, res []result) OutputDecision {
	d := OutputDecision{Kind: k, Output: k.String(), Protections: []string{}}
	for _, r := range res {
		d.Action = max(d.Action, r.action)
	}
	var reasons []string
	add := func(s string) {
		if !slices.Contains(reasons, s) {
			reasons = append(reasons, s)
		}
	}
	for _, r := range res {
		switch {
		case d.Action == Block && r.action == Block:
			add(r.reason)
		case d.Action != Block && d.Action != Pass && r.action != Pass:
			add(r.reason)
		case d.Action == Pass:
			add(r.reason)
		}
		if d.Action != Block && r.action != Block {
			for _, p := range r.prot {
				if !slices.Contains(d.Protections, p) {
					d.Protections = append(d.Protections, p)
				}
			}
		}
	}
	d.Reason = strings.Join(reasons, "; ")
	return d
}
