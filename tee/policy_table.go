package tee

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/xmr"
)

// Handling says who enforces an XMR object the TEE binds.
type Handling uint8

// Handlings, as docs/protocol.md §8 names them.
const (
	// HandledBind: a check in [Device.Bind] (structure, key, level, nonce, MAC).
	HandledBind Handling = iota + 1
	// HandledPolicy: the policy engine decides per output before the TEE
	// releases a decryptor ([Key.Decision]).
	HandledPolicy
	// HandledDecrypt: the decryptor handle itself (key type and scheme).
	HandledDecrypt
	// HandledIgnored: informational, or a right prsim never exercises; it
	// restricts nothing the device does.
	HandledIgnored
	// HandledRefused: the bind fails with the rule's code.
	HandledRefused
	// HandledClock: enforced on the device's trusted clock at bind, at
	// every play start and, for real-time expiration, at every sample; a
	// device without a trusted clock refuses it with the rule's code.
	HandledClock
	// HandledSecureStop: the TEE keeps a secure-stop session for the key
	// (docs/protocol.md §11) on devices that report secure stop; the
	// others play without one, as PlayReady's SL2000 clients do.
	HandledSecureStop
)

func (h Handling) String() string {
	switch h {
	case HandledBind:
		return "TEE bind check"
	case HandledPolicy:
		return "policy engine"
	case HandledDecrypt:
		return "TEE decryptor"
	case HandledIgnored:
		return "ignored"
	case HandledRefused:
		return "refused"
	case HandledClock:
		return "TEE trusted clock"
	case HandledSecureStop:
		return "TEE secure stop"
	}
	return "unknown"
}

// Rule is one row of the fail-closed table: how the TEE handles one XMR
// object type (docs/formats/xmr.md §5). Later features flip rows from
// refused to enforced (a trusted clock, secure stop, revocation).
type Rule struct {
	Type     uint16
	Handling Handling // for every persona not in the refusal range below
	Code     drm.Code // HandledRefused, or the persona-dependent refusal
	// RefusedFrom / RefusedBefore narrow a refusal to personas whose
	// PlayReady version is ≥ RefusedFrom or < RefusedBefore; Handling
	// applies to the others. Both empty: Handling alone decides.
	RefusedFrom, RefusedBefore string
	Reason                     string
	// exempt reports an object whose value restricts nothing (an
	// unlimited EXPIRATION, RIV 0), handled as absent.
	exempt func(*xmr.Object) bool
}

// Name is the object's docs/formats/xmr.md §5 name.
func (r Rule) Name() string { return xmr.TypeName(r.Type) }

// Refuses reports whether a device of persona p refuses a license carrying
// the object.
func (r Rule) Refuses(p Persona) bool {
	if r.Handling == HandledRefused {
		return true
	}
	if r.Handling == HandledClock {
		return p.ClockKind() == clock.KindNone
	}
	v := p.version()
	switch {
	case r.RefusedFrom != "":
		return versionAtLeast(v, r.RefusedFrom)
	case r.RefusedBefore != "":
		return !versionAtLeast(v, r.RefusedBefore)
	}
	return false
}

// Reasons shared by several rows.
const (
	reasonClock       = "time-based policy, checked on the trusted clock (docs/formats/policies-and-outputs.md §5, §9); a device without one refuses it"
	reasonOtherRight  = "a right other than Play: PlayReady 3.0+ clients accept only Play (docs/formats/policies-and-outputs.md §5); older personas never exercise it"
	reasonChained     = "chained and scalable licenses are not supported: the content key would be wrapped under a root key prsim never binds"
	reasonStructure   = "license structure, parsed and checked at bind"
	reasonNotCopied   = "restricts the Copy right, refused with its container on PlayReady 3.0+; older personas never copy"
	reasonRIV         = "compared with the RIV of the RevInfo the TEE holds (verified, never older than before): a higher one gives DRM_E_RIV_TOO_SMALL, and the REE acquires again, which delivers the lists; 0 asks for none"
	reasonOutputsOnly = "output protection: the policy engine decides per output before a decryptor is released"
)

// rules is the fail-closed table. Every type in docs/formats/xmr.md §5 has
// a row; [Rules] returns a copy. Objects prsim does not know are refused
// when must-understand ([UnknownMustUnderstand]) and ignored otherwise.
var rules = []Rule{
	{Type: xmr.TypeOuterContainer, Handling: HandledBind, Reason: reasonStructure},
	{Type: xmr.TypeGlobalPolicyContainer, Handling: HandledBind, Reason: reasonStructure},
	{Type: xmr.TypeMinimumEnvironment, Handling: HandledBind, Reason: "minimum security level compared with the leaf certificate's (v1 licenses; the CRL versions must be 0)"},
	{Type: xmr.TypePlaybackPolicyContainer, Handling: HandledPolicy, Reason: "the Play right; a license without it is refused with DRM_E_RIGHTS_NOT_AVAILABLE"},
	{Type: xmr.TypeOutputProtection, Handling: HandledPolicy, Reason: reasonOutputsOnly + " (OPL tables, docs/formats/policies-and-outputs.md §2)"},
	{Type: xmr.TypeUplinkKID, Handling: HandledRefused, Code: drm.ErrInvalidLicense, Reason: reasonChained},
	{Type: xmr.TypeExplicitAnalogVideoContainer, Handling: HandledPolicy, Reason: reasonOutputsOnly},
	{Type: xmr.TypeAnalogVideoOutputConfig, Handling: HandledPolicy, Reason: reasonOutputsOnly + " (docs/formats/policies-and-outputs.md §3)"},
	{Type: xmr.TypeKeyMaterialContainer, Handling: HandledBind, Reason: reasonStructure},
	{Type: xmr.TypeContentKey, Handling: HandledBind, Reason: "ECC-256 unwrap to this device's key; AES-CTR or AES-CBC only; the decryptor then refuses the other scheme"},
	{Type: xmr.TypeSignature, Handling: HandledBind, Reason: "AES-CMAC with the unwrapped CI, checked before the key is accepted"},
	{Type: xmr.TypeSerialNumber, Handling: HandledRefused, Code: drm.ErrLicenseMismatch, Reason: "binds the license to a device serial number, which prsim devices do not have"},
	{Type: xmr.TypeSettings, Handling: HandledBind, Reason: "CANNOT_PERSIST: the rights ID must be an outstanding challenge nonce and the REE does not store the license; other bits are informational"},
	{Type: xmr.TypeCopyPolicyContainer, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonOtherRight},
	{Type: xmr.TypeAllowPlaylistBurnContainer, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonOtherRight},
	{Type: xmr.TypeInclusionList, Handling: HandledIgnored, Reason: "informational: a key handle decrypts only its CONTENT_KEY's KID, so the list widens nothing"},
	{Type: xmr.TypePriority, Handling: HandledIgnored, Reason: "informational: the REE uses the newest license for a KID"},
	{Type: xmr.TypeExpiration, Handling: HandledClock, Code: drm.ErrNoClkSupported, Reason: reasonClock + ": usable from begin (inclusive) to end (exclusive), else DRM_E_LICENSENOTYETVALID / DRM_E_LICENSE_EXPIRED; begin 0 with end 0xFFFFFFFF bounds nothing and is ignored",
		exempt: func(o *xmr.Object) bool { return string(o.Body) == "\x00\x00\x00\x00\xff\xff\xff\xff" }},
	{Type: xmr.TypeIssueDate, Handling: HandledIgnored, Reason: "informational"},
	{Type: xmr.TypeExpirationAfterFirstUse, Handling: HandledRefused, Code: drm.ErrExtendedRestrictionNotUnderstood, Reason: "PlayReady 1 first-use expiry: prsim keeps no first-use time, so it cannot enforce it"},
	{Type: xmr.TypeExpirationAfterFirstStore, Handling: HandledRefused, Code: drm.ErrExtendedRestrictionNotUnderstood, Reason: "first-store expiry: prsim keeps no first-store time, so it cannot enforce it"},
	{Type: xmr.TypeMetering, Handling: HandledRefused, Code: drm.ErrExtendedRestrictionNotUnderstood, Reason: "metering: the device keeps no metering counts and cannot report them"},
	{Type: xmr.TypePlayCount, Handling: HandledRefused, Code: drm.ErrExtendedRestrictionNotUnderstood, Reason: "play count: the device has no secure play counter yet"},
	{Type: xmr.TypeGracePeriod, Handling: HandledIgnored, Reason: "no public definition says what it relaxes (only its unit, seconds), and it can only relax: prsim applies none"},
	{Type: xmr.TypeCopyCount, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonNotCopied},
	{Type: xmr.TypeCopyProtection, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonNotCopied},
	{Type: xmr.TypePlaylistBurnCount, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: "restricts the playlist-burn right, refused with its container on PlayReady 3.0+; older personas never burn"},
	{Type: xmr.TypeRevocationInfoVersion, Handling: HandledBind, Reason: reasonRIV},
	{Type: xmr.TypeRSADeviceKey, Handling: HandledIgnored, Reason: "informational: only the ECC-256 device key binds (RSA-wrapped keys are refused by the CONTENT_KEY check)"},
	{Type: xmr.TypeSourceID, Handling: HandledPolicy, Reason: "source ID: reported by the policy engine (prsim's outputs carry no source restriction)"},
	{Type: xmr.TypeRevocationContainer, Handling: HandledIgnored, Reason: "informational: legacy revocation authority data"},
	{Type: xmr.TypeRSALicenseGranterKey, Handling: HandledIgnored, Reason: "informational: legacy revocation authority data"},
	{Type: xmr.TypeUserID, Handling: HandledIgnored, Reason: "informational: legacy revocation authority data"},
	{Type: xmr.TypeRestrictedSourceID, Handling: HandledRefused, Code: drm.ErrExtendedRestrictionNotUnderstood, Reason: "restricted source ID: the device cannot tell which source fed the content"},
	{Type: xmr.TypeDomainID, Handling: HandledRefused, Code: drm.ErrDeviceDomainJoinRequired, Reason: "domain-bound license: the device has joined no domain"},
	{Type: xmr.TypeECCDeviceKey, Handling: HandledBind, Reason: "must equal this device's encryption key (DRM_E_LICENSEMISMATCH)"},
	{Type: xmr.TypeGenerationNumber, Handling: HandledIgnored, Reason: "informational"},
	{Type: xmr.TypePolicyMetadata, Handling: HandledIgnored, Reason: "informational"},
	{Type: xmr.TypeOptimizedContentKey, Handling: HandledIgnored, Reason: "a client-side cache of the key; prsim always unwraps the ECC-256 key"},
	{Type: xmr.TypeExplicitDigitalAudioContainer, Handling: HandledPolicy, Reason: reasonOutputsOnly},
	{Type: xmr.TypeRingtonePolicyContainer, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonOtherRight},
	{Type: xmr.TypeExpirationAfterFirstPlay, Handling: HandledClock, Code: drm.ErrNoClkSupported, Reason: reasonClock + ": expires that many seconds after the first play start, which the TEE records durably (DRM_E_LICENSE_EXPIRED)"},
	{Type: xmr.TypeDigitalAudioOutputConfig, Handling: HandledPolicy, Reason: reasonOutputsOnly + " (docs/formats/policies-and-outputs.md §3)"},
	{Type: xmr.TypeRevocationInfoVersion2, Handling: HandledBind, Reason: reasonRIV},
	{Type: xmr.TypeEmbeddingBehavior, Handling: HandledIgnored, Reason: "informational: prsim never embeds licenses in content"},
	{Type: xmr.TypeSecurityLevel, Handling: HandledBind, Reason: "minimum security level compared with the leaf certificate's (DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW)"},
	{Type: xmr.TypeCopyToPCContainer, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonOtherRight},
	{Type: xmr.TypePlayEnablerContainer, Handling: HandledPolicy, Reason: "play enablers: the policy engine passes outputs they name (docs/formats/policies-and-outputs.md §4)"},
	{Type: xmr.TypeMoveEnabler, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonNotCopied},
	{Type: xmr.TypeCopyEnablerContainer, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonNotCopied},
	{Type: xmr.TypePlayEnabler, Handling: HandledPolicy, Reason: "play enablers: the policy engine passes outputs they name (docs/formats/policies-and-outputs.md §4)"},
	{Type: xmr.TypeCopyEnabler, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonNotCopied},
	{Type: xmr.TypeUplinkKID2, Handling: HandledRefused, Code: drm.ErrInvalidLicense, Reason: reasonChained},
	{Type: xmr.TypeCopyPolicy2Container, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonOtherRight},
	{Type: xmr.TypeCopyCount2, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonNotCopied},
	{Type: xmr.TypeRingtoneEnabler, Handling: HandledIgnored, Reason: "informational: prsim plays no ringtones"},
	{Type: xmr.TypeExecutePolicyContainer, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonOtherRight},
	{Type: xmr.TypeExecutePolicy, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonOtherRight},
	{Type: xmr.TypeReadPolicyContainer, Handling: HandledIgnored, Code: drm.ErrRightsNotAvailable, RefusedFrom: "3.0", Reason: reasonOtherRight},
	{Type: xmr.TypeExtensiblePolicyFirst, Handling: HandledIgnored, Reason: "extensible right (0x42–0x4F) prsim never exercises; a must-understand restriction inside is refused like any unknown one"},
	{Type: xmr.TypeRemovalDate, Handling: HandledClock, Code: drm.ErrNoClkSupported, Reason: reasonClock + ": unusable from that date (DRM_E_LICENSE_EXPIRED), and the REE deletes a stored copy"},
	{Type: xmr.TypeAuxKey, Handling: HandledRefused, Code: drm.ErrInvalidLicense, Reason: reasonChained},
	{Type: xmr.TypeUplinkX, Handling: HandledRefused, Code: drm.ErrInvalidLicense, Reason: reasonChained},
	{Type: xmr.TypeApplicationIDList, Handling: HandledIgnored, Reason: "best effort (flag B): prsim is the only application, so it never blocks"},
	{Type: xmr.TypeRealTimeExpiration, Handling: HandledClock, Code: drm.ErrNoClkSupported, Reason: reasonClock + ": every sample checks the deadline, and decryption stops at it (DRM_E_LICENSE_REALTIME_EXPIRED)"},
	{Type: xmr.TypeNDTxAuthContainer, Handling: HandledIgnored, Reason: "PlayReady-ND transmitter right, never exercised (out of prsim's scope)"},
	{Type: xmr.TypeNDTxAuth, Handling: HandledIgnored, Reason: "PlayReady-ND transmitter right, never exercised (out of prsim's scope)"},
	{Type: xmr.TypeExplicitDigitalVideoContainer, Handling: HandledPolicy, Code: drm.ErrExtendedRestrictionNotUnderstood, RefusedBefore: "3.0",
		Reason: reasonOutputsOnly + "; PlayReady 2.0 does not understand digital video output protections"},
	{Type: xmr.TypeDigitalVideoOutputConfig, Handling: HandledPolicy, Code: drm.ErrExtendedRestrictionNotUnderstood, RefusedBefore: "3.0",
		Reason: reasonOutputsOnly + "; PlayReady 2.0 does not understand digital video output protections"},
	{Type: xmr.TypeSecureStop, Handling: HandledSecureStop,
		Reason: "non-persistent licenses: an SL3000 device of PlayReady 3.0+ records a secure-stop session before the first sample, the stop with the key's wipe, and deletes it only on a signed acknowledgement; SL2000/SL150 devices send no secure stop (docs/formats/policies-and-outputs.md §10); persistent licenses open no session"},
	{Type: xmr.TypeSecureStop2, Handling: HandledSecureStop,
		Reason: "the SecureStop2 key, unwrapped at bind with the license's CI and kept sealed: an SL3000 device of PlayReady 4.3+ MACs its session record with it; others ignore it"},
	{Type: xmr.TypeOptimizedContentKey2, Handling: HandledIgnored, Reason: "a client-side cache of the key; prsim always unwraps the ECC-256 key"},
}

// UnknownMustUnderstand is the row for any must-understand object prsim
// does not know (or that sits where the XMR table does not place it):
// extensible restrictions the server marks must-understand. Unknown
// objects without the flag, best-effort ones included, never block.
var UnknownMustUnderstand = Rule{Handling: HandledRefused, Code: drm.ErrExtendedRestrictionNotUnderstood,
	Reason: "must-understand object this device does not know"}

// NoPlayRight is the rule for a license that grants no Play right.
var NoPlayRight = Rule{Type: xmr.TypePlaybackPolicyContainer, Handling: HandledRefused, Code: drm.ErrRightsNotAvailable,
	Reason: "the license grants no Play right, the only right prsim exercises"}

// Rules returns the fail-closed table, one row per XMR object type
// (EXTENSIBLE_POLICY_RESERVED 0x42–0x4F shares the 0x42 row).
func Rules() []Rule { return append([]Rule(nil), rules...) }

// RuleFor returns the row for an object type.
func RuleFor(t uint16) (Rule, bool) {
	if t >= xmr.TypeExtensiblePolicyFirst && t <= xmr.TypeExtensiblePolicyLast {
		t = xmr.TypeExtensiblePolicyFirst
	}
	for _, r := range rules {
		if r.Type == t {
			return r, true
		}
	}
	return Rule{}, false
}

// RefusalError says which object refused a bind and why. It wraps the
// rule's DRM code.
type RefusalError struct {
	Type   uint16 // 0 for a license-wide rule
	Name   string
	Reason string
	Code   drm.Code
}

func (e *RefusalError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("tee: %s: %v", e.Reason, e.Code)
	}
	return fmt.Sprintf("tee: license object %s (0x%04x) refused: %s: %v", e.Name, e.Type, e.Reason, e.Code)
}

func (e *RefusalError) Unwrap() error { return e.Code }

func refusal(r Rule, o *xmr.Object) error {
	e := &RefusalError{Type: o.Type, Name: xmr.TypeName(o.Type), Reason: r.Reason, Code: r.Code}
	if _, known := RuleFor(o.Type); !known || r.Type == 0 {
		e.Name = fmt.Sprintf("UNKNOWN-%04x", o.Type)
	}
	return e
}

// checkRules applies the table to every object of lic for persona p: the
// first refused object fails the bind with its rule's code. unknown holds
// the objects the parser did not place (xmr.Policy.Unknown).
func checkRules(lic *xmr.License, p Persona, unknown []*xmr.Object) error {
	if lic.Outer == nil {
		return fmt.Errorf("tee: license has no outer container: %w", drm.ErrInvalidLicense)
	}
	if !lic.Policy().Play {
		return &RefusalError{Reason: NoPlayRight.Reason, Code: NoPlayRight.Code}
	}
	isUnknown := map[*xmr.Object]bool{}
	for _, o := range unknown {
		isUnknown[o] = true
	}
	var walk func(o *xmr.Object, unknownParent bool) error
	walk = func(o *xmr.Object, unknownParent bool) error {
		// An object the parser did not place (or inside one) is judged
		// like a type with no row: only its must-understand flag counts.
		unk := unknownParent || isUnknown[o]
		if r, ok := RuleFor(o.Type); unk || !ok {
			if o.Flags&xmr.FlagMustUnderstand != 0 {
				return refusal(UnknownMustUnderstand, o)
			}
		} else if r.Refuses(p) && (r.exempt == nil || !r.exempt(o)) {
			return refusal(r, o)
		}
		for _, c := range o.Children {
			if err := walk(c, unk); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(lic.Outer, false)
}

// version is the persona's PlayReady version: the leaf's SECURITY_VERSION,
// or for leaves without one "3.0" when the leaf claims the PlayReady 3
// feature and "2.0" otherwise.
func (p Persona) version() string {
	if p.Version != "" {
		return p.Version
	}
	for _, f := range p.Features {
		if f == bcert.FeaturePR3 {
			return "3.0"
		}
	}
	return "2.0"
}

// versionAtLeast compares dotted versions numerically; a malformed part
// counts as 0.
func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := range max(len(a), len(b)) {
		x, y := 0, 0
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		if i < len(b) {
			y, _ = strconv.Atoi(b[i])
		}
		if x != y {
			return x > y
		}
	}
	return true
}
