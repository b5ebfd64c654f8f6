package xmr

import (
	"bytes"
	"errors"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/keywrap"
	"github.com/stretchr/testify/require"
)

var testSS2Key = [16]byte{0x5c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

func TestSecureStop2RoundTrip(t *testing.T) {
	tp := minimalTemplate(t)
	id := [16]byte{0x5a}
	tp.SecureStopID = &id
	key := testSS2Key
	tp.SecureStop2Key = &key
	b := build(t, tp)

	l := mustParse(t, b)
	require.Equal(t, b, l.Bytes())
	require.NoError(t, l.VerifySignature(testCI))

	o := find(l, TypeGlobalPolicyContainer, TypeSecureStop2)
	require.NotNil(t, o)
	require.Equal(t, uint16(0), o.Flags, "SECURESTOP2 is not must-understand")
	require.Len(t, o.Body, 26)
	require.Equal(t, []byte{0, 1}, o.Body[:2])

	p := l.Policy()
	require.Equal(t, o.Body[2:], p.SecureStop2)
	require.Empty(t, p.Unknown)
	want, err := keywrap.Wrap(testCI, key[:])
	require.NoError(t, err)
	require.Equal(t, want, p.SecureStop2, "the body is the RFC 3394 wrap under CI")

	got, err := l.SecureStop2Key(testCI)
	require.NoError(t, err)
	require.Equal(t, key, got)

	// A wrong CI or a tampered object does not unwrap.
	_, err = l.SecureStop2Key(bytes.Repeat([]byte{7}, 16))
	require.ErrorIs(t, err, keywrap.ErrUnwrap)
	require.ErrorIs(t, err, drm.ErrInvalidLicense)
	o.Body[10] ^= 1
	_, err = l.SecureStop2Key(testCI)
	require.ErrorIs(t, err, keywrap.ErrUnwrap)

	_, err = l.SecureStop2Key(testCI[:15])
	require.Error(t, err)
}

func TestSecureStop2Absent(t *testing.T) {
	l := mustParse(t, build(t, minimalTemplate(t)))
	require.Nil(t, l.Policy().SecureStop2)
	_, err := l.SecureStop2Key(testCI)
	require.True(t, errors.Is(err, ErrNoSecureStop2))
	require.Nil(t, find(l, TypeGlobalPolicyContainer, TypeSecureStop2))
}

func TestSecureStop2Malformed(t *testing.T) {
	for name, body := range map[string][]byte{
		"version 2":    append(be16(2), make([]byte, 24)...),
		"short key":    append(be16(1), make([]byte, 16)...),
		"long key":     append(be16(1), make([]byte, 32)...),
		"no version":   {1},
		"version only": be16(1),
	} {
		t.Run(name, func(t *testing.T) {
			b := parseCase{tree: addGlobal(NewLeaf(0, TypeSecureStop2, body))}.bytes(t)
			l, err := Parse(b)
			require.ErrorIs(t, err, drm.ErrInvalidLicense)
			require.Nil(t, l)
		})
	}
}
