package licsrv_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/entitlement"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

const commKeyID = "6a8c3f1e-0b7d-4c2a-9e5f-1d2c3b4a5f60"

var commKey = bytes.Repeat([]byte{0x5a}, 32)

// entFixture is a server with one communication key and a device of SL sl.
func entFixture(t *testing.T, sl uint32, defects ...licsrv.Defect) *fixture {
	t.Helper()
	return newFixtureCfg(t, sl, func(c *licsrv.Config) {
		c.CommKeys = map[string][]byte{commKeyID: commKey}
		c.Defects = defects
	})
}

// req is one acquisition: the client version, the header KIDs, where the
// token goes and the cfg query.
type req struct {
	version    string
	kids       []kid.ID
	header     string // X-AxDRM-Message
	customData string
	query      string
}

func (f *fixture) send(t *testing.T, r req) (*httptest.ResponseRecorder, []byte, [16]byte) {
	t.Helper()
	nonce, err := f.dev.NewNonce()
	require.NoError(t, err)
	if r.version == "" {
		r.version = "4.5.0.0"
	}
	if r.kids == nil {
		r.kids = []kid.ID{kidA}
	}
	h := &pro.Header{Version: "4.2.0.0", LAURL: "http://127.0.0.1/rightsmanager.asmx"}
	for _, id := range r.kids {
		h.KIDs = append(h.KIDs, pro.KeyInfo{ID: id, AlgID: "AESCTR"})
	}
	x, err := h.XML()
	require.NoError(t, err)
	enc, ok := f.p.Server.Chain.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
	require.True(t, ok)
	body, err := f.dev.SignChallenge(&soap.Challenge{Version: 4, ContentHeader: x, ClientVersion: r.version, Nonce: nonce,
		ClientTime: f.now.Unix(), CustomData: r.customData, Data: soap.ClientData{CertificateChain: f.dev.Chain()}}, enc, rand.Reader)
	require.NoError(t, err)
	hr := httptest.NewRequest(http.MethodPost, "/rightsmanager.asmx"+r.query, bytes.NewReader(body))
	hr.Header.Set("SOAPAction", soap.ActionAcquireLicense)
	if r.header != "" {
		hr.Header.Set(entitlement.Header, r.header)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, hr)
	return w, w.Body.Bytes(), nonce
}

// licenses parses a 200 response's licenses.
func licenses(t *testing.T, w *httptest.ResponseRecorder, body []byte) []*xmr.License {
	t.Helper()
	require.Equal(t, http.StatusOK, w.Code, string(body))
	resp, err := soap.ParseResponse(body)
	require.NoError(t, err)
	var out []*xmr.License
	for _, b := range resp.Licenses {
		l, err := xmr.Parse(b)
		require.NoError(t, err)
		out = append(out, l)
	}
	return out
}

// entFault checks a fault's code and returns its reason.
func entFault(t *testing.T, w *httptest.ResponseRecorder, body []byte, code drm.Code) string {
	t.Helper()
	requireFault(t, w, body, code)
	f, err := soap.ParseFault(body)
	require.NoError(t, err)
	return f.Message
}

func seedMessage(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/entitlement/seed004-policies.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func sign(t *testing.T, m any, now time.Time) string {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	tok, err := entitlement.Sign(b, commKeyID, commKey, now, 10*time.Minute)
	require.NoError(t, err)
	return tok
}

// signClaims signs arbitrary claims with key.
func signClaims(t *testing.T, c jwt.MapClaims, key []byte) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	require.NoError(t, err)
	return tok
}

func policyA(m map[string]any) map[string]any {
	return m["content_key_usage_policies"].([]any)[0].(map[string]any)["playready"].(map[string]any)
}

// The example of seed 004 round-trips into a license whose XMR objects
// carry the mapped values; a PlayReady 2.0 client gets no key (its policy
// needs digital video output protection), so the license is denied.
func TestEntitlementSeedExampleRoundTrip(t *testing.T) {
	f := entFixture(t, 2000)
	tok := sign(t, seedMessage(t), f.now)
	w, body, _ := f.send(t, req{header: tok})
	ls := licenses(t, w, body)
	require.Len(t, ls, 1)
	p := ls[0].Policy()
	require.Equal(t, uint16(2000), p.MinSecurityLevel)
	require.Equal(t, &xmr.OPL{CompressedDigitalVideo: 400, UncompressedDigitalVideo: 500, AnalogVideo: 100,
		CompressedDigitalAudio: 200, UncompressedDigitalAudio: 300}, p.OPL)
	require.Equal(t, uint32(258), *p.SourceID)
	require.Equal(t, []kid.ID{kid.MustParse("786627D8-C2A6-44BE-8F88-08AE255B01A7"), kid.MustParse("5ABF0F0D-DC29-4B82-9982-FD8E57525BFC")}, p.PlayEnablers)
	cfgData := func(s string) []byte { b, _ := base64.StdEncoding.DecodeString(s); return b }
	require.Equal(t, []xmr.OutputConfig{{ID: kid.MustParse("C3FD11C6-F8B7-4D20-B008-1DB17D61F2DA"), Data: cfgData("6BA/7HbTQB6r/IEvWN8Zog==")}}, p.AnalogVideo)
	require.Equal(t, []xmr.OutputConfig{{ID: kid.MustParse("ABB2C6F1-E663-4625-A945-972D17B231E7"), Data: cfgData("b3J+qoMeT5mcgykqXzBeIQ==")}}, p.DigitalVideo)
	require.Equal(t, []xmr.OutputConfig{{ID: kid.MustParse("6D5CFA59-C250-4426-930E-FAC72C8FCFA6"), Data: cfgData("cgmHUW9WSbawcgKzXLpq6Q==")}}, p.DigitalAudio)
	require.False(t, ls[0].Persistent())
	ck, err := ls[0].ContentKey()
	require.NoError(t, err)
	require.Equal(t, kidA, ck.KID)

	w, body, _ = f.send(t, req{header: tok, version: "2.0.0.0"})
	r := entFault(t, w, body, drm.ErrServerServiceSpecific)
	require.Contains(t, r, "no entitled key is usable by this client")
	require.Contains(t, r, kidA.String())
	require.Contains(t, r, "digital video output protection")
	require.NotContains(t, string(body), tok)
}

func TestEntitlementKeySelection(t *testing.T) {
	keyB := map[string]any{"id": kidB.String(), "key": "EBESExQVFhcYGRobHB0eHw==", "usage_policy": "HW"}
	withB := func(m map[string]any) map[string]any {
		src := m["content_keys_source"].(map[string]any)
		src["inline"] = append(src["inline"].([]any), keyB)
		m["content_key_usage_policies"] = append(m["content_key_usage_policies"].([]any),
			map[string]any{"name": "HW", "playready": map[string]any{"min_device_security_level": 3000}},
			map[string]any{"name": "unreferenced", "playready": map[string]any{"min_device_security_level": 150}})
		return m
	}

	// SL2000 client asking for both: the SL3000 key is dropped, the other issued.
	f := entFixture(t, 2000)
	tok := sign(t, withB(seedMessage(t)), f.now)
	w, body, _ := f.send(t, req{header: tok, kids: []kid.ID{kidA, kidB}})
	ls := licenses(t, w, body)
	require.Len(t, ls, 1)
	ck, err := ls[0].ContentKey()
	require.NoError(t, err)
	require.Equal(t, kidA, ck.KID)

	// Only the SL3000 key asked for: nothing usable.
	w, body, _ = f.send(t, req{header: tok, kids: []kid.ID{kidB}})
	r := entFault(t, w, body, drm.ErrServerServiceSpecific)
	require.Contains(t, r, "no entitled key is usable by this client: "+kidB.String()+": needs security level 3000, the client has 2000")

	// With keep-unsupported-key the dropped key is issued.
	fb := entFixture(t, 2000, licsrv.DefectKeepUnsupportedKey)
	tok = sign(t, withB(seedMessage(t)), fb.now)
	w, body, _ = fb.send(t, req{header: tok, kids: []kid.ID{kidA, kidB}})
	require.Len(t, licenses(t, w, body), 2)
	w, body, _ = fb.send(t, req{header: tok, version: "2.0.0.0"})
	require.Len(t, licenses(t, w, body), 1, "the PlayReady 2.0 client gets the key it cannot honour")

	// An SL3000 client gets both; only requested KIDs are returned.
	f3 := entFixture(t, 3000)
	tok = sign(t, withB(seedMessage(t)), f3.now)
	w, body, _ = f3.send(t, req{header: tok, kids: []kid.ID{kidA, kidB}})
	require.Len(t, licenses(t, w, body), 2)
	w, body, _ = f3.send(t, req{header: tok, kids: []kid.ID{kidB}})
	ls = licenses(t, w, body)
	require.Len(t, ls, 1)
	require.Equal(t, uint16(3000), ls[0].Policy().MinSecurityLevel)

	// A requested KID that is not entitled denies the license.
	other := kid.MustParse("40000000-4000-4000-4000-4000000000ff")
	w, body, _ = f3.send(t, req{header: tok, kids: []kid.ID{kidA, other}})
	r = entFault(t, w, body, drm.ErrServerServiceSpecific)
	require.Equal(t, "requested KID "+other.String()+" is not entitled by the entitlement message", r)
}

func TestEntitlementCustomDataAndConflicts(t *testing.T) {
	f := entFixture(t, 2000)
	tok := sign(t, seedMessage(t), f.now)
	w, body, _ := f.send(t, req{customData: tok})
	require.Len(t, licenses(t, w, body), 1, "token in CustomData")

	w, body, _ = f.send(t, req{customData: "not a token, some other custom data"})
	require.Len(t, licenses(t, w, body), 1, "non-JWT CustomData is not an entitlement: cfg defaults apply")

	w, body, _ = f.send(t, req{header: tok, query: "?cfg=(sl:150)"})
	require.Contains(t, entFault(t, w, body, drm.ErrServerInvalidMessage), "both a cfg= query and an entitlement message")
	w, body, _ = f.send(t, req{customData: tok, query: "?cfg=(sl:150)"})
	require.Contains(t, entFault(t, w, body, drm.ErrServerInvalidMessage), "both a cfg= query and an entitlement message")

	tok2 := sign(t, seedMessage(t), f.now.Add(-time.Second))
	w, body, _ = f.send(t, req{header: tok, customData: tok2})
	require.Contains(t, entFault(t, w, body, drm.ErrServerInvalidMessage), "carry different tokens")
}

func TestEntitlementInvalid(t *testing.T) {
	f := entFixture(t, 2000)
	now := f.now
	msg := func(edit func(m map[string]any)) map[string]any {
		m := seedMessage(t)
		edit(m)
		return m
	}
	claims := func(edit func(c jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"version": 1, "com_key_id": commKeyID, "message": seedMessage(t), "exp": now.Add(time.Minute).Unix()}
		edit(c)
		return c
	}
	wrongKey := bytes.Repeat([]byte{0x11}, 32)
	for name, tc := range map[string]struct {
		tok  string
		want string
	}{
		"bad signature": {signClaims(t, claims(func(jwt.MapClaims) {}), wrongKey), "signature does not verify"},
		"unknown key":   {signClaims(t, claims(func(c jwt.MapClaims) { c["com_key_id"] = "someone-else" }), commKey), `com_key_id "someone-else" is not a communication key of this server`},
		"expired exp":   {signClaims(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), commKey), "expired at"},
		"expired date":  {signClaims(t, claims(func(c jwt.MapClaims) { c["expiration_date"] = now.Add(-time.Hour).UTC().Format(time.RFC3339) }), commKey), "(expiration_date;"},
		"not begun":     {signClaims(t, claims(func(c jwt.MapClaims) { c["begin_date"] = now.Add(time.Hour).UTC().Format(time.RFC3339) }), commKey), "not valid before begin_date"},
		"version":       {signClaims(t, claims(func(c jwt.MapClaims) { c["version"] = 2 }), commKey), "claim version must be 1"},
		"no message":    {signClaims(t, claims(func(c jwt.MapClaims) { delete(c, "message") }), commKey), "claim message is missing"},
		"alg none":      {noneToken(t, claims(func(jwt.MapClaims) {})), "signature does not verify"},
		"garbage":       {"a.b.c", "not a well-formed JWT"},
		"duplicate policy": {sign(t, msg(func(m map[string]any) {
			p := m["content_key_usage_policies"].([]any)
			m["content_key_usage_policies"] = append(p, p[0])
		}), now), `usage policy name "Policy A" is defined more than once`},
		"undefined policy": {sign(t, msg(func(m map[string]any) { m["content_key_usage_policies"] = []any{} }), now), `names usage policy "Policy A", which is not defined`},
		"unknown field":    {sign(t, msg(func(m map[string]any) { m["license"].(map[string]any)["bogus"] = 1 }), now), `field "bogus" is not supported`},
		"opl range":        {sign(t, msg(func(m map[string]any) { policyA(m)["analog_video_opl"] = 70000 }), now), "has the wrong type or is out of range"},
		"bad sl":           {sign(t, msg(func(m map[string]any) { policyA(m)["min_device_security_level"] = 1000 }), now), "must be 150, 2000 or 3000"},
		"bad enabler":      {sign(t, msg(func(m map[string]any) { policyA(m)["play_enablers"] = []any{"<value1>"} }), now), "play_enablers[0] is not a GUID"},
		"bad widevine": {sign(t, msg(func(m map[string]any) {
			m["content_key_usage_policies"].([]any)[0].(map[string]any)["widevine"].(map[string]any)["hdcp"] = "9"
		}), now), "widevine.hdcp must be one of"},
		"bad fairplay": {sign(t, msg(func(m map[string]any) {
			m["content_key_usage_policies"].([]any)[0].(map[string]any)["fairplay"].(map[string]any)["hdcp"] = "X"
		}), now), "fairplay.hdcp must be one of"},
		"bad key":        {sign(t, msg(func(m map[string]any) { inline(m)["key"] = "c2VjcmV0" }), now), "key is not base64 of 16 bytes (value withheld)"},
		"wrapped key":    {sign(t, msg(func(m map[string]any) { inline(m)["encrypted_key"] = "c2VjcmV0" }), now), "encrypted_key, iv and seed_id are not supported"},
		"type":           {sign(t, msg(func(m map[string]any) { m["type"] = "other" }), now), `type must be "entitlement_message"`},
		"license_server": {sign(t, msg(func(m map[string]any) { m["license_server"] = map[string]any{} }), now), "license_server is not supported"},
	} {
		t.Run(name, func(t *testing.T) {
			w, body, _ := f.send(t, req{header: tc.tok})
			r := entFault(t, w, body, drm.ErrServerInvalidMessage)
			require.Contains(t, r, tc.want)
			require.True(t, strings.HasPrefix(r, "entitlement message: "), r)
			require.NotContains(t, string(body), tc.tok)
			require.NotContains(t, r, "c2VjcmV0")
		})
	}

	// A server without communication keys refuses every message.
	g := newFixture(t, 2000)
	w, body, _ := g.send(t, req{header: sign(t, seedMessage(t), now)})
	require.Contains(t, entFault(t, w, body, drm.ErrServerInvalidMessage), "no communication key configured")
}

func inline(m map[string]any) map[string]any {
	return m["content_keys_source"].(map[string]any)["inline"].([]any)[0].(map[string]any)
}

func noneToken(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return tok
}

func TestEntitlementLicenseSection(t *testing.T) {
	f := entFixture(t, 2000)
	m := seedMessage(t)
	m["license"] = map[string]any{"start_datetime": "2026-01-01T00:00:00Z", "expiration_datetime": "2036-01-01T00:00:00Z",
		"allow_persistence": true, "playready": map[string]any{"real_time_expiration": true, "playback_duration": 3600}}
	w, body, _ := f.send(t, req{header: sign(t, m, f.now)})
	ls := licenses(t, w, body)
	p := ls[0].Policy()
	require.True(t, ls[0].Persistent())
	require.Equal(t, &xmr.Expiration{Begin: uint32(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()),
		End: uint32(time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC).Unix())}, p.Expiration)
	require.True(t, p.RealTimeExpiration)
	require.Equal(t, uint32(3600), *p.ExpireAfterFirstPlay)
}
