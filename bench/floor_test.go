package bench

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/cmac"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// The crypto floor of one acquisition (BenchmarkAcquire: default cfg, one
// non-persistent license, no store), counted from the code path of
// ree.Client.Acquire, licsrv.Server and tee.Device.Bind:
//
//	op                 count  where
//	ecdsa-sign             2  challenge SignedInfo (device key); response SignedInfo (server SIGN_RESPONSE key)
//	ecdsa-verify           5  client: response signature (1) — the server chain is verified once per
//	                          session and cached, so it costs nothing per acquisition;
//	                          server: device chain (leaf, model, root = 3), challenge signature (1)
//	p256-base-mult         3  client: XML key K = k·G, ElGamal C1 = r·G; server: content-key ElGamal C1 = r·G
//	p256-mult              4  client: r·S (server ENCRYPT_KEY); server: d·C1 (client-data key), r·D (device
//	                          ENCRYPT_KEY); client TEE: d·C1 (content key; ECDH_ZGen on a TPM)
//	p256-add               4  the C2 = M + r·P of both encryptions, M = C2 − d·C1 of both decryptions
//	                          (negation is free in principle, so a subtraction counts as an addition)
//	p256-point-from-x      2  content-key point validity: EmbedKey draws CI until CI‖CK is the x of a curve
//	                          point, which half of all x are (two square roots on average, docs/formats/xmr.md §10)
//	aes-cbc-encrypt        1  client data (<Data> with the base64 device chain), key schedule included
//	aes-cbc-decrypt        1  the same bytes on the server
//	aes-cmac               2  license signature: server signs, client TEE verifies (docs/formats/xmr.md §9)
//	sha256                 1  every digest: challenge LA and SignedInfo (client, server), LicenseResponse and
//	                          SignedInfo (server, client), certificate bodies and key digests of the device
//	                          chain (once) and the server chain (twice), the three key-seed hashes
//
// Sizes come from a real challenge and response made in setup. Keys are
// parsed once, as a minimal implementation would keep them; prsim's own
// overheads (the soft backend re-parsing its key blob before each signature,
// ecc.RandomScalar computing a public key it discards, subtraction through a
// compressed-point round trip) are what the Acquire/CryptoFloor ratio shows.
// CryptoFloor/total runs every operation its count of times.

type floorOp struct {
	name  string
	count int
	fn    func() error
}

var errVerify = errors.New("bench: signature does not verify")

// span returns body from the first open to the end of the first close after it.
func span(tb testing.TB, body []byte, open, close string) []byte {
	tb.Helper()
	i := bytes.Index(body, []byte(open))
	require.GreaterOrEqual(tb, i, 0, "no %s", open)
	j := bytes.Index(body[i:], []byte(close))
	require.GreaterOrEqual(tb, j, 0, "no %s", close)
	return body[i : i+j+len(close)]
}

// floorSizes are the byte counts of one real acquisition.
type floorSizes struct {
	clientData  int // AES-CBC ciphertext of the client data, IV excluded
	la, chSI    []byte
	lr, respSI  []byte
	license     int // bytes the XMR CMAC covers
	deviceChain int
	serverChain int
}

func measure(tb testing.TB) floorSizes {
	tb.Helper()
	d := provision(tb, shared.soft)
	ch := buildChallenge(tb, d, header(tb, ctrKID, pro.AlgAESCTR))
	resp, err := serve(ch, "")
	require.NoError(tb, err)
	var s floorSizes
	s.la = span(tb, ch, "<LA ", "</LA>")
	s.chSI = span(tb, ch, "<SignedInfo", "</SignedInfo>")
	// The client data is the last CipherValue (the first is the XML key).
	i := bytes.LastIndex(ch, []byte("<CipherValue>"))
	require.GreaterOrEqual(tb, i, 0)
	cv := span(tb, ch[i:], "<CipherValue>", "</CipherValue>")
	enc, err := base64.StdEncoding.DecodeString(string(cv[len("<CipherValue>") : len(cv)-len("</CipherValue>")]))
	require.NoError(tb, err)
	s.clientData = len(enc) - aes.BlockSize
	s.lr = span(tb, resp, "<LicenseResponse", "</LicenseResponse>")
	s.respSI = span(tb, resp, "<SignedInfo", "</SignedInfo>")
	pr, err := soap.ParseResponse(resp)
	require.NoError(tb, err)
	require.Len(tb, pr.Licenses, 1)
	lic, err := xmr.Parse(pr.Licenses[0])
	require.NoError(tb, err)
	s.license = len(lic.SignedBytes())
	s.deviceChain = len(d.Chain())
	s.serverChain = len(shared.pki.Server.Chain.Bytes())
	return s
}

func newFloor(tb testing.TB) ([]floorOp, floorSizes) {
	tb.Helper()
	sz := measure(tb)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	digest := sha256.Sum256([]byte("prsim crypto floor"))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	require.NoError(tb, err)

	ek, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(tb, err)
	point, err := ecc.ParsePoint(ek.PublicKey().Bytes()[1:])
	require.NoError(tb, err)
	scalar := ek.Bytes()
	other, err := ecc.ScalarBaseMult(digest[:])
	require.NoError(tb, err)
	x := point.X()

	aesKey := digest[:16]
	iv := digest[16:]
	data := make([]byte, sz.clientData)
	lic := make([]byte, sz.license)

	// Every digest of one acquisition.
	var digests [][]byte
	digests = append(digests, sz.la, sz.la, sz.chSI, sz.chSI, sz.lr, sz.lr, sz.respSI, sz.respSI,
		make([]byte, sz.deviceChain), make([]byte, sz.serverChain), make([]byte, sz.serverChain))
	for range 4 + 2*3 { // certificate key digests: device chain 2+1+1 keys, server chain 2+1 keys, twice
		digests = append(digests, make([]byte, ecc.PointSize))
	}
	for _, n := range []int{30 + 16, 30 + 16 + 30, 30 + 16 + 30 + 16} { // keyseed A, B, C
		digests = append(digests, make([]byte, n))
	}

	ops := []floorOp{
		{"ecdsa-sign", 2, func() error {
			_, _, err := ecdsa.Sign(rand.Reader, key, digest[:])
			return err
		}},
		{"ecdsa-verify", 5, func() error {
			if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
				return errVerify
			}
			return nil
		}},
		{"p256-base-mult", 3, func() error {
			k, err := ecdh.P256().GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			_, err = ecc.ParsePoint(k.PublicKey().Bytes()[1:])
			return err
		}},
		{"p256-mult", 4, func() error {
			_, err := ecc.ScalarMult(scalar, point)
			return err
		}},
		{"p256-add", 4, func() error {
			_, err := ecc.Add(point, other)
			return err
		}},
		{"p256-point-from-x", 2, func() error {
			if _, ok := ecc.PointFromX(x); !ok {
				return ecc.ErrPoint
			}
			return nil
		}},
		{"aes-cbc-encrypt", 1, func() error {
			b, err := aes.NewCipher(aesKey)
			if err != nil {
				return err
			}
			cipher.NewCBCEncrypter(b, iv).CryptBlocks(data, data)
			return nil
		}},
		{"aes-cbc-decrypt", 1, func() error {
			b, err := aes.NewCipher(aesKey)
			if err != nil {
				return err
			}
			cipher.NewCBCDecrypter(b, iv).CryptBlocks(data, data)
			return nil
		}},
		{"aes-cmac", 2, func() error {
			_, err := cmac.Sum(aesKey, lic)
			return err
		}},
		{"sha256", 1, func() error {
			for _, d := range digests {
				sha256.Sum256(d)
			}
			return nil
		}},
	}
	return ops, sz
}

func floorTotal(ops []floorOp) error {
	for _, op := range ops {
		for range op.count {
			if err := op.fn(); err != nil {
				return err
			}
		}
	}
	return nil
}

func BenchmarkCryptoFloor(b *testing.B) {
	ops, _ := newFloor(b)
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := op.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("total", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := floorTotal(ops); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestCryptoFloor(t *testing.T) {
	ops, sz := newFloor(t)
	t.Logf("client data %d B, LA %d B, LicenseResponse %d B, license MAC input %d B, device chain %d B, server chain %d B",
		sz.clientData, len(sz.la), len(sz.lr), sz.license, sz.deviceChain, sz.serverChain)
	// The client data carries the device chain in base64, padded to blocks.
	require.Greater(t, sz.clientData, sz.deviceChain*4/3)
	require.Zero(t, sz.clientData%aes.BlockSize)
	require.Greater(t, sz.license, 0)
	for _, op := range ops {
		require.NoError(t, op.fn(), op.name)
		require.Positive(t, op.count, op.name)
	}
	require.NoError(t, floorTotal(ops))
}
