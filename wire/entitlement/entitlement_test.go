package entitlement_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/entitlement"
	"github.com/prsim/prsim/wire/kid"
)

const commKeyID = "6a8c3f1e-0b7d-4c2a-9e5f-1d2c3b4a5f60"

var (
	commKey = bytes.Repeat([]byte{0x5a}, 32)
	now     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// seed004 is the Axinom usage-policy example the server's round-trip test
// also uses (its provenance: licsrv/testdata/entitlement/README.md).
func seed004(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../licsrv/testdata/entitlement/seed004-policies.json")
	require.NoError(t, err)
	return b
}

// The shared types carry every field of the example: decoding and
// re-encoding loses and adds nothing.
func TestMessageWireFormat(t *testing.T) {
	b := seed004(t)
	m, err := entitlement.ParseMessage(b, now)
	require.NoError(t, err)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	var want, got any
	require.NoError(t, json.Unmarshal(b, &want))
	require.NoError(t, json.Unmarshal(out, &got))
	require.Equal(t, want, got)

	u, ok := m.Usage("Policy A")
	require.True(t, ok)
	require.Equal(t, uint16(2000), u.MinSecurityLevel)
	require.Equal(t, [5]uint16{400, 500, 100, 200, 300}, u.OPL)
	require.True(t, u.HasOPL)
	require.Equal(t, uint32(258), *u.SourceID)
	require.Equal(t, []kid.ID{kid.MustParse("786627D8-C2A6-44BE-8F88-08AE255B01A7"), kid.MustParse("5ABF0F0D-DC29-4B82-9982-FD8E57525BFC")}, u.PlayEnablers)
	require.Len(t, u.DigitalVideo, 1)
	require.Equal(t, kid.MustParse("ABB2C6F1-E663-4625-A945-972D17B231E7"), u.DigitalVideo[0].ID)
	k, ok := m.Key(kid.MustParse("40000000-4000-4000-4000-400000000001"))
	require.True(t, ok)
	require.Equal(t, "Policy A", k.UsagePolicy)
	require.Equal(t, [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, k.Value)
	require.False(t, m.Terms().Persist)
}

// A message built from the types, signed and verified, gives back what was
// built; a wrong key, an expired token and a bad message are *Error with
// the invalid-message code and no key in the text.
func TestSignVerify(t *testing.T) {
	id := kid.MustParse("40000000-4000-4000-4000-400000000002")
	sl := uint16(3000)
	persist := true
	m := entitlement.Message{Type: entitlement.MessageType, Version: entitlement.MessageVersion,
		License: &entitlement.License{AllowPersistence: &persist},
		ContentKeysSource: &entitlement.KeysSource{Inline: []entitlement.InlineKey{
			{ID: id.String(), Key: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 16)), UsagePolicy: "p"}}},
		Policies: []entitlement.UsagePolicy{{Name: "p", PlayReady: &entitlement.PlayReady{MinDeviceSecurityLevel: &sl, SourceID: 2}}},
	}
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	tok, err := entitlement.Sign(raw, commKeyID, commKey, now, 10*time.Minute)
	require.NoError(t, err)

	keys := map[string][]byte{"6A8C3F1E-0B7D-4C2A-9E5F-1D2C3B4A5F60": commKey} // IDs compare case-insensitively
	got, err := entitlement.Verify(tok, keys, now.Add(time.Minute))
	require.NoError(t, err)
	k, ok := got.Key(id)
	require.True(t, ok)
	require.Equal(t, [16]byte(bytes.Repeat([]byte{9}, 16)), k.Value)
	u, ok := got.Usage("p")
	require.True(t, ok)
	require.Equal(t, uint16(3000), u.MinSecurityLevel)
	require.Equal(t, uint32(2), *u.SourceID)
	require.True(t, got.Terms().Persist)
	require.Empty(t, got.Subject(), "no sub claim")

	badMsg, err := entitlement.Sign([]byte(`{"type":"entitlement_message","version":2,"bogus":1}`), commKeyID, commKey, now, time.Minute)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		tok  string
		keys map[string][]byte
		at   time.Time
		want string
	}{
		"wrong key":   {tok, map[string][]byte{commKeyID: bytes.Repeat([]byte{1}, 32)}, now, "signature does not verify"},
		"unknown key": {tok, map[string][]byte{"other": commKey}, now, "is not a communication key of this server"},
		"expired":     {tok, keys, now.Add(time.Hour), "(exp; server time"},
		"bad message": {badMsg, keys, now, `field "bogus" is not supported`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := entitlement.Verify(tc.tok, tc.keys, tc.at)
			var ee *entitlement.Error
			require.True(t, errors.As(err, &ee), "%T", err)
			require.Contains(t, ee.Reason, tc.want)
			c, ok := drm.CodeOf(err)
			require.True(t, ok)
			require.Equal(t, drm.ErrServerInvalidMessage, c)
			require.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(commKey))
		})
	}
}

// SignClaims signs the envelope as given: Verify reads begin_date and
// expiration_date from it.
func TestSignClaimsDates(t *testing.T) {
	v := 1
	c := entitlement.Claims{Version: &v, ComKeyID: commKeyID, Message: seed004(t),
		BeginDate: now.Add(-time.Minute).Format(time.RFC3339), ExpirationDate: now.Add(time.Minute).Format(time.RFC3339)}
	c.Subject = "account-7"
	tok, err := entitlement.SignClaims(c, commKey)
	require.NoError(t, err)
	keys := map[string][]byte{commKeyID: commKey}
	m, err := entitlement.Verify(tok, keys, now)
	require.NoError(t, err)
	require.Equal(t, "account-7", m.Subject(), "Verify keeps the sub claim (the server's stream account)")
	_, err = entitlement.Verify(tok, keys, now.Add(2*time.Minute))
	require.ErrorContains(t, err, "(expiration_date; server time")
	_, err = entitlement.Verify(tok, keys, now.Add(-2*time.Minute))
	require.ErrorContains(t, err, "not valid before begin_date")
}

func TestParseCommKey(t *testing.T) {
	id, k, err := entitlement.ParseCommKey(commKeyID + "=" + base64.StdEncoding.EncodeToString(commKey))
	require.NoError(t, err)
	require.Equal(t, commKeyID, id)
	require.Equal(t, commKey, k)
	for _, s := range []string{"nokey", "=AAAA", "id=!!notbase64secret", "id=c2hvcnQ="} {
		_, _, err := entitlement.ParseCommKey(s)
		require.Error(t, err, s)
		require.NotContains(t, err.Error(), "notbase64secret")
		require.NotContains(t, err.Error(), "c2hvcnQ=")
	}
	_, err = entitlement.Sign([]byte("[]"), commKeyID, commKey, time.Now(), time.Minute)
	require.Error(t, err)
	_, err = entitlement.Sign([]byte("{}"), commKeyID, commKey[:8], time.Now(), time.Minute)
	require.Error(t, err)
}

// A message, its inline keys and its checked keys carry clear content keys:
// no format verb prints them.
func TestFormatWithholdsKeys(t *testing.T) {
	id := kid.MustParse("40000000-4000-4000-4000-400000000003")
	secret := bytes.Repeat([]byte{0x5A}, 16)
	b64 := base64.StdEncoding.EncodeToString(secret)
	raw, err := json.Marshal(entitlement.Message{Type: entitlement.MessageType, Version: entitlement.MessageVersion,
		ContentKeysSource: &entitlement.KeysSource{Inline: []entitlement.InlineKey{{ID: id.String(), Key: b64}}}})
	require.NoError(t, err)
	m, err := entitlement.ParseMessage(raw, now)
	require.NoError(t, err)
	k, ok := m.Key(id)
	require.True(t, ok)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{m, *m, m.ContentKeysSource.Inline, k} {
			s := fmt.Sprintf(verb, v)
			require.NotContains(t, s, b64, verb)
			require.NotContains(t, s, "90 90 90", verb) // 0x5A bytes in decimal
			require.NotContains(t, s, "0x5a", verb)
		}
	}
}
