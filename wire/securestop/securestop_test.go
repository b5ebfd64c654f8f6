package securestop

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/soap"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seeds")

var (
	testKey = [16]byte{0x55, 0x32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	kid1    = kid.MustParse("9eb4050d-e44b-4802-932e-27d75083e266")
	kid2    = kid.MustParse("6f651ae1-dbe4-4434-bcb4-690d1564c41c")
)

func testRecord(v uint8) Record {
	r := Record{
		Version:   Version1,
		Session:   [16]byte{0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		Publisher: [16]byte{0x5a, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf},
		KIDs:      []kid.ID{kid1, kid2},
		Start:     1764590000,
		Update:    1764590125,
		Stopped:   true,
	}
	if v == Version2 {
		r.Session[0] = 0x22
		r.SignSS2(testKey)
	}
	return r
}

func TestRecordLayout(t *testing.T) {
	r := testRecord(Version1)
	b := r.Bytes()
	require.Equal(t, r.SignedBytes(), b, "a v1 record has no MAC")
	require.Len(t, b, 55+2*16)
	require.Equal(t, "PRSS", string(b[:4]))
	require.Equal(t, byte(1), b[4])
	require.Equal(t, byte(1), b[5], "stopped flag")
	require.Equal(t, r.Session[:], b[6:22])
	require.Equal(t, r.Publisher[:], b[22:38])
	require.Equal(t, uint64(r.Start), binary.BigEndian.Uint64(b[38:]))
	require.Equal(t, uint64(r.Update), binary.BigEndian.Uint64(b[46:]))
	require.Equal(t, byte(2), b[54])
	require.Equal(t, kid1[:], b[55:71], "KIDs in CENC order")

	r2 := testRecord(Version2)
	b2 := r2.Bytes()
	require.Len(t, b2, 55+2*16+16)
	require.Equal(t, byte(2), b2[4])
	require.Equal(t, r2.MAC[:], b2[len(b2)-16:])
}

func TestSS2MAC(t *testing.T) {
	r := testRecord(Version2)
	require.True(t, r.VerifySS2(testKey))
	require.NotEqual(t, [16]byte{}, r.MAC)

	other := testKey
	other[0] ^= 1
	require.False(t, r.VerifySS2(other), "wrong key")

	for name, edit := range map[string]func(*Record){
		"update":    func(r *Record) { r.Update++ },
		"start":     func(r *Record) { r.Start-- },
		"stopped":   func(r *Record) { r.Stopped = false },
		"session":   func(r *Record) { r.Session[15] ^= 1 },
		"publisher": func(r *Record) { r.Publisher[0] ^= 1 },
		"kid":       func(r *Record) { r.KIDs = []kid.ID{kid1} },
		"mac":       func(r *Record) { r.MAC[3] ^= 1 },
		"version 1": func(r *Record) { r.Version = Version1 },
	} {
		c := testRecord(Version2)
		c.KIDs = append([]kid.ID(nil), c.KIDs...)
		edit(&c)
		require.False(t, c.VerifySS2(testKey), name)
	}
	v1 := testRecord(Version1)
	require.False(t, v1.VerifySS2(testKey), "a v1 record never verifies")
}

func TestRecordsRoundTrip(t *testing.T) {
	rs := []Record{testRecord(Version1), testRecord(Version2)}
	active := testRecord(Version1)
	active.Session[0] = 0x33
	active.Stopped = false
	active.KIDs = []kid.ID{kid2}
	rs = append(rs, active)

	b := EncodeRecords(rs)
	require.NotNil(t, b)
	require.Equal(t, uint16(3), binary.BigEndian.Uint16(b))
	got, err := ParseRecords(b)
	require.NoError(t, err)
	require.Equal(t, rs, got)
	require.Equal(t, b, EncodeRecords(got), "byte-identical re-encoding")
	require.True(t, got[1].VerifySS2(testKey))

	// The maximum list and KID count.
	var many []Record
	for i := range MaxRecords {
		r := testRecord(Version2)
		binary.BigEndian.PutUint32(r.Session[:], uint32(i))
		r.KIDs = make([]kid.ID, MaxKIDs)
		for j := range r.KIDs {
			r.KIDs[j][0] = byte(j)
		}
		r.SignSS2(testKey)
		many = append(many, r)
	}
	b = EncodeRecords(many)
	require.NotNil(t, b)
	require.LessOrEqual(t, len(b), soap.MaxSecureStopRecords, "a full list fits a challenge")
	got, err = ParseRecords(b)
	require.NoError(t, err)
	require.Equal(t, many, got)
}

func TestEncodeRecordsRefuses(t *testing.T) {
	r := testRecord(Version1)
	dup := []Record{r, r}
	noKID := testRecord(Version1)
	noKID.KIDs = nil
	tooMany := testRecord(Version1)
	tooMany.KIDs = make([]kid.ID, MaxKIDs+1)
	badVersion := testRecord(Version1)
	badVersion.Version = 3
	long := make([]Record, MaxRecords+1)
	for i := range long {
		long[i] = testRecord(Version1)
		binary.BigEndian.PutUint32(long[i].Session[:], uint32(i))
	}
	for name, rs := range map[string][]Record{
		"empty": nil, "duplicate session": dup, "no KID": {noKID}, "17 KIDs": {tooMany},
		"version 3": {badVersion}, "101 records": long,
	} {
		require.Nil(t, EncodeRecords(rs), name)
	}
}

func TestParseRecordsRejects(t *testing.T) {
	good := EncodeRecords([]Record{testRecord(Version1), testRecord(Version2)})
	v1len := 55 + 32
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string][]byte{
		"empty":            nil,
		"one byte":         {0},
		"zero records":     {0, 0},
		"101 records":      binary.BigEndian.AppendUint16(nil, 101),
		"count too high":   edit(func(b []byte) []byte { b[1] = 3; return b }),
		"count too low":    edit(func(b []byte) []byte { b[1] = 1; return b }),
		"trailing byte":    append(bytes.Clone(good), 0),
		"truncated":        good[:len(good)-1],
		"bad magic":        edit(func(b []byte) []byte { b[4] = 'X'; return b }),
		"version 0":        edit(func(b []byte) []byte { b[8] = 0; return b }),
		"version 2 no MAC": edit(func(b []byte) []byte { b[8] = 2; return b }),
		"unknown flag":     edit(func(b []byte) []byte { b[9] |= 2; return b }),
		"zero KIDs":        edit(func(b []byte) []byte { b[4+54] = 0; return b }),
		"KID count off":    edit(func(b []byte) []byte { b[4+54] = 1; return b }),
		"17 KIDs":          edit(func(b []byte) []byte { b[4+54] = 17; return b }),
		"length past end":  edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], 0xFFFF); return b }),
		"duplicate session": func() []byte {
			b := edit(func(b []byte) []byte { return b })
			second := 2 + 2 + v1len + 2
			copy(b[second+6:second+22], b[4+6:4+22])
			return b
		}(),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			rs, err := ParseRecords(b)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorIs(t, err, drm.ErrSecureStopSessionCorrupt)
			require.Nil(t, rs)
			sess := testRecord(Version1).Session
			require.NotContains(t, err.Error(), hex.EncodeToString(sess[:]), "no input in errors")
		})
	}
}

// fixedSigner returns a fixed signature: deterministic seeds.
type fixedSigner struct{ soap.Signer }

func (fixedSigner) SignDigest([]byte) ([64]byte, error) { return [64]byte{1, 2, 3}, nil }

func newSigner(t testing.TB, label string) (soap.Signer, *ecdsa.PrivateKey) {
	t.Helper()
	h := sha256.Sum256([]byte("prsim securestop test key: " + label))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), h[:])
	require.NoError(t, err)
	s, err := soap.NewSigner(k, rand.Reader)
	require.NoError(t, err)
	return s, k
}

func testAck() *Ack {
	return &Ack{
		Nonce:    [16]byte{0x4e, 0x4f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14},
		Sessions: [][16]byte{testRecord(Version1).Session, testRecord(Version2).Session},
		Chain:    []byte("CHAI\x00\x00\x00\x01 server chain bytes"),
	}
}

func TestAckRoundTrip(t *testing.T) {
	s, _ := newSigner(t, "server")
	a := testAck()
	b, err := a.Sign(s)
	require.NoError(t, err)
	require.Equal(t, "PRSA", string(b[:4]))
	require.Equal(t, uint32(1), binary.BigEndian.Uint32(b[4:]))
	require.Len(t, b, 28+2*16+4+len(a.Chain)+64)

	got, err := ParseAck(b)
	require.NoError(t, err)
	require.Equal(t, a, got)
	require.Equal(t, b, got.Bytes(), "byte-identical re-encoding")
	require.NoError(t, got.Verify(s.Public()))

	other, _ := newSigner(t, "other")
	require.ErrorIs(t, got.Verify(other.Public()), drm.ErrSecureStopInvalidResponse)

	// Every signed field is covered.
	for name, edit := range map[string]func(*Ack){
		"nonce":    func(a *Ack) { a.Nonce[0] ^= 1 },
		"sessions": func(a *Ack) { a.Sessions = a.Sessions[:1] },
		"chain":    func(a *Ack) { a.Chain = append(a.Chain, 0) },
		"sig":      func(a *Ack) { a.Signature[5] ^= 1 },
	} {
		c, err := ParseAck(b)
		require.NoError(t, err)
		edit(c)
		require.ErrorIs(t, c.Verify(s.Public()), drm.ErrSecureStopInvalidResponse, name)
	}

	// An ack naming no session is valid (nothing was stored).
	empty := testAck()
	empty.Sessions = nil
	eb, err := empty.Sign(s)
	require.NoError(t, err)
	got, err = ParseAck(eb)
	require.NoError(t, err)
	require.Nil(t, got.Sessions)
	require.NoError(t, got.Verify(s.Public()))
}

func TestAckSignRefuses(t *testing.T) {
	s, _ := newSigner(t, "server")
	_, err := testAck().Sign(nil)
	require.Error(t, err)
	for name, edit := range map[string]func(*Ack){
		"no chain":    func(a *Ack) { a.Chain = nil },
		"long chain":  func(a *Ack) { a.Chain = make([]byte, soap.MaxServerTimeChain+1) },
		"dup session": func(a *Ack) { a.Sessions = append(a.Sessions, a.Sessions[0]) },
		"too many":    func(a *Ack) { a.Sessions = make([][16]byte, MaxAckSessions+1) },
	} {
		a := testAck()
		edit(a)
		b, err := a.Sign(s)
		require.Error(t, err, name)
		require.Nil(t, b, name)
	}
}

func TestParseAckRejects(t *testing.T) {
	s, _ := newSigner(t, "server")
	good, err := testAck().Sign(s)
	require.NoError(t, err)
	edit := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short":          good[:90],
		"truncated":      good[:len(good)-1],
		"trailing":       append(bytes.Clone(good), 0),
		"bad magic":      edit(func(b []byte) { b[0] = 'X' }),
		"version 2":      edit(func(b []byte) { b[7] = 2 }),
		"sessions > max": edit(func(b []byte) { binary.BigEndian.PutUint32(b[24:], MaxAckSessions+1) }),
		"session count":  edit(func(b []byte) { binary.BigEndian.PutUint32(b[24:], 3) }),
		"dup session":    edit(func(b []byte) { copy(b[44:60], b[28:44]) }),
		"zero chain":     edit(func(b []byte) { binary.BigEndian.PutUint32(b[60:], 0) }),
		"chain length":   edit(func(b []byte) { binary.BigEndian.PutUint32(b[60:], 1<<30) }),
	} {
		t.Run(name, func(t *testing.T) {
			a, err := ParseAck(b)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorIs(t, err, drm.ErrSecureStopInvalidResponse)
			require.Nil(t, a)
		})
	}
}

// TestFuzzCorpus writes (with -update) and checks the committed seeds.
func TestFuzzCorpus(t *testing.T) {
	s, _ := newSigner(t, "server")
	ack, err := testAck().Sign(fixedSigner{s})
	require.NoError(t, err)
	seeds := map[string]map[string][]byte{
		"FuzzParseRecords": {
			"v1-v2":     EncodeRecords([]Record{testRecord(Version1), testRecord(Version2)}),
			"v2":        EncodeRecords([]Record{testRecord(Version2)}),
			"truncated": EncodeRecords([]Record{testRecord(Version1)})[:40],
		},
		"FuzzParseAck": {
			"ack":       ack,
			"truncated": ack[:70],
		},
	}
	for target, files := range seeds {
		for name, data := range files {
			path := filepath.Join("testdata", "fuzz", target, name)
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
			}
			got, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestFuzzCorpus -update")
			require.Equal(t, body, string(got), "%s is stale: run with -update", path)
		}
	}
}

// seeds counts the committed corpus of target.
func seeds(f *testing.F, target string) {
	entries, _ := os.ReadDir(filepath.Join("testdata", "fuzz", target))
	if len(entries) == 0 {
		f.Fatalf("no committed seeds for %s", target)
	}
}

func FuzzParseRecords(f *testing.F) {
	seeds(f, "FuzzParseRecords")
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseRecords(b)
		if err != nil {
			require.Nil(t, rs)
			return
		}
		enc := EncodeRecords(rs)
		require.Equal(t, b, enc, "records encoding is canonical")
		for i := range rs {
			// A v2 record re-signed with the test key verifies; a v1
			// record never does.
			r := rs[i]
			v2 := r.Version == Version2
			if v2 {
				r.SignSS2(testKey)
			}
			require.Equal(t, v2, r.VerifySS2(testKey))
		}
	})
}

func FuzzParseAck(f *testing.F) {
	seeds(f, "FuzzParseAck")
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAck(b)
		if err != nil {
			require.Nil(t, a)
			return
		}
		require.Equal(t, b, a.Bytes(), "ack encoding is canonical")
	})
}
