package tee

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
)

// Options are what [OpenWith] takes besides the device state.
type Options struct {
	// Rand supplies challenge nonces; nil = crypto/rand.
	Rand io.Reader
	// Wall is the HAL wall clock, which the user can set: the source of
	// the anti-rollback clock (never trusted beyond its checks); nil = the
	// system clock.
	Wall clock.Clock
	// Storage keeps the sealed TEE state (the device's store.db); nil =
	// [MemoryStorage], a state that lives as long as the process.
	Storage Storage
	// Platform is the simulated hardware the device's decryptors feed
	// (outputs, decoder): the HAL, injected here and read from nowhere
	// else. A platform with no output means [hal.DefaultPlatform].
	Platform hal.Platform
}

// errNotReleased is what a decryptor answers until [Key.Enable] has
// released it: the REE cannot decrypt without the policy decision.
var errNotReleased = fmt.Errorf("tee: the decryptor is not released: no output decision allows it (Key.Enable): %w",
	drm.ErrTEEOutputProtectionRequirementsNotMet)

func platformOrDefault(p hal.Platform) hal.Platform {
	if len(p.Outputs) == 0 {
		return hal.DefaultPlatform()
	}
	p.Outputs = slices.Clone(p.Outputs)
	return p
}

// Platform returns the platform injected at open: the outputs every
// decision of this device is made for.
func (d *Device) Platform() hal.Platform {
	p := d.platform
	p.Outputs = slices.Clone(p.Outputs)
	return p
}

// policyPersona is what the policy engine needs of the persona: both
// values come from the leaf certificate.
func (p Persona) policyPersona() policy.Persona {
	return policy.Persona{Version: p.version(), SecurityLevel: p.SecurityLevel}
}

// Enable runs the policy engine on the key's license for the device's
// platform (injected at open, never the REE's word) and releases the
// decryptor if the decision allows it: with [policy.StrategyBlock] at least
// one output must pass, protect or constrain (the failing ones are blocked);
// with [policy.StrategyRefuse] every output must. The REE chooses the
// stream the decryptor serves (as it chooses between PRiTEE's audio and
// video decrypt functions) and the strategy; it cannot skip the decision,
// since decryption fails until one allows it. Each call replaces the
// previous decision: a refused one closes the decryptor again.
//
// The error of a refused decision wraps
// DRM_E_TEE_OUTPUT_PROTECTION_REQUIREMENTS_NOT_MET (or the license-wide
// code the engine gives) and names each blocked output with its rule.
func (k *Key) Enable(stream policy.Stream, strategy policy.Strategy) (policy.Decision, error) {
	if k.timeBased {
		// Dates are judged at every play start, on the trusted clock;
		// the first play is recorded here.
		if err := k.d.startPlay(k); err != nil {
			k.mu.Lock()
			k.released = false
			k.mu.Unlock()
			return policy.Decision{}, err
		}
	}
	dec := policy.Evaluate(k.license, policy.Request{Persona: k.persona, Platform: k.platform, Strategy: strategy, Stream: stream,
		Blocked: k.d.blockedReceivers(k.platform)})
	if dec.Err() == nil && k.ss.version != 0 {
		// The session is durable before the first sample is decrypted.
		if err := k.d.startSession(k); err != nil {
			k.mu.Lock()
			k.released = false
			k.mu.Unlock()
			return dec, err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return dec, errClosed
	}
	k.decision, k.decided = dec, true
	err := dec.Err()
	k.released = err == nil
	if err != nil {
		return dec, &OutputError{Decision: dec, err: err}
	}
	return dec, nil
}

// Decision returns the last decision [Key.Enable] made, and whether one was made.
func (k *Key) Decision() (policy.Decision, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.decision, k.decided
}

// OutputError is a refused output decision: it names every blocked output
// with the rule that blocked it, and carries the whole decision for display.
type OutputError struct {
	Decision policy.Decision
	err      error
}

func (e *OutputError) Error() string {
	msg := "tee: playback refused"
	if e.Decision.Reason != "" {
		// The engine's reason names the failing outputs and their rules.
		msg += ": " + e.Decision.Reason
	} else {
		var blocked []string
		for _, o := range e.Decision.Outputs {
			if o.Action == policy.Block {
				blocked = append(blocked, o.Output+": "+o.Reason)
			}
		}
		msg += ": blocked " + strings.Join(blocked, "; ")
	}
	if c, ok := drm.CodeOf(e.err); ok {
		return msg + ": " + c.String()
	}
	return msg
}

// Unwrap returns the decision's error (it wraps the DRM code).
func (e *OutputError) Unwrap() error { return e.err }

var _ error = (*OutputError)(nil)

// blockedReceivers are the outputs whose receiver certificate the TEE
// refuses (revoked, or not of the device's PKI): they are blocked before
// the license's output rules are considered.
func (d *Device) blockedReceivers(p hal.Platform) map[hal.OutputKind]string {
	var out map[hal.OutputKind]string
	for _, o := range p.Outputs {
		if len(o.Receiver) == 0 {
			continue
		}
		if why := d.receiverRevoked(o.Receiver); why != "" {
			if out == nil {
				out = map[hal.OutputKind]string{}
			}
			out[o.Kind] = why
		}
	}
	return out
}
