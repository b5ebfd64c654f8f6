package conformance

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// Entitlement messages (docs/formats/policies-and-outputs.md §7): an
// Axinom-style license service message, a JWT signed HS256 with the
// communication key the server shares, sent in the X-AxDRM-Message header.

// entitlementHeader is the HTTP header carrying the message.
const entitlementHeader = "X-AxDRM-Message"

// entitlementMarker separates the LA URL from the cfg an entitlement
// message is to carry (see env.laURL); a URL fragment is never sent.
const entitlementMarker = "#prsim-entitlement:"

// entitlementValidity is how long the runner's messages are valid: short,
// as the message could be replayed.
const entitlementValidity = 10 * time.Minute

// entMessage is the entitlement message v2, only the parts the runner
// uses.
type entMessage struct {
	Type                    string           `json:"type"`
	Version                 int              `json:"version"`
	License                 *entLicense      `json:"license,omitempty"`
	ContentKeysSource       entKeysSource    `json:"content_keys_source"`
	ContentKeyUsagePolicies []entUsagePolicy `json:"content_key_usage_policies,omitempty"`
}

type entLicense struct {
	AllowPersistence bool `json:"allow_persistence"`
}

type entKeysSource struct {
	Inline []entInlineKey `json:"inline"`
}

type entInlineKey struct {
	ID          string `json:"id"`
	Key         string `json:"key"` // base64 of the clear key
	UsagePolicy string `json:"usage_policy,omitempty"`
}

type entUsagePolicy struct {
	Name      string       `json:"name"`
	PlayReady entPlayReady `json:"playready"`
}

// entPlayReady is a usage policy's playready section; zero fields are left
// out (0 = no restriction, as in the message).
type entPlayReady struct {
	MinDeviceSecurityLevel      uint16          `json:"min_device_security_level,omitempty"`
	AnalogVideoOPL              uint16          `json:"analog_video_opl,omitempty"`
	CompressedDigitalAudioOPL   uint16          `json:"compressed_digital_audio_opl,omitempty"`
	UncompressedDigitalAudioOPL uint16          `json:"uncompressed_digital_audio_opl,omitempty"`
	CompressedDigitalVideoOPL   uint16          `json:"compressed_digital_video_opl,omitempty"`
	UncompressedDigitalVideoOPL uint16          `json:"uncompressed_digital_video_opl,omitempty"`
	SourceID                    uint32          `json:"source_id,omitempty"`
	PlayEnablers                []string        `json:"play_enablers,omitempty"`
	AnalogVideo                 []entProtection `json:"analog_video_output_protections,omitempty"`
	DigitalVideo                []entProtection `json:"digital_video_output_protections,omitempty"`
	DigitalAudio                []entProtection `json:"digital_audio_output_protections,omitempty"`
}

type entProtection struct {
	ID         string `json:"id"`
	ConfigData string `json:"config_data"`
}

// entKey is one key the message entitles, with its usage policy (nil: no
// usage_policy, no restriction).
type entKey struct {
	id     kid.ID
	key    [16]byte
	policy *entPlayReady
}

// entOptions shape one message; the zero value is a valid message.
type entOptions struct {
	persist bool
	// signKey replaces the communication key (a message the server must
	// reject).
	signKey []byte
	// expired dates the message's validity an hour in the past.
	expired bool
	// sameNames gives every usage policy the same name (a message the
	// server must reject: names must be unique).
	sameNames bool
}

// entitlement signs a message entitling keys. The token carries content
// keys: it goes in a request header only, never in a report.
func (e *env) entitlement(keys []entKey, o entOptions) (string, error) {
	m := entMessage{Type: "entitlement_message", Version: 2}
	if o.persist {
		m.License = &entLicense{AllowPersistence: true}
	}
	for i, k := range keys {
		ik := entInlineKey{ID: k.id.String(), Key: base64.StdEncoding.EncodeToString(k.key[:])}
		if k.policy != nil {
			ik.UsagePolicy = "policy " + strconv.Itoa(i+1)
			if o.sameNames {
				ik.UsagePolicy = "policy"
			}
			m.ContentKeyUsagePolicies = append(m.ContentKeyUsagePolicies, entUsagePolicy{Name: ik.UsagePolicy, PlayReady: *k.policy})
		}
		m.ContentKeysSource.Inline = append(m.ContentKeysSource.Inline, ik)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("cannot encode the entitlement message: %w", err)
	}
	defer clear(raw) // it holds the content keys
	begin := e.o.Now().Add(-time.Minute)
	if o.expired {
		begin = begin.Add(-time.Hour - entitlementValidity)
	}
	claims := jwt.MapClaims{
		"version":         1,
		"com_key_id":      e.o.CommKeyID,
		"begin_date":      begin.UTC().Format(time.RFC3339),
		"expiration_date": begin.Add(entitlementValidity).UTC().Format(time.RFC3339),
		"message":         json.RawMessage(raw),
	}
	key := e.o.CommKey
	if o.signKey != nil {
		key = o.signKey
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		// The error of an HMAC signer names no key material.
		return "", fmt.Errorf("cannot sign the entitlement message: %w", err)
	}
	return tok, nil
}

// entHeader is the request header carrying token.
func entHeader(token string) http.Header {
	h := http.Header{}
	h.Set(entitlementHeader, token)
	return h
}

// cfgGrant is one cfg group of another family's request, as an
// entitlement message can say it.
type cfgGrant struct {
	kid     *kid.ID
	key     *[16]byte
	sl      uint16
	persist bool
}

// errNotExpressible marks a cfg an entitlement message cannot carry.
var errNotExpressible = errors.New("not expressible as an entitlement message")

// cfgAsGrants reads the simple cfg values the other families send
// (kid, contentkey, persist, sl, ckt; one group, or one group per KID)
// into grants. Anything else (errorcode, bare repeated groups) is
// errNotExpressible: the scenario is skipped under ProfileEntitlement.
func cfgAsGrants(cfg string) ([]cfgGrant, error) {
	if !strings.HasPrefix(cfg, "(") || !strings.HasSuffix(cfg, ")") {
		return nil, errNotExpressible
	}
	var out []cfgGrant
	for _, g := range strings.Split(cfg[1:len(cfg)-1], "),(") {
		var c cfgGrant
		for _, item := range strings.Split(g, ",") {
			k, v, ok := strings.Cut(item, ":")
			if !ok || strings.ContainsAny(v, "()") {
				return nil, errNotExpressible
			}
			switch strings.ToLower(k) {
			case "kid":
				id, err := kid.Parse(v)
				if err != nil {
					return nil, errNotExpressible
				}
				c.kid = &id
			case "contentkey", "ck":
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil || len(b) != 16 {
					return nil, errNotExpressible
				}
				c.key = (*[16]byte)(b)
			case "persist":
				c.persist = strings.EqualFold(v, "true")
			case "sl":
				n, err := strconv.ParseUint(v, 10, 16)
				if err != nil {
					return nil, errNotExpressible
				}
				c.sl = uint16(n)
			case "ckt":
				// A message has no key type: the server follows the
				// header's ALGID, which the scenarios set to match.
			default:
				return nil, errNotExpressible
			}
		}
		out = append(out, c)
	}
	for _, c := range out {
		// One license-level persistence flag; several groups must each
		// name their KID.
		if c.persist != out[0].persist || (len(out) > 1 && c.kid == nil) {
			return nil, errNotExpressible
		}
	}
	return out, nil
}

// cfgEntitlement signs the message that says what cfg asks for header h:
// a group without a KID entitles the header's KIDs; a key not given is the
// test-key-seed key (what the test server derives without one). Each key's
// minimum security level is the cfg one, 150 when absent (the cfg default;
// a message's default is 2000).
func (e *env) cfgEntitlement(cfg string, h *pro.Header) (string, error) {
	gs, err := cfgAsGrants(cfg)
	if err != nil {
		return "", err
	}
	var keys []entKey
	add := func(g cfgGrant, id kid.ID) error {
		k := entKey{id: id, policy: &entPlayReady{MinDeviceSecurityLevel: 150}}
		if g.sl != 0 {
			k.policy.MinDeviceSecurityLevel = g.sl
		}
		if g.key != nil {
			k.key = *g.key
		} else {
			var err error
			if k.key, err = keyseed.Derive(keyseed.TestSeed(), id); err != nil {
				return err
			}
		}
		keys = append(keys, k)
		return nil
	}
	for _, g := range gs {
		ids := []kid.ID{}
		if g.kid != nil {
			ids = append(ids, *g.kid)
		} else {
			for _, ki := range h.KIDs {
				ids = append(ids, ki.ID)
			}
		}
		for _, id := range ids {
			if err := add(g, id); err != nil {
				return "", err
			}
		}
	}
	defer func() {
		for i := range keys {
			clear(keys[i].key[:])
		}
	}()
	return e.entitlement(keys, entOptions{persist: gs[0].persist})
}

// cfgOnlyScenario says whether a scenario of another family is skipped
// under ProfileEntitlement although its cfg could be sent as a message,
// because its judgement is about the cfg grammar, not the policy: R1
// judges the refusal of cfg sl: above the certificate, while under a
// message the same request is an ineligible key, a different rule and
// fault (judged by Y5 and Y6).
func cfgOnlyScenario(id string) bool {
	return id == "R1"
}
