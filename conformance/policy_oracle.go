package conformance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

// referenceOutputs is the platform the policy family's devices are opened
// on: every output kind once, protected and unprotected side by side
// (HDMI without HDCP, DisplayPort with HDCP 2.2 type 1; component with
// CGMS-A and AGC, composite without, VGA with CGMS-A; S/PDIF without SCMS),
// so that each policy object decides something on some output.
const referenceOutputs = "internal;hdmi;displayport:hdcp=2.2,type1;component:cgmsa,agc;composite;vga:cgmsa;" +
	"spdif;miracast;airplay;dtcp;unknown;decoder:max=3840x2160"

func referencePlatform() (hal.Platform, error) {
	p, err := hal.ParseOutputs(referenceOutputs)
	if err != nil {
		return p, fmt.Errorf("the runner's reference platform does not parse: %w", err)
	}
	return p, nil
}

// policyDevice opens the persona's device on the reference platform.
func (e *env) policyDevice(name string) (*ree.Device, error) {
	p, err := referencePlatform()
	if err != nil {
		return nil, err
	}
	return e.deviceOn(name, &p)
}

// judgeDecision binds lic and compares the device's output decision (its
// TEE's, for both strategies) with the oracle's, policy.Evaluate on the
// same license for the persona and platform the runner set: "" when they
// agree, else the first difference.
func (e *env) judgeDecision(d *ree.Device, id kid.ID, lic []byte) string {
	l, err := xmr.Parse(lic)
	if err != nil {
		return "a license that does not parse: " + codeText(err)
	}
	p, err := referencePlatform()
	if err != nil {
		return err.Error()
	}
	per := personas()[e.personaOf(d)]
	req := policy.Request{Persona: policy.Persona{Version: per.version, SecurityLevel: per.sl}, Platform: p}
	r := d.Client.BindLicense(lic)
	if !r.Bound {
		// The TEE binds only what it enforces: a refused bind must be the
		// oracle's refusal, with its code.
		o := policy.Evaluate(l, req)
		c, _ := drm.CodeOf(r.Err)
		if o.Refused && c == o.Code {
			return ""
		}
		return fmt.Sprintf("the device refuses to bind the license (%s) where the oracle decides %s", codeText(r.Err), describeDecision(o))
	}
	k, err := d.Client.Key(id)
	if err != nil {
		return "the bound key is not available: " + codeText(err)
	}
	for _, s := range []policy.Strategy{policy.StrategyBlock, policy.StrategyRefuse} {
		req.Strategy = s
		dev, _ := k.Enable(policy.AllStreams, s) // a refusal is a decision like any other
		if diff := compareDecisions(dev, policy.Evaluate(l, req)); diff != "" {
			return fmt.Sprintf("strategy %s: the device decides %s", s, diff)
		}
	}
	return ""
}

// personaOf names the persona whose device d is.
func (e *env) personaOf(d *ree.Device) string {
	for name, dir := range e.devDirs {
		if dir == d.Dir {
			return name
		}
	}
	return ""
}

// compareDecisions says how dev differs from the oracle's or: refusal and
// code, then per output the action and the protections engaged ("" when
// the same). Reasons are wording and are not compared.
func compareDecisions(dev, or policy.Decision) string {
	if dev.Refused != or.Refused || (dev.Refused && dev.Code != or.Code) {
		return fmt.Sprintf("%s, the oracle %s", describeDecision(dev), describeDecision(or))
	}
	if len(dev.Outputs) != len(or.Outputs) {
		return fmt.Sprintf("for %d outputs, the oracle for %d", len(dev.Outputs), len(or.Outputs))
	}
	for i, o := range or.Outputs {
		g := dev.Outputs[i]
		if g.Output != o.Output || g.Action != o.Action || !slices.Equal(g.Protections, o.Protections) {
			return fmt.Sprintf("%s, the oracle %s", describeOutput(g), describeOutput(o))
		}
	}
	return ""
}

func describeDecision(d policy.Decision) string {
	if d.Refused {
		return "refused with " + d.Code.String()
	}
	var parts []string
	for _, o := range d.Outputs {
		parts = append(parts, describeOutput(o))
	}
	return strings.Join(parts, ", ")
}

func describeOutput(o policy.OutputDecision) string {
	s := o.Output + " " + o.Action.String()
	if len(o.Protections) > 0 {
		s += " (" + strings.Join(o.Protections, ", ") + ")"
	}
	return s
}
