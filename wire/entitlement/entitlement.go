// Package entitlement is the Axinom-style entitlement message
// (docs/formats/policies-and-outputs.md §7): a JWT signed HS256 with a
// communication key known by ID, whose message claim (an entitlement
// message v2, [Message]) says which keys the client is entitled to and
// under which usage policy.
//
// The package is pure (no I/O; time is passed in): [Sign] builds a token,
// [Verify] checks one and returns its message with every rule applied,
// [ParseMessage] checks a message claim alone. The server decisions (which
// keys a client can support, the mapping to XMR, faults) are licsrv's.
//
// prsim simplifications: content keys come inline as plain base64 ("key"),
// not wrapped ("encrypted_key" + "iv"); only the inline key source is
// supported; the Widevine and FairPlay sections of a usage policy are
// validated but not applied.
package entitlement

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prsim/prsim/internal/safetext"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/prsim/prsim/drm"
)

// Header is the HTTP header that carries an entitlement message.
const Header = "X-AxDRM-Message"

// Bounds of an entitlement message: a real one is a few kilobytes.
const (
	MaxToken         = 64 << 10
	maxInlineKeys    = 256
	maxUsagePolicies = 64
	maxPolicyEntries = 16 // play enablers or output protections of one kind
	maxConfigData    = 1024
	// MinCommKeyLen is the shortest communication key accepted.
	MinCommKeyLen = 16
	// MaxTTL is the longest lifetime [Sign] gives a token.
	MaxTTL = 24 * time.Hour
)

// Error is an invalid message or token (the HTTP 400 class of the Axinom
// service). Its text is "entitlement message: " and the reason, which
// never carries a key or raw input; it unwraps to
// drm.ErrServerInvalidMessage.
type Error struct{ Reason string }

func (e *Error) Error() string { return "entitlement message: " + e.Reason }

// Unwrap gives the DRM code of an invalid message.
func (e *Error) Unwrap() error { return drm.ErrServerInvalidMessage }

func invalid(reason string) error { return &Error{Reason: reason} }

// ParseCommKey parses a communication key given as "ID=BASE64". Its errors
// never contain the key.
func ParseCommKey(s string) (id string, key []byte, err error) {
	id, b64, ok := strings.Cut(s, "=")
	if !ok || id == "" {
		return "", nil, errors.New("entitlement: communication key must be ID=BASE64 (value withheld)")
	}
	if len(id) > 64 {
		return "", nil, errors.New("entitlement: communication key ID is longer than 64 bytes")
	}
	key, err = base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("entitlement: communication key %s is not base64 (value withheld)", quote(id))
	}
	if len(key) < MinCommKeyLen {
		return "", nil, fmt.Errorf("entitlement: communication key %s is shorter than %d bytes", quote(id), MinCommKeyLen)
	}
	return id, key, nil
}

// Claims is the JWT envelope ("License Service Message"): Version must be
// 1, Message is the JSON of the message claim. BeginDate and
// ExpirationDate (RFC 3339) are Axinom's validity window, checked as the
// registered exp/nbf/iat are.
type Claims struct {
	Version        *int            `json:"version"`
	ComKeyID       string          `json:"com_key_id"`
	ID             string          `json:"id,omitempty"`
	BeginDate      string          `json:"begin_date,omitempty"`
	ExpirationDate string          `json:"expiration_date,omitempty"`
	Message        json.RawMessage `json:"message"`
	jwt.RegisteredClaims
}

// Sign signs msg (the JSON of the message claim, e.g. a marshalled
// [Message]) into a token for [Header]: version 1, com_key_id keyID,
// issued at now, expiring after ttl (at most [MaxTTL]). msg is not checked
// beyond being a JSON object: a test may sign a message the server must
// refuse. The key is never in an error.
func Sign(msg []byte, keyID string, key []byte, now time.Time, ttl time.Duration) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(msg, &obj); err != nil {
		return "", errors.New("entitlement: entitlement message is not a JSON object")
	}
	if keyID == "" || len(key) < MinCommKeyLen {
		return "", fmt.Errorf("entitlement: a communication key ID and a key of at least %d bytes are needed", MinCommKeyLen)
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", errors.New("entitlement: entitlement lifetime must be positive and at most 24h")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, msg); err != nil {
		return "", errors.New("entitlement: entitlement message is not valid JSON")
	}
	v := 1
	return SignClaims(Claims{Version: &v, ComKeyID: keyID, Message: compact.Bytes(), RegisteredClaims: jwt.RegisteredClaims{
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}, key)
}

// SignClaims signs c as given, HS256 with key: for a caller that sets the
// envelope itself (the conformance runner dates its messages with
// begin_date and expiration_date, and signs with wrong keys on purpose).
// The key is never in an error.
func SignClaims(c Claims, key []byte) (string, error) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		return "", errors.New("entitlement: cannot sign the entitlement message")
	}
	return tok, nil
}

// commKey finds the key of id: IDs are GUIDs at Axinom, so they compare
// case-insensitively.
func commKey(keys map[string][]byte, id string) ([]byte, bool) {
	for k, v := range keys {
		if strings.EqualFold(k, id) {
			return v, true
		}
	}
	return nil, false
}

// Verify checks token (signature HS256 with the key of its com_key_id
// among keys, exp/nbf/iat, begin_date/expiration_date, version) at time
// now and returns its message, checked as [ParseMessage] does. Every error
// is an [*Error].
func Verify(token string, keys map[string][]byte, now time.Time) (*Message, error) {
	if len(token) > MaxToken {
		return nil, invalid(fmt.Sprintf("token is longer than %d bytes", MaxToken))
	}
	var c Claims
	var keyErr error
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithTimeFunc(func() time.Time { return now }))
	_, err := p.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		k, ok := commKey(keys, c.ComKeyID)
		if !ok {
			keyErr = invalid("com_key_id " + quote(c.ComKeyID) + " is not a communication key of this server")
			if c.ComKeyID == "" {
				keyErr = invalid("com_key_id is missing")
			}
			return nil, keyErr
		}
		return k, nil
	})
	switch {
	case keyErr != nil:
		return nil, keyErr
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, invalid("token is not a well-formed JWT")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, invalid("signature does not verify (HS256 with communication key " + quote(c.ComKeyID) + ")")
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, invalid(fmt.Sprintf("expired at %s (exp; server time %s)", c.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, invalid("not valid yet (nbf)")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, invalid("issued in the future (iat)")
	case err != nil:
		return nil, invalid("token invalid")
	}
	if c.Version == nil || *c.Version != 1 {
		return nil, invalid("claim version must be 1")
	}
	if c.BeginDate != "" {
		t, err := time.Parse(time.RFC3339, c.BeginDate)
		if err != nil {
			return nil, invalid("begin_date is not an RFC 3339 time")
		}
		if now.Before(t) {
			return nil, invalid("not valid before begin_date " + t.UTC().Format(time.RFC3339))
		}
	}
	if c.ExpirationDate != "" {
		t, err := time.Parse(time.RFC3339, c.ExpirationDate)
		if err != nil {
			return nil, invalid("expiration_date is not an RFC 3339 time")
		}
		if !now.Before(t) {
			return nil, invalid(fmt.Sprintf("expired at %s (expiration_date; server time %s)", t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
		}
	}
	if len(c.Message) == 0 || string(c.Message) == "null" {
		return nil, invalid("claim message is missing")
	}
	m, err := ParseMessage(c.Message, now)
	if err != nil {
		return nil, err
	}
	m.subject = c.Subject
	return m, nil
}

// ParseMessage decodes the message claim b and checks it: its shape
// (unknown fields refused, type, version, supported sources, bounds), the
// usage policies (unique names, security levels, GUIDs, config data,
// Widevine and FairPlay values), the license section (dates; now dates a
// duration) and the inline keys (GUIDs, no duplicates, 16-byte keys,
// defined usage policies). Every error is an [*Error].
func ParseMessage(b []byte, now time.Time) (*Message, error) {
	m, err := parseShape(b)
	if err != nil {
		return nil, err
	}
	if m.usages, err = checkPolicies(m.Policies); err != nil {
		return nil, err
	}
	if m.terms, err = checkLicense(m.License, now); err != nil {
		return nil, err
	}
	if m.keys, err = checkKeys(m.ContentKeysSource.Inline, m.usages); err != nil {
		return nil, err
	}
	return m, nil
}

// parseShape decodes and checks the message's shape.
func parseShape(b []byte) (*Message, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Message
	if err := dec.Decode(&m); err != nil {
		return nil, invalid(jsonReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("message has data after its JSON object")
	}
	switch {
	case m.Type != MessageType:
		return nil, invalid(`message type must be "entitlement_message"`)
	case m.Version != MessageVersion:
		return nil, invalid("message version must be 2 (version 1, the flat format, is not supported)")
	case len(m.LicenseServer) > 0 && string(m.LicenseServer) != "null":
		return nil, invalid("license_server is not supported by prsim's reference server")
	case len(m.Session) > 0 && string(m.Session) != "null":
		return nil, invalid("session is not supported by prsim's reference server")
	case m.ContentKeysSource == nil:
		return nil, invalid("content_keys_source is missing")
	case len(m.ContentKeysSource.LicenseRequest) > 0 || len(m.ContentKeysSource.Stored) > 0:
		return nil, invalid("content_keys_source: only inline is supported by prsim's reference server")
	case len(m.ContentKeysSource.Inline) == 0:
		return nil, invalid("content_keys_source.inline lists no key")
	case len(m.ContentKeysSource.Inline) > maxInlineKeys:
		return nil, invalid(fmt.Sprintf("content_keys_source.inline lists more than %d keys", maxInlineKeys))
	case len(m.Policies) > maxUsagePolicies:
		return nil, invalid(fmt.Sprintf("content_key_usage_policies lists more than %d policies", maxUsagePolicies))
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
		return "field " + safetext.ASCII(strings.TrimPrefix(err.Error(), "json: unknown field "), maxQuoted) + " is not supported by prsim's reference server"
	}
	return "message is not valid JSON"
}
