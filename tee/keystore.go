package tee

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/tee/internal/tpm"
)

// keyStore is where a backend keeps device private keys: pure Go (soft) or
// a TPM. [OpenBackend] picks one; every key operation of the package goes
// through it, so no code branches on the kind of backend. Blobs are what
// [State] persists: raw P-256 scalars for soft, wrapped TPM2B_PUBLIC ‖
// TPM2B_PRIVATE for a TPM (docs/formats/tpm.md §9).
type keyStore interface {
	// generate makes a new key of kind and returns its public point and
	// its blob.
	generate(kind keyKind) (ecc.Point, []byte, error)
	// load checks a blob's form and returns a handle on it. It reads the
	// public part only: a TPM blob wrapped under another storage root
	// loads here and fails at first use (ErrKeysLost).
	load(kind keyKind, blob []byte) (keyHandle, error)
	// hardware reports whether private keys live outside process memory.
	hardware() bool
	close() error
}

// keyHandle is one loaded device key. sign is only for keyKindSign keys,
// zgen only for keyKindECDH keys.
type keyHandle interface {
	public() ecc.Point
	// sign signs a SHA-256 digest; the result is raw r‖s.
	sign(digest []byte) ([64]byte, error)
	// zgen returns d·p (ECDH_ZGen: the full point XMR ElGamal needs).
	zgen(p ecc.Point) (ecc.Point, error)
}

type keyKind = tpm.KeyKind

const (
	keyKindSign = tpm.SignKey
	keyKindECDH = tpm.ECDHKey
)

var (
	errBlob      = errors.New("tee: malformed key blob")
	errKeyUsage  = errors.New("tee: key used for an operation its kind does not allow")
	errDigestLen = errors.New("tee: digest must be 32 bytes")
)

var (
	_ keyStore  = softStore{}
	_ keyStore  = (*tpmStore)(nil)
	_ keyHandle = (*softKey)(nil)
	_ keyHandle = (*tpmKey)(nil)
)

// softStore keeps keys as raw scalars in the blobs themselves: it models
// SL150 hardware with no protection.
type softStore struct{}

func (softStore) generate(keyKind) (ecc.Point, []byte, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return ecc.Point{}, nil, err
	}
	p, err := ecc.ParsePoint(k.PublicKey().Bytes()[1:])
	return p, k.Bytes(), err
}

func (softStore) load(kind keyKind, blob []byte) (keyHandle, error) {
	// The signing key is parsed once here so that a signature does not
	// re-derive the public key each time.
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), blob)
	if err != nil {
		return nil, errBlob
	}
	pub, err := ecc.PublicKey(&k.PublicKey)
	if err != nil {
		return nil, errBlob
	}
	return &softKey{kind: kind, priv: k, scalar: append([]byte(nil), blob...), pub: pub}, nil
}

func (softStore) hardware() bool { return false }
func (softStore) close() error   { return nil }

type softKey struct {
	kind   keyKind
	priv   *ecdsa.PrivateKey
	scalar []byte
	pub    ecc.Point
}

func (k *softKey) public() ecc.Point { return k.pub }

func (k *softKey) sign(digest []byte) ([64]byte, error) {
	if k.kind != keyKindSign {
		return [64]byte{}, errKeyUsage
	}
	if len(digest) != 32 {
		return [64]byte{}, errDigestLen
	}
	return ecc.Sign(rand.Reader, k.priv, digest)
}

func (k *softKey) zgen(p ecc.Point) (ecc.Point, error) {
	if k.kind != keyKindECDH {
		return ecc.Point{}, errKeyUsage
	}
	return ecc.ScalarMult(k.scalar, p)
}

// tpmStore keeps keys in a TPM shared by every device opened on it: each
// operation loads the wrapped blob, runs, and flushes.
type tpmStore struct{ t *tpm.TPM }

func (s *tpmStore) generate(kind keyKind) (ecc.Point, []byte, error) { return s.t.Generate(kind) }

func (s *tpmStore) load(kind keyKind, blob []byte) (keyHandle, error) {
	pub, err := tpm.Public(blob)
	if err != nil {
		return nil, err
	}
	return &tpmKey{t: s.t, kind: kind, blob: append([]byte(nil), blob...), pub: pub}, nil
}

func (s *tpmStore) hardware() bool { return true }
func (s *tpmStore) close() error   { return s.t.Close() }

type tpmKey struct {
	t    *tpm.TPM
	kind keyKind
	blob []byte
	pub  ecc.Point
}

func (k *tpmKey) public() ecc.Point { return k.pub }

// sign and zgen check the kind before the TPM does, so that both stores
// refuse a misuse with the same error.
func (k *tpmKey) sign(digest []byte) ([64]byte, error) {
	if k.kind != keyKindSign {
		return [64]byte{}, errKeyUsage
	}
	if len(digest) != 32 {
		return [64]byte{}, errDigestLen
	}
	return k.t.Sign(k.blob, digest)
}

func (k *tpmKey) zgen(p ecc.Point) (ecc.Point, error) {
	if k.kind != keyKindECDH {
		return ecc.Point{}, errKeyUsage
	}
	return k.t.ZGen(k.blob, p)
}
