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

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/wire/entitlement"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// Entitlement messages (docs/formats/policies-and-outputs.md §7): an
// Axinom-style license service message, a JWT signed HS256 with the
// communication key the server shares, sent in the X-AxDRM-Message header.

// entitlementMarker separates the LA URL from the cfg an entitlement
// message is to carry (see env.laURL); a URL fragment is never sent.
const entitlementMarker = "#prsim-entitlement:"

// entitlementValidity is how long the runner's messages are valid: short,
// as the message could be replayed.
const entitlementValidity = 10 * time.Minute

// entKey is one key the message entitles, with its usage policy (nil: no
// usage_policy, no restriction).
type entKey struct {
	id     kid.ID
	key    [16]byte
	policy *entitlement.PlayReady
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
	m := entitlement.Message{Type: entitlement.MessageType, Version: entitlement.MessageVersion, ContentKeysSource: &entitlement.KeysSource{}}
	if o.persist {
		persist := true
		m.License = &entitlement.License{AllowPersistence: &persist}
	}
	for i, k := range keys {
		ik := entitlement.InlineKey{ID: k.id.String(), Key: base64.StdEncoding.EncodeToString(k.key[:])}
		if k.policy != nil {
			ik.UsagePolicy = "policy " + strconv.Itoa(i+1)
			if o.sameNames {
				ik.UsagePolicy = "policy"
			}
			m.Policies = append(m.Policies, entitlement.UsagePolicy{Name: ik.UsagePolicy, PlayReady: k.policy})
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
	v := 1
	claims := entitlement.Claims{
		Version:        &v,
		ComKeyID:       e.o.CommKeyID,
		BeginDate:      begin.UTC().Format(time.RFC3339),
		ExpirationDate: begin.Add(entitlementValidity).UTC().Format(time.RFC3339),
		Message:        raw,
	}
	key := e.o.CommKey
	if o.signKey != nil {
		key = o.signKey
	}
	// The error names no key material.
	return entitlement.SignClaims(claims, key)
}

// entHeader is the request header carrying token.
func entHeader(token string) http.Header {
	h := http.Header{}
	h.Set(entitlement.Header, token)
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
		sl := uint16(150)
		if g.sl != 0 {
			sl = g.sl
		}
		k := entKey{id: id, policy: &entitlement.PlayReady{MinDeviceSecurityLevel: &sl}}
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
