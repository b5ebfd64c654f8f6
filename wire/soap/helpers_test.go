package soap

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testScalar derives a fixed private scalar from a label (test keys only).
func testScalar(t testing.TB, label string) []byte {
	h := sha256.Sum256([]byte("prsim soap test key: " + label))
	return h[:]
}

func testKey(t testing.TB, label string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), testScalar(t, label))
	require.NoError(t, err)
	return k
}

func testSigner(t testing.TB, label string) Signer {
	t.Helper()
	s, err := NewSigner(testKey(t, label), rand.Reader)
	require.NoError(t, err)
	return s
}

// serverKey returns the reference server's test encryption key and its
// decryption function.
func serverKey(t testing.TB, label string) (ecc.Point, func(ecc.Ciphertext) (ecc.Point, error)) {
	t.Helper()
	d := testScalar(t, label)
	pub, err := ecc.ScalarBaseMult(d)
	require.NoError(t, err)
	return pub, func(ct ecc.Ciphertext) (ecc.Point, error) { return ecc.Decrypt(d, ct) }
}

// fixedSigner returns a fixed signature: deterministic golden files.
type fixedSigner struct {
	pub ecc.Point
	sig [64]byte
}

func (s fixedSigner) Public() ecc.Point                          { return s.pub }
func (s fixedSigner) SignDigest(digest []byte) ([64]byte, error) { return s.sig, nil }

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// msHeader is the WRMHEADER of the license request sample in the Microsoft
// PlayReady docs (Docs/Overview/license-server.md), without indentation.
const msHeader = `<WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader" version="4.0.0.0">` +
	`<DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>jADgM0TEcEeYmaMh4HndNg==</KID></DATA></WRMHEADER>`

// testChallenge is a fixed challenge. Nonce and ClientTime are the values of
// the MS docs sample; the list IDs are the default set of
// docs/formats/revocation.md §1.
func testChallenge(t testing.TB) *Challenge {
	c := &Challenge{
		Version:       1,
		ContentHeader: msHeader,
		ClientVersion: "10.0.16384.10011",
		CustomData:    `User=Roland & <friends> "é" 'x'` + "\r\n\ttab",
		Nonce:         [16]byte(mustB64(t, "7GYVLC7wvGVR0nqGYXs4DQ==")),
		ClientTime:    1446224160,
		Data: ClientData{
			CertificateChain: []byte("CHAI\x00\x00\x00\x01 not a real chain, only bytes"),
			Features:         []string{"AESCBC"},
			REEFeatures:      []string{"AESCBCS", "SecureStop", "SecureStop2"},
		},
	}
	for i, id := range []string{"ioydTlK2p0WXkWklprR5Hw==", "gC4IKKPHsUCCVhnlttibJw==", "Ef/RUojT3U6Ct2jqTCChbA==", "BOZ1zT1UnEqfCf5tJOi/kA=="} {
		c.RevLists = append(c.RevLists, RevListInfo{ListID: [16]byte(mustB64(t, id)), Version: uint64(i * 7)})
	}
	return c
}

// testResponse is a fixed response; the list ID is the runtime CRL of
// docs/formats/revocation.md §1, the TransactionID that of the MS docs sample.
func testResponse(t testing.TB) *Response {
	return &Response{
		Licenses:      [][]byte{[]byte("XMR\x00license one"), []byte("XMR\x00license two")},
		RevInfo:       []Revocation{{ListID: [16]byte(mustB64(t, "ioydTlK2p0WXkWklprR5Hw==")), Data: []byte("crl blob")}},
		TransactionID: "265e4a30-72f9-4f46-b41e-102a21ac4bc9",
		Nonce:         [16]byte(mustB64(t, "7GYVLC7wvGVR0nqGYXs4DQ==")),
		ResponseID:    bytes.Repeat([]byte{0xA5}, 32),
		SigningChain:  []byte("CHAI server chain"),
		CustomData:    "echo <&>",
	}
}

// flipIn returns a copy of msg where the first occurrence of old is replaced
// by new (which must exist).
func replaceOnce(t testing.TB, msg []byte, old, new string) []byte {
	t.Helper()
	require.True(t, bytes.Contains(msg, []byte(old)), "test input lacks %q", old)
	return bytes.Replace(msg, []byte(old), []byte(new), 1)
}

var randomValues = regexp.MustCompile(`<(CipherValue|DigestValue|SignatureValue)>[^<]*</`)

// mask hides the values that change on every build.
func mask(b []byte) string {
	return randomValues.ReplaceAllString(string(b), "<$1>…</")
}

func writeCorpus(t testing.TB, target, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
}

// seedFiles adds testdata files matching glob to f and returns how many
// seeds there are, counting the committed corpus too.
func seedFiles(f *testing.F, target string, globs ...string) int {
	n := 0
	for _, g := range globs {
		files, err := filepath.Glob(filepath.Join("testdata", g))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			n++
		}
	}
	corpus, _ := os.ReadDir(filepath.Join("testdata", "fuzz", target))
	for _, e := range corpus {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}
