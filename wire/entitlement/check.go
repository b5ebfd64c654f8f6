package entitlement

import (
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/prsim/prsim/internal/safetext"
	"strconv"
	"strings"
	"time"

	"github.com/prsim/prsim/wire/kid"
)

// DefaultMinSecurityLevel is Axinom's minimum security level of a usage
// policy that names none (docs/formats/policies-and-outputs.md §7).
const DefaultMinSecurityLevel = 2000

// Usage is a checked usage policy's playready section, decoded.
type Usage struct {
	MinSecurityLevel uint16
	// OPL holds the output protection levels in XMR order (compressed
	// digital video, uncompressed digital video, analog video, compressed
	// digital audio, uncompressed digital audio); HasOPL says one is set.
	OPL          [5]uint16
	HasOPL       bool
	SourceID     *uint32
	PlayEnablers []kid.ID
	AnalogVideo  []Protection
	DigitalVideo []Protection
	DigitalAudio []Protection
}

// Protection is a decoded explicit output protection.
type Protection struct {
	ID   kid.ID
	Data []byte
}

// Key is a checked inline key: the clear content key (a secret) and the
// name of its usage policy ("" = none).
type Key struct {
	Value       [16]byte
	UsagePolicy string
}

// String and GoString withhold the key; see [Message.String].
func (k Key) String() string {
	return "entitlement.Key{usage policy " + quote(k.UsagePolicy) + ", value withheld}"
}
func (k Key) GoString() string { return k.String() }

// Terms are the license section's checked values: nil times are unset;
// End is the earlier of expiration_datetime and now + duration.
type Terms struct {
	Begin, End *time.Time
	Persist    bool
	RealTime   bool
	FirstPlay  *uint32 // playback_duration, seconds
}

// Usage returns the checked usage policy named name.
func (m *Message) Usage(name string) (Usage, bool) {
	u, ok := m.usages[name]
	return u, ok
}

// Key returns the checked inline key of id.
func (m *Message) Key(id kid.ID) (Key, bool) {
	k, ok := m.keys[id]
	return k, ok
}

// Terms returns the checked license section.
func (m *Message) Terms() Terms { return m.terms }

// Subject returns the "sub" claim of the token [Verify] checked (the
// account the entitlement is for), "" when absent or when the message was
// parsed alone.
func (m *Message) Subject() string { return m.subject }

func checkPolicies(ps []UsagePolicy) (map[string]Usage, error) {
	out := make(map[string]Usage, len(ps))
	for i, p := range ps {
		at := "content_key_usage_policies[" + strconv.Itoa(i) + "]"
		if p.Name == "" {
			return nil, invalid(at + ".name is missing or empty")
		}
		if _, dup := out[p.Name]; dup {
			return nil, invalid("usage policy name " + quote(p.Name) + " is defined more than once")
		}
		at = "usage policy " + quote(p.Name)
		up := Usage{MinSecurityLevel: DefaultMinSecurityLevel}
		if pr := p.PlayReady; pr != nil {
			if pr.MinDeviceSecurityLevel != nil {
				if v := *pr.MinDeviceSecurityLevel; v != 150 && v != 2000 && v != 3000 {
					return nil, invalid(at + ": playready.min_device_security_level must be 150, 2000 or 3000")
				}
				up.MinSecurityLevel = *pr.MinDeviceSecurityLevel
			}
			up.OPL = [5]uint16{pr.CompressedDigitalVideoOPL, pr.UncompressedDigitalVideoOPL, pr.AnalogVideoOPL,
				pr.CompressedDigitalAudioOPL, pr.UncompressedDigitalAudioOPL}
			up.HasOPL = up.OPL != [5]uint16{}
			if pr.SourceID != 0 {
				v := uint32(pr.SourceID)
				up.SourceID = &v
			}
			if len(pr.PlayEnablers) > maxPolicyEntries {
				return nil, invalid(fmt.Sprintf("%s: more than %d play_enablers", at, maxPolicyEntries))
			}
			for j, g := range pr.PlayEnablers {
				id, err := ParseGUID(g)
				if err != nil {
					return nil, invalid(fmt.Sprintf("%s: playready.play_enablers[%d] is not a GUID", at, j))
				}
				up.PlayEnablers = append(up.PlayEnablers, id)
			}
			var err error
			if up.AnalogVideo, err = outputProtections(at, "analog_video_output_protections", pr.AnalogVideo); err != nil {
				return nil, err
			}
			if up.DigitalVideo, err = outputProtections(at, "digital_video_output_protections", pr.DigitalVideo); err != nil {
				return nil, err
			}
			if up.DigitalAudio, err = outputProtections(at, "digital_audio_output_protections", pr.DigitalAudio); err != nil {
				return nil, err
			}
		}
		if err := checkWidevine(at, p.Widevine); err != nil {
			return nil, err
		}
		if err := checkFairPlay(at, p.FairPlay); err != nil {
			return nil, err
		}
		out[p.Name] = up
	}
	return out, nil
}

// ParseGUID accepts only the registry format
// "00000000-0000-0000-0000-000000000000" the entitlement message uses
// (kid.Parse also takes base64).
func ParseGUID(s string) (kid.ID, error) {
	if len(s) != 36 || strings.Count(s, "-") != 4 {
		return kid.ID{}, errors.New("not a GUID")
	}
	return kid.Parse(s)
}

func outputProtections(at, field string, ops []OutputProtection) ([]Protection, error) {
	if len(ops) > maxPolicyEntries {
		return nil, invalid(fmt.Sprintf("%s: more than %d %s", at, maxPolicyEntries, field))
	}
	var out []Protection
	for j, op := range ops {
		id, err := ParseGUID(op.ID)
		if err != nil {
			return nil, invalid(fmt.Sprintf("%s: playready.%s[%d].id is not a GUID", at, field, j))
		}
		data, err := base64.StdEncoding.DecodeString(op.ConfigData)
		if err != nil {
			return nil, invalid(fmt.Sprintf("%s: playready.%s[%d].config_data is not base64", at, field, j))
		}
		if len(data) > maxConfigData {
			return nil, invalid(fmt.Sprintf("%s: playready.%s[%d].config_data is longer than %d bytes", at, field, j, maxConfigData))
		}
		out = append(out, Protection{ID: id, Data: data})
	}
	return out, nil
}

func oneOf(at, field string, v *string, allowed ...string) error {
	if v == nil {
		return nil
	}
	for _, a := range allowed {
		if *v == a {
			return nil
		}
	}
	return invalid(fmt.Sprintf("%s: %s must be one of %s", at, field, strings.Join(allowed, ", ")))
}

// checkWidevine validates the Widevine section (not applied: prsim is a
// PlayReady client).
func checkWidevine(at string, w *Widevine) error {
	if w == nil {
		return nil
	}
	if err := oneOf(at, "widevine.device_security_level", w.DeviceSecurityLevel,
		"SW_SECURE_CRYPTO", "SW_SECURE_DECODE", "HW_SECURE_CRYPTO", "HW_SECURE_DECODE", "HW_SECURE_ALL"); err != nil {
		return err
	}
	if err := oneOf(at, "widevine.cgms-a", w.CGMSA, "free", "once", "never"); err != nil {
		return err
	}
	return oneOf(at, "widevine.hdcp", w.HDCP, "1.0", "2.0", "2.1", "2.2", "2.3", "NO_DIGITAL_OUTPUT")
}

// checkFairPlay validates the FairPlay section (not applied).
func checkFairPlay(at string, f *FairPlay) error {
	if f == nil {
		return nil
	}
	return oneOf(at, "fairplay.hdcp", f.HDCP, "NONE", "TYPE0", "TYPE1", "TYPE1_STRICT")
}

// checkLicense reads the license section into the terms every key
// shares.
func checkLicense(l *License, now time.Time) (Terms, error) {
	var p Terms
	if l == nil {
		return p, nil
	}
	date := func(field, v string) (*time.Time, error) {
		if v == "" {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || t.Unix() < 0 || t.Unix() > 0xFFFFFFFF {
			return nil, invalid("license." + field + " is not an RFC 3339 time between 1970 and 2106")
		}
		t = t.UTC()
		return &t, nil
	}
	var err error
	if p.Begin, err = date("start_datetime", l.StartDatetime); err != nil {
		return p, err
	}
	if p.End, err = date("expiration_datetime", l.ExpirationDatetime); err != nil {
		return p, err
	}
	if l.Duration != nil {
		e := now.Add(time.Duration(*l.Duration) * time.Second).UTC().Truncate(time.Second)
		if p.End == nil || e.Before(*p.End) {
			p.End = &e
		}
	}
	if p.Begin != nil && p.End != nil && p.End.Before(*p.Begin) {
		return p, invalid("license expires before it starts")
	}
	if l.AllowPersistence != nil {
		p.Persist = *l.AllowPersistence
	}
	if pr := l.PlayReady; pr != nil {
		if pr.AllowPersistence != nil {
			p.Persist = *pr.AllowPersistence
		}
		p.RealTime = pr.RealTimeExpiration
		p.FirstPlay = pr.PlaybackDuration
	}
	return p, nil
}

// checkKeys decodes the inline keys; usages are the checked policies.
func checkKeys(inline []InlineKey, usages map[string]Usage) (map[kid.ID]Key, error) {
	keys := make(map[kid.ID]Key, len(inline))
	for i, k := range inline {
		at := "content_keys_source.inline[" + strconv.Itoa(i) + "]"
		id, err := ParseGUID(k.ID)
		if err != nil {
			return nil, invalid(at + ".id is not a GUID")
		}
		if _, dup := keys[id]; dup {
			return nil, invalid("key " + id.String() + " is listed more than once")
		}
		if k.EncryptedKey != nil || k.IV != nil || k.SeedID != nil {
			return nil, invalid(at + ": encrypted_key, iv and seed_id are not supported (prsim takes key: the plain key in base64)")
		}
		b, err := base64.StdEncoding.DecodeString(k.Key)
		if err != nil || len(b) != 16 {
			clear(b)
			return nil, invalid(at + ".key is not base64 of 16 bytes (value withheld)")
		}
		if _, ok := usages[k.UsagePolicy]; k.UsagePolicy != "" && !ok {
			clear(b)
			return nil, invalid("key " + id.String() + " names usage policy " + quote(k.UsagePolicy) + ", which is not defined")
		}
		keys[id] = Key{Value: [16]byte(b), UsagePolicy: k.UsagePolicy}
		clear(b)
	}
	return keys, nil
}

// maxQuoted bounds how much of a caller-supplied value a reason quotes.
const maxQuoted = 64

// quote renders a caller-supplied, non-secret value for a reason: at most
// maxQuoted bytes, anything outside printable ASCII replaced by '?', in
// double quotes (as licsrv's reasons).
func quote(s string) string {
	cut := len(s) > maxQuoted
	q := strconv.Quote(safetext.ASCII(s, maxQuoted))
	if cut {
		// clean appended the ellipsis inside the quotes; move it out.
		q = strings.Replace(q, "…", "", 1) + "…"
	}
	return q
}
