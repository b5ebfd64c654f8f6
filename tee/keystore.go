package tee

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"time"

	"github.com/prsim/prsim/clock"

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

	// seal wraps the device's storage root so that only this backend
	// opens it (TPM: a sealed data object under the SRK; soft: the raw
	// bytes, as soft keeps its private keys). unseal reverses it.
	seal(secret []byte) ([]byte, error)
	unseal(blob []byte) ([]byte, error)
	// persistentNV reports whether the backend has NV that outlives the
	// process and the device directory: only then is a generation counter
	// defined, and only then can a copied-back store be detected.
	persistentNV() bool
	defineCounter(rand io.Reader) (index uint32, value uint64, err error)
	readCounter(index uint32) (uint64, error)
	incrementCounter(index uint32) (uint64, error)
	undefineCounter(index uint32) error
	// clockInfo reads the TPM Clock; advanceClock moves it forward
	// (TPM2_ClockSet). soft has no TPM Clock (the TEE emulates one).
	clockInfo() (clock.Reading, error)
	advanceClock(by time.Duration) error
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

func (softStore) seal(secret []byte) ([]byte, error) { return append([]byte(nil), secret...), nil }

func (softStore) unseal(blob []byte) ([]byte, error) {
	if len(blob) != rootSize {
		return nil, errBlob
	}
	return append([]byte(nil), blob...), nil
}

func (softStore) persistentNV() bool { return false }

var errNoNV = errors.New("tee: the backend has no persistent NV")

func (softStore) defineCounter(io.Reader) (uint32, uint64, error) { return 0, 0, errNoNV }
func (softStore) readCounter(uint32) (uint64, error)              { return 0, errNoNV }
func (softStore) incrementCounter(uint32) (uint64, error)         { return 0, errNoNV }
func (softStore) undefineCounter(uint32) error                    { return errNoNV }

var errNoTPMClock = errors.New("tee: the soft backend has no TPM Clock")

func (softStore) clockInfo() (clock.Reading, error) { return clock.Reading{}, errNoTPMClock }
func (softStore) advanceClock(time.Duration) error  { return errNoTPMClock }

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

func (s *tpmStore) seal(secret []byte) ([]byte, error) { return s.t.Seal(secret) }
func (s *tpmStore) unseal(blob []byte) ([]byte, error) { return s.t.Unseal(blob) }
func (s *tpmStore) persistentNV() bool                 { return s.t.PersistentNV() }

func (s *tpmStore) defineCounter(rand io.Reader) (uint32, uint64, error) {
	return s.t.DefineCounter(rand)
}
func (s *tpmStore) readCounter(i uint32) (uint64, error)      { return s.t.ReadCounter(i) }
func (s *tpmStore) incrementCounter(i uint32) (uint64, error) { return s.t.IncrementCounter(i) }
func (s *tpmStore) undefineCounter(i uint32) error            { return s.t.UndefineCounter(i) }

func (s *tpmStore) clockInfo() (clock.Reading, error) {
	c, err := s.t.Clock()
	return clock.Reading{Clock: c.Clock, ResetCount: c.ResetCount, RestartCount: c.RestartCount, Safe: c.Safe}, err
}
func (s *tpmStore) advanceClock(by time.Duration) error { return s.t.AdvanceClock(by) }

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
