package licsrv

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/kid"
)

// Axinom-style entitlement messages (docs/formats/policies-and-outputs.md §7):
// a JWT signed HS256 with a communication key the server knows by ID,
// whose message claim says which keys the client is entitled to and under
// which usage policy. prsim simplifications: content keys come inline as
// plain base64 ("key"), not wrapped ("encrypted_key" + "iv"); only the
// inline key source is supported; the Widevine and FairPlay sections of a
// usage policy are validated but not applied.

// EntitlementHeader is the HTTP header that carries an entitlement message.
const EntitlementHeader = "X-AxDRM-Message"

// Bounds of an entitlement message: a real one is a few kilobytes.
const (
	maxToken          = 64 << 10
	maxInlineKeys     = 256
	maxUsagePolicies  = 64
	maxPolicyEntries  = 16 // play enablers or output protections of one kind
	maxConfigData     = 1024
	minCommKeyLen     = 16
	entitlementMaxTTL = 24 * time.Hour // SignEntitlement's largest lifetime
)

// The two fault codes of entitlement problems. A message that is invalid
// (the HTTP 400 class of the Axinom service: bad token, bad signature,
// unknown key, expired, malformed) gives DRM_E_SERVER_INVALID_MESSAGE; a
// valid message that denies the license (403: KID not entitled, no usable
// key) gives DRM_E_SERVER_SERVICE_SPECIFIC, the code PlayReady reserves
// for a service's business decision.
const (
	codeEntitlementInvalid = drm.ErrServerInvalidMessage
	codeEntitlementDenied  = drm.ErrServerServiceSpecific
)

func invalidEntitlement(reason string) error {
	return fault(codeEntitlementInvalid, "entitlement message: "+reason)
}

// ParseCommKey parses a communication key given as "ID=BASE64". Its errors
// never contain the key.
func ParseCommKey(s string) (id string, key []byte, err error) {
	id, b64, ok := strings.Cut(s, "=")
	if !ok || id == "" {
		return "", nil, errors.New("licsrv: communication key must be ID=BASE64 (value withheld)")
	}
	if len(id) > 64 {
		return "", nil, errors.New("licsrv: communication key ID is longer than 64 bytes")
	}
	key, err = base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("licsrv: communication key %s is not base64 (value withheld)", quote(id))
	}
	if len(key) < minCommKeyLen {
		return "", nil, fmt.Errorf("licsrv: communication key %s is shorter than %d bytes", quote(id), minCommKeyLen)
	}
	return id, key, nil
}

// commKey finds the key of id: IDs are GUIDs at Axinom, so they compare
// case-insensitively.
func (s *Server) commKey(id string) ([]byte, bool) {
	for k, v := range s.cfg.CommKeys {
		if strings.EqualFold(k, id) {
			return v, true
		}
	}
	return nil, false
}

// entitlementClaims is the JWT envelope ("License Service Message").
type entitlementClaims struct {
	Version        *int            `json:"version"`
	ComKeyID       string          `json:"com_key_id"`
	ID             string          `json:"id,omitempty"`
	BeginDate      string          `json:"begin_date,omitempty"`
	ExpirationDate string          `json:"expiration_date,omitempty"`
	Message        json.RawMessage `json:"message"`
	jwt.RegisteredClaims
}

// SignEntitlement signs message (the JSON of the message claim) into a
// token for [EntitlementHeader]: version 1, com_key_id keyID, issued at
// now, expiring after ttl (at most a day). The key is never in an error.
func SignEntitlement(message []byte, keyID string, key []byte, now time.Time, ttl time.Duration) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(message, &obj); err != nil {
		return "", errors.New("licsrv: entitlement message is not a JSON object")
	}
	if keyID == "" || len(key) < minCommKeyLen {
		return "", fmt.Errorf("licsrv: a communication key ID and a key of at least %d bytes are needed", minCommKeyLen)
	}
	if ttl <= 0 || ttl > entitlementMaxTTL {
		return "", errors.New("licsrv: entitlement lifetime must be positive and at most 24h")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, message); err != nil {
		return "", errors.New("licsrv: entitlement message is not valid JSON")
	}
	v := 1
	c := entitlementClaims{Version: &v, ComKeyID: keyID, Message: compact.Bytes(), RegisteredClaims: jwt.RegisteredClaims{
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		return "", errors.New("licsrv: cannot sign the entitlement message")
	}
	return tok, nil
}

// jwtShape matches a compact JWS; CustomData is read as an entitlement
// message only when it has this shape (it may carry other things).
var jwtShape = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// entitlementToken returns the token of a request: the header, else a
// JWT-shaped CustomData. Both present and different is refused.
func entitlementToken(header, customData string) (string, error) {
	cd := strings.TrimSpace(customData)
	if !jwtShape.MatchString(cd) {
		cd = ""
	}
	switch {
	case header != "" && cd != "" && header != cd:
		return "", invalidEntitlement("the " + EntitlementHeader + " header and the challenge CustomData carry different tokens")
	case header != "":
		return header, nil
	}
	return cd, nil
}

// verifyEntitlement checks the token and returns its message.
func (s *Server) verifyEntitlement(token string, now time.Time) (*entitlementMessage, error) {
	if len(s.cfg.CommKeys) == 0 {
		return nil, invalidEntitlement("this server has no communication key configured (prsim server --comm-key)")
	}
	if len(token) > maxToken {
		return nil, invalidEntitlement(fmt.Sprintf("token is longer than %d bytes", maxToken))
	}
	var c entitlementClaims
	var keyErr error
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithTimeFunc(func() time.Time { return now }))
	_, err := p.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		k, ok := s.commKey(c.ComKeyID)
		if !ok {
			keyErr = invalidEntitlement("com_key_id " + quote(c.ComKeyID) + " is not a communication key of this server")
			if c.ComKeyID == "" {
				keyErr = invalidEntitlement("com_key_id is missing")
			}
			return nil, keyErr
		}
		return k, nil
	})
	switch {
	case keyErr != nil:
		return nil, keyErr
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, invalidEntitlement("token is not a well-formed JWT")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, invalidEntitlement("signature does not verify (HS256 with communication key " + quote(c.ComKeyID) + ")")
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, invalidEntitlement(fmt.Sprintf("expired at %s (exp; server time %s)", c.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, invalidEntitlement("not valid yet (nbf)")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, invalidEntitlement("issued in the future (iat)")
	case err != nil:
		return nil, invalidEntitlement("token invalid")
	}
	if c.Version == nil || *c.Version != 1 {
		return nil, invalidEntitlement("claim version must be 1")
	}
	if c.BeginDate != "" {
		t, err := time.Parse(time.RFC3339, c.BeginDate)
		if err != nil {
			return nil, invalidEntitlement("begin_date is not an RFC 3339 time")
		}
		if now.Before(t) {
			return nil, invalidEntitlement("not valid before begin_date " + t.UTC().Format(time.RFC3339))
		}
	}
	if c.ExpirationDate != "" {
		t, err := time.Parse(time.RFC3339, c.ExpirationDate)
		if err != nil {
			return nil, invalidEntitlement("expiration_date is not an RFC 3339 time")
		}
		if !now.Before(t) {
			return nil, invalidEntitlement(fmt.Sprintf("expired at %s (expiration_date; server time %s)", t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
		}
	}
	if len(c.Message) == 0 || string(c.Message) == "null" {
		return nil, invalidEntitlement("claim message is missing")
	}
	return parseEntitlementMessage(c.Message)
}

// The entitlement message v2, as far as prsim reads it. Unknown fields are
// refused: a restriction the server silently ignored would fail open.
type entitlementMessage struct {
	Type              string          `json:"type"`
	Version           int             `json:"version"`
	License           *emLicense      `json:"license"`
	ContentKeysSource *emKeysSource   `json:"content_keys_source"`
	Policies          []emPolicy      `json:"content_key_usage_policies"`
	LicenseServer     json.RawMessage `json:"license_server"`
	Session           json.RawMessage `json:"session"`
}

type emLicense struct {
	StartDatetime      string         `json:"start_datetime"`
	ExpirationDatetime string         `json:"expiration_datetime"`
	Duration           *uint32        `json:"duration"`
	AllowPersistence   *bool          `json:"allow_persistence"`
	PlayReady          *emLicensePR   `json:"playready"`
	Widevine           map[string]any `json:"widevine"`
	FairPlay           map[string]any `json:"fairplay"`
}

type emLicensePR struct {
	AllowPersistence   *bool   `json:"allow_persistence"`
	RealTimeExpiration bool    `json:"real_time_expiration"`
	PlaybackDuration   *uint32 `json:"playback_duration"`
}

type emKeysSource struct {
	Inline         []emKey         `json:"inline"`
	LicenseRequest json.RawMessage `json:"license_request"`
	Stored         json.RawMessage `json:"stored"`
}

type emKey struct {
	ID           string  `json:"id"`
	Key          string  `json:"key"`
	UsagePolicy  string  `json:"usage_policy"`
	EncryptedKey *string `json:"encrypted_key"`
	IV           *string `json:"iv"`
	SeedID       *string `json:"seed_id"`
}

type emPolicy struct {
	Name      string       `json:"name"`
	PlayReady *emPlayReady `json:"playready"`
	Widevine  *emWidevine  `json:"widevine"`
	FairPlay  *emFairPlay  `json:"fairplay"`
}

type emPlayReady struct {
	MinSL          *uint16  `json:"min_device_security_level"`
	AnalogVideoOPL uint16   `json:"analog_video_opl"`
	CompAudioOPL   uint16   `json:"compressed_digital_audio_opl"`
	UncompAudioOPL uint16   `json:"uncompressed_digital_audio_opl"`
	CompVideoOPL   uint16   `json:"compressed_digital_video_opl"`
	UncompVideoOPL uint16   `json:"uncompressed_digital_video_opl"`
	SourceID       uint16   `json:"source_id"`
	PlayEnablers   []string `json:"play_enablers"`
	AnalogVideo    []emOP   `json:"analog_video_output_protections"`
	DigitalVideo   []emOP   `json:"digital_video_output_protections"`
	DigitalAudio   []emOP   `json:"digital_audio_output_protections"`
}

type emOP struct {
	ID         string `json:"id"`
	ConfigData string `json:"config_data"`
}

type emWidevine struct {
	DeviceSecurityLevel *string `json:"device_security_level"`
	CGMSA               *string `json:"cgms-a"`
	HDCP                *string `json:"hdcp"`
	DisableAnalogOutput *bool   `json:"disable_analog_output"`
}

type emFairPlay struct {
	HDCP           *string `json:"hdcp"`
	AllowAirPlay   *bool   `json:"allow_airplay"`
	AllowAVAdapter *bool   `json:"allow_av_adapter"`
}

// parseEntitlementMessage decodes and checks the message's shape.
func parseEntitlementMessage(b []byte) (*entitlementMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m entitlementMessage
	if err := dec.Decode(&m); err != nil {
		return nil, invalidEntitlement(jsonReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidEntitlement("message has data after its JSON object")
	}
	switch {
	case m.Type != "entitlement_message":
		return nil, invalidEntitlement(`message type must be "entitlement_message"`)
	case m.Version != 2:
		return nil, invalidEntitlement("message version must be 2 (version 1, the flat format, is not supported)")
	case len(m.LicenseServer) > 0 && string(m.LicenseServer) != "null":
		return nil, invalidEntitlement("license_server is not supported by prsim's reference server")
	case len(m.Session) > 0 && string(m.Session) != "null":
		return nil, invalidEntitlement("session is not supported by prsim's reference server")
	case m.ContentKeysSource == nil:
		return nil, invalidEntitlement("content_keys_source is missing")
	case len(m.ContentKeysSource.LicenseRequest) > 0 || len(m.ContentKeysSource.Stored) > 0:
		return nil, invalidEntitlement("content_keys_source: only inline is supported by prsim's reference server")
	case len(m.ContentKeysSource.Inline) == 0:
		return nil, invalidEntitlement("content_keys_source.inline lists no key")
	case len(m.ContentKeysSource.Inline) > maxInlineKeys:
		return nil, invalidEntitlement(fmt.Sprintf("content_keys_source.inline lists more than %d keys", maxInlineKeys))
	case len(m.Policies) > maxUsagePolicies:
		return nil, invalidEntitlement(fmt.Sprintf("content_key_usage_policies lists more than %d policies", maxUsagePolicies))
	}
	return &m, nil
}

// jsonReason renders a decoding error without the input's values.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "message is not valid JSON (offset " + strconv.FormatInt(se.Offset, 10) + ")"
	case errors.As(err, &te):
		return "field " + quote(te.Field) + " has the wrong type or is out of range"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "field " + clean(strings.TrimPrefix(err.Error(), "json: unknown field "), maxQuoted) + " is not supported by prsim's reference server"
	}
	return "message is not valid JSON"
}

// usagePolicy is a checked usage policy: the Policy fields it sets.
type usagePolicy struct {
	minSL        uint16
	opl          [5]uint16 // XMR 0x05 order, as Policy.OPL
	hasOPL       bool
	sourceID     *uint32
	enablers     []kid.ID
	analogVideo  []OutputConfig
	digitalVideo []OutputConfig
	digitalAudio []OutputConfig
}

// Axinom's default minimum security level (docs/formats/policies-and-outputs.md §7).
const defaultPolicySL = 2000

func checkPolicies(ps []emPolicy) (map[string]usagePolicy, error) {
	out := make(map[string]usagePolicy, len(ps))
	for i, p := range ps {
		at := "content_key_usage_policies[" + strconv.Itoa(i) + "]"
		if p.Name == "" {
			return nil, invalidEntitlement(at + ".name is missing or empty")
		}
		if _, dup := out[p.Name]; dup {
			return nil, invalidEntitlement("usage policy name " + quote(p.Name) + " is defined more than once")
		}
		at = "usage policy " + quote(p.Name)
		up := usagePolicy{minSL: defaultPolicySL}
		if pr := p.PlayReady; pr != nil {
			if pr.MinSL != nil {
				if v := *pr.MinSL; v != 150 && v != 2000 && v != 3000 {
					return nil, invalidEntitlement(at + ": playready.min_device_security_level must be 150, 2000 or 3000")
				}
				up.minSL = *pr.MinSL
			}
			up.opl = [5]uint16{pr.CompVideoOPL, pr.UncompVideoOPL, pr.AnalogVideoOPL, pr.CompAudioOPL, pr.UncompAudioOPL}
			up.hasOPL = up.opl != [5]uint16{}
			if pr.SourceID != 0 {
				v := uint32(pr.SourceID)
				up.sourceID = &v
			}
			if len(pr.PlayEnablers) > maxPolicyEntries {
				return nil, invalidEntitlement(fmt.Sprintf("%s: more than %d play_enablers", at, maxPolicyEntries))
			}
			for j, g := range pr.PlayEnablers {
				id, err := parseGUID(g)
				if err != nil {
					return nil, invalidEntitlement(fmt.Sprintf("%s: playready.play_enablers[%d] is not a GUID", at, j))
				}
				up.enablers = append(up.enablers, id)
			}
			var err error
			if up.analogVideo, err = outputProtections(at, "analog_video_output_protections", pr.AnalogVideo); err != nil {
				return nil, err
			}
			if up.digitalVideo, err = outputProtections(at, "digital_video_output_protections", pr.DigitalVideo); err != nil {
				return nil, err
			}
			if up.digitalAudio, err = outputProtections(at, "digital_audio_output_protections", pr.DigitalAudio); err != nil {
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

// parseGUID accepts only the registry format "00000000-0000-0000-0000-000000000000"
// the entitlement message uses (kid.Parse also takes base64).
func parseGUID(s string) (kid.ID, error) {
	if len(s) != 36 || strings.Count(s, "-") != 4 {
		return kid.ID{}, errors.New("not a GUID")
	}
	return kid.Parse(s)
}

func outputProtections(at, field string, ops []emOP) ([]OutputConfig, error) {
	if len(ops) > maxPolicyEntries {
		return nil, invalidEntitlement(fmt.Sprintf("%s: more than %d %s", at, maxPolicyEntries, field))
	}
	var out []OutputConfig
	for j, op := range ops {
		id, err := parseGUID(op.ID)
		if err != nil {
			return nil, invalidEntitlement(fmt.Sprintf("%s: playready.%s[%d].id is not a GUID", at, field, j))
		}
		data, err := base64.StdEncoding.DecodeString(op.ConfigData)
		if err != nil {
			return nil, invalidEntitlement(fmt.Sprintf("%s: playready.%s[%d].config_data is not base64", at, field, j))
		}
		if len(data) > maxConfigData {
			return nil, invalidEntitlement(fmt.Sprintf("%s: playready.%s[%d].config_data is longer than %d bytes", at, field, j, maxConfigData))
		}
		out = append(out, OutputConfig{ID: id, Data: data})
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
	return invalidEntitlement(fmt.Sprintf("%s: %s must be one of %s", at, field, strings.Join(allowed, ", ")))
}

// checkWidevine validates the Widevine section (not applied: prsim is a
// PlayReady client).
func checkWidevine(at string, w *emWidevine) error {
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
func checkFairPlay(at string, f *emFairPlay) error {
	if f == nil {
		return nil
	}
	return oneOf(at, "fairplay.hdcp", f.HDCP, "NONE", "TYPE0", "TYPE1", "TYPE1_STRICT")
}

// entitlementPolicies turns a verified message into one policy per
// requested KID, dropping the keys this client cannot support
// (docs/formats/policies-and-outputs.md §7): a requested KID that is not
// entitled denies the license, and so does having no usable key left.
func (s *Server) entitlementPolicies(m *entitlementMessage, req *request, now time.Time) ([]Policy, error) {
	ups, err := checkPolicies(m.Policies)
	if err != nil {
		return nil, err
	}
	base, err := licenseBase(m.License, now)
	if err != nil {
		return nil, err
	}
	keys := make(map[kid.ID]emKey, len(m.ContentKeysSource.Inline))
	for i, k := range m.ContentKeysSource.Inline {
		at := "content_keys_source.inline[" + strconv.Itoa(i) + "]"
		id, err := parseGUID(k.ID)
		if err != nil {
			return nil, invalidEntitlement(at + ".id is not a GUID")
		}
		if _, dup := keys[id]; dup {
			return nil, invalidEntitlement("key " + id.String() + " is listed more than once")
		}
		if k.EncryptedKey != nil || k.IV != nil || k.SeedID != nil {
			return nil, invalidEntitlement(at + ": encrypted_key, iv and seed_id are not supported (prsim takes key: the plain key in base64)")
		}
		if b, err := base64.StdEncoding.DecodeString(k.Key); err != nil || len(b) != 16 {
			return nil, invalidEntitlement(at + ".key is not base64 of 16 bytes (value withheld)")
		}
		if _, ok := ups[k.UsagePolicy]; k.UsagePolicy != "" && !ok {
			return nil, invalidEntitlement("key " + id.String() + " names usage policy " + quote(k.UsagePolicy) + ", which is not defined")
		}
		keys[id] = k
	}
	clientSL := req.leaf.Basic().SecurityLevel
	major := clientMajor(req.ch.ClientVersion)
	var out []Policy
	var dropped []string
	for _, hk := range req.header.KIDs {
		k, ok := keys[hk.ID]
		if !ok {
			return nil, fault(codeEntitlementDenied, "requested KID "+hk.ID.String()+" is not entitled by the entitlement message")
		}
		p := base
		id := hk.ID
		p.KID = &id
		b, _ := base64.StdEncoding.DecodeString(k.Key)
		p.ContentKey = (*[16]byte)(b)
		p.SL = 150 // a key without a usage policy: prsim's server default
		if up, ok := ups[k.UsagePolicy]; ok {
			p.usagePolicy = k.UsagePolicy
			p.SL = up.minSL
			p.OPL, p.HasOPL = up.opl, up.hasOPL
			p.SourceID = up.sourceID
			p.PlayEnablers = up.enablers
			p.AnalogVideo, p.DigitalVideo, p.DigitalAudio = up.analogVideo, up.digitalVideo, up.digitalAudio
			p.needsDVOP = len(up.digitalVideo) > 0
		}
		why := ""
		switch {
		case uint32(p.SL) > clientSL:
			why = fmt.Sprintf("needs security level %d, the client has %d", p.SL, clientSL)
		case p.needsDVOP && major <= 2:
			why = fmt.Sprintf("usage policy %s needs digital video output protection, which PlayReady %d.x clients do not support", quote(p.usagePolicy), major)
		}
		if why != "" && !s.defects[DefectKeepUnsupportedKey] {
			dropped = append(dropped, hk.ID.String()+": "+why)
			continue
		}
		out = append(out, p)
	}
	if len(req.header.KIDs) == 0 {
		return nil, fault(drm.ErrServerInvalidMessage, "content header names no KID")
	}
	if len(out) == 0 {
		return nil, fault(codeEntitlementDenied, "no entitled key is usable by this client: "+clean(strings.Join(dropped, "; "), 400))
	}
	return out, nil
}

// licenseBase reads the license section into the fields every key's
// policy shares.
func licenseBase(l *emLicense, now time.Time) (Policy, error) {
	var p Policy
	if l == nil {
		return p, nil
	}
	date := func(field, v string) (*time.Time, error) {
		if v == "" {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || t.Unix() < 0 || t.Unix() > 0xFFFFFFFF {
			return nil, invalidEntitlement("license." + field + " is not an RFC 3339 time between 1970 and 2106")
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
		return p, invalidEntitlement("license expires before it starts")
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
