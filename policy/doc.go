// Package policy is prsim's one decision point for a license's rights and
// output restrictions: given a parsed license, the client persona and the
// platform's outputs, [Evaluate] says for each output whether it passes,
// passes with protections engaged, is constrained, or is blocked, and
// whether playback is refused, each with the rule that decided.
//
// It is pure: no I/O, no clock, no package state. The TEE calls it before it
// releases a decryptor, the REE shows its answer, and the conformance
// runner uses it as its oracle.
//
// # Rules
//
// The rules are those of docs/formats/policies-and-outputs.md: the OPL
// tables of §2 (video per output class, audio per output class), the
// explicit output protections of §3 (HDCP type restriction, maximum
// effective decode resolution, digital video only, internal output only,
// watermarking, AGC / colour stripe, CGMS-A, pixel caps, SCMS) and the play
// enablers of §4 (unknown output, constrained unknown output, AirPlay,
// Miracast, DTCP; WiVu and Helix are named but this platform has no such
// output). The decisions the documents leave open are prsim's, and are
// listed in that page's "prsim decisions" section.
//
// # Strategies
//
// Under [StrategyBlock] (the default) a failing output is blocked and
// playback is refused only when no output can play; under [StrategyRefuse]
// any blocked output refuses playback with
// DRM_E_TEE_OUTPUT_PROTECTION_REQUIREMENTS_NOT_MET.
//
// # Security considerations
//
// Every unknown or unreadable must-understand protection blocks the whole
// output class it belongs to (fail closed); only objects that are not
// must-understand, or best-effort by definition, are ignored, and each is
// reported in [Decision.Notes]. The package never sees key material.
package policy
