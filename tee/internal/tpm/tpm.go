// Package tpm keeps a device's long-term P-256 keys in a TPM 2.0: the
// signing key (ECDSA over challenge digests) and the encryption key (ECDH_ZGen
// for XMR content-key ElGamal), as wrapped blobs under a shared storage root
// key (docs/formats/tpm.md §9).
//
// Every operation is Load → Sign/ZGen → FlushContext under one lock, so a
// TPM with three transient slots (the simulator, swtpm) never runs out, and
// many devices can share one TPM. The SRK is re-derived with CreatePrimary
// on open: its template is fixed, so it is the same key for the same owner
// seed, which lets blobs made in one process load in the next.
//
// The TPM also holds what the TEE's own state relies on: a sealed storage
// root ([TPM.Seal]), a monotonic NV counter for the state's generation
// ([TPM.DefineCounter]) and the TPM Clock with its reset count and Safe
// flag ([TPM.Clock], [TPM.ClockSet]). [TPM.Reboot] and [TPM.PowerCut]
// reproduce power events for tests and demos.
package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/prsim/prsim/internal/ecc"
)

// KeyKind selects the key template.
type KeyKind int

// Key kinds.
const (
	SignKey KeyKind = iota // ECDSA-SHA256 signing key
	ECDHKey                // ECDH decryption key (ZGen)
)

// TPM is one TPM shared by every device opened on it.
type TPM struct {
	mu  sync.Mutex
	t   transport.TPM
	srk tpm2.NamedHandle
	o   Options
}

// Options describe the platform behind a transport for [Open]. The zero
// value is a TPM prsim cannot power-cycle and whose NV dies with it.
type Options struct {
	// Close runs on [TPM.Close] after the SRK is flushed; nil for none.
	Close func() error
	// PersistentNV reports that the TPM's NV outlives this process (see
	// [TPM.PersistentNV]).
	PersistentNV bool
	// Reset, if set, performs a whole orderly TPM Reset, as the
	// simulator's Reset does (Shutdown(CLEAR), _TPM_Init, Startup(CLEAR)).
	Reset func() error
	// Init, if set, sends _TPM_Init (swtpm's CMD_INIT); TPM2_Startup is
	// then up to the caller.
	Init func() error
	// VolatileSeeds reports that the hierarchy seeds do not survive a
	// reset (the simulator with fixed seeds, docs/formats/tpm.md §4): a
	// reboot then keeps the SRK in a persistent handle, so blobs still load.
	VolatileSeeds bool
	// onClose runs on Close before the SRK is flushed (swtpm's
	// orderly shutdown).
	onClose func(tp *TPM) error
	// crash stops the TPM without a TPM2_Shutdown (tests).
	crash func()
}

// srkPersistent is where a reboot of the simulator keeps the SRK.
const srkPersistent tpm2.TPMHandle = 0x81000001

// Open starts using t, a TPM that has had TPM2_Startup.
func Open(t transport.TPM, o Options) (*TPM, error) {
	tp := &TPM{t: retrying{t}, o: o}
	if err := tp.start(); err != nil {
		return nil, err
	}
	return tp, nil
}

// start must run with tp.mu held or before tp is shared.
func (tp *TPM) start() error {
	// swtpm keeps transient handles across client connections and crashes
	// (docs/formats/tpm.md §3): start from empty slots.
	tp.flushTransient()
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(tp.t)
	if err != nil {
		return fmt.Errorf("tpm: failed to create storage root key: %w", err)
	}
	tp.srk = tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
	return nil
}

// PersistentNV reports whether NV indices (the counters) outlive this
// process: false for the in-process simulator, true for swtpm and a TPM
// device.
func (tp *TPM) PersistentNV() bool { return tp.o.PersistentNV }

func (tp *TPM) flushTransient() {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapHandles,
		Property:      uint32(tpm2.TPMHTTransient) << 24,
		PropertyCount: 64,
	}.Execute(tp.t)
	if err != nil {
		return
	}
	hs, err := rsp.CapabilityData.Data.Handles()
	if err != nil {
		return
	}
	for _, h := range hs.Handle {
		_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(tp.t)
	}
}

// Close flushes the SRK and releases the transport.
func (tp *TPM) Close() error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var err error
	if tp.srk.Handle != srkPersistent {
		_, err = tpm2.FlushContext{FlushHandle: tp.srk.Handle}.Execute(tp.t)
	}
	if tp.o.onClose != nil {
		if cerr := tp.o.onClose(tp); err == nil {
			err = cerr
		}
	}
	if tp.o.Close != nil {
		if cerr := tp.o.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func template(kind KeyKind) tpm2.TPMTPublic {
	attrs := tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true, // no dictionary-attack lockout on an authless key (docs/formats/tpm.md §8.6)
	}
	scheme := tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA,
		Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})}
	if kind == SignKey {
		attrs.SignEncrypt = true
	} else {
		attrs.Decrypt = true
		scheme = tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDH,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDH, &tpm2.TPMSKeySchemeECDH{HashAlg: tpm2.TPMAlgSHA256})}
	}
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgECC,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    scheme,
			CurveID:   tpm2.TPMECCNistP256,
			KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
			Y: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
		}),
	}
}

// Generate creates a key of the given kind under the SRK and returns its
// public point and its wrapped blob (u16 length ‖ TPM2B_PUBLIC ‖ TPM2B_PRIVATE).
func (tp *TPM) Generate(kind KeyKind) (ecc.Point, []byte, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: tp.srk.Handle, Name: tp.srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPublic:     tpm2.New2B(template(kind)),
	}.Execute(tp.t)
	if err != nil {
		return ecc.Point{}, nil, fmt.Errorf("tpm: failed to create key: %w", err)
	}
	pub, err := publicPoint(rsp.OutPublic)
	if err != nil {
		return ecc.Point{}, nil, err
	}
	return pub, joinBlob(rsp.OutPublic, rsp.OutPrivate), nil
}

func publicPoint(p tpm2.TPM2BPublic) (ecc.Point, error) {
	pub, err := p.Contents()
	if err != nil {
		return ecc.Point{}, fmt.Errorf("tpm: bad public area: %w", err)
	}
	e, err := pub.Unique.ECC()
	if err != nil {
		return ecc.Point{}, fmt.Errorf("tpm: not an ECC key: %w", err)
	}
	return pointFrom(e.X.Buffer, e.Y.Buffer)
}

func pointFrom(x, y []byte) (ecc.Point, error) {
	if len(x) > 32 || len(y) > 32 {
		return ecc.Point{}, errors.New("tpm: coordinate too long")
	}
	var raw [64]byte
	copy(raw[32-len(x):32], x)
	copy(raw[64-len(y):], y)
	return ecc.ParsePoint(raw[:])
}

// ErrBlob reports a key or sealed blob that does not parse.
var ErrBlob = errors.New("tpm: malformed blob")

// load must be called with tp.mu held; the caller flushes the handle.
func (tp *TPM) load(blob []byte) (tpm2.AuthHandle, ecc.Point, error) {
	pub, priv, err := splitBlob(blob)
	if err != nil {
		return tpm2.AuthHandle{}, ecc.Point{}, err
	}
	p, err := publicPoint(*pub)
	if err != nil {
		return tpm2.AuthHandle{}, ecc.Point{}, err
	}
	h, err := tp.loadObject(pub, priv)
	if err != nil {
		return tpm2.AuthHandle{}, ecc.Point{}, fmt.Errorf("tpm: failed to load key: %w", err)
	}
	return h, p, nil
}

// splitBlob parses u16 length ‖ TPM2B_PUBLIC ‖ TPM2B_PRIVATE, the layout
// of key and sealed blobs.
func splitBlob(blob []byte) (*tpm2.TPM2BPublic, *tpm2.TPM2BPrivate, error) {
	if len(blob) < 2 {
		return nil, nil, ErrBlob
	}
	n := int(binary.BigEndian.Uint16(blob))
	if len(blob) < 2+n {
		return nil, nil, ErrBlob
	}
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](blob[2 : 2+n])
	if err != nil {
		return nil, nil, ErrBlob
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](blob[2+n:])
	if err != nil {
		return nil, nil, ErrBlob
	}
	// Trailing bytes would make two blobs for one object.
	if len(tpm2.Marshal(*priv)) != len(blob)-2-n {
		return nil, nil, ErrBlob
	}
	return pub, priv, nil
}

func joinBlob(pub tpm2.TPM2BPublic, priv tpm2.TPM2BPrivate) []byte {
	pb := tpm2.Marshal(pub)
	blob := binary.BigEndian.AppendUint16(nil, uint16(len(pb)))
	blob = append(blob, pb...)
	return append(blob, tpm2.Marshal(priv)...)
}

// loadObject must be called with tp.mu held; the caller flushes the handle.
func (tp *TPM) loadObject(pub *tpm2.TPM2BPublic, priv *tpm2.TPM2BPrivate) (tpm2.AuthHandle, error) {
	rsp, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: tp.srk.Handle, Name: tp.srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    *priv,
		InPublic:     *pub,
	}.Execute(tp.t)
	if err != nil {
		return tpm2.AuthHandle{}, err
	}
	return tpm2.AuthHandle{Handle: rsp.ObjectHandle, Name: rsp.Name, Auth: tpm2.PasswordAuth(nil)}, nil
}

func (tp *TPM) flush(h tpm2.AuthHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h.Handle}.Execute(tp.t)
}

// Public returns the public point stored in a blob.
func Public(blob []byte) (ecc.Point, error) {
	if len(blob) < 2 {
		return ecc.Point{}, ErrBlob
	}
	n := int(binary.BigEndian.Uint16(blob))
	if len(blob) < 2+n {
		return ecc.Point{}, ErrBlob
	}
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](blob[2 : 2+n])
	if err != nil {
		return ecc.Point{}, ErrBlob
	}
	return publicPoint(*pub)
}

// Sign signs a SHA-256 digest with a signing-key blob; the result is raw r‖s.
func (tp *TPM) Sign(blob, digest []byte) ([64]byte, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	h, _, err := tp.load(blob)
	if err != nil {
		return [64]byte{}, err
	}
	defer tp.flush(h)
	rsp, err := tpm2.Sign{
		KeyHandle: h,
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme: tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256})},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(tp.t)
	if err != nil {
		return [64]byte{}, fmt.Errorf("tpm: sign failed: %w", err)
	}
	sig, err := rsp.Signature.Signature.ECDSA()
	if err != nil || len(sig.SignatureR.Buffer) > 32 || len(sig.SignatureS.Buffer) > 32 {
		return [64]byte{}, errors.New("tpm: unexpected signature form")
	}
	var out [64]byte
	copy(out[32-len(sig.SignatureR.Buffer):32], sig.SignatureR.Buffer)
	copy(out[64-len(sig.SignatureS.Buffer):], sig.SignatureS.Buffer)
	return out, nil
}

// ZGen returns d·p for the ECDH key in blob: the full point, which XMR
// ElGamal decryption needs (docs/formats/tpm.md §2).
func (tp *TPM) ZGen(blob []byte, p ecc.Point) (ecc.Point, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	h, _, err := tp.load(blob)
	if err != nil {
		return ecc.Point{}, err
	}
	defer tp.flush(h)
	rsp, err := tpm2.ECDHZGen{
		KeyHandle: h,
		InPoint: tpm2.New2B(tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: p[:32]},
			Y: tpm2.TPM2BECCParameter{Buffer: p[32:]},
		}),
	}.Execute(tp.t)
	if err != nil {
		return ecc.Point{}, fmt.Errorf("tpm: ECDH_ZGen failed: %w", err)
	}
	out, err := rsp.OutPoint.Contents()
	if err != nil {
		return ecc.Point{}, errors.New("tpm: unexpected ZGen output")
	}
	return pointFrom(out.X.Buffer, out.Y.Buffer)
}

// retrying resends commands the TPM asks to retry (swtpm does on first use
// of some objects; docs/formats/tpm.md §3).
type retrying struct{ t transport.TPM }

func (r retrying) Send(cmd []byte) ([]byte, error) {
	for i := 0; ; i++ {
		rsp, err := r.t.Send(cmd)
		if err != nil || len(rsp) < 10 || i == 20 {
			return rsp, err
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case 0x922, 0x908, 0x90A: // TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING
			time.Sleep(time.Millisecond << min(i, 5))
			continue
		}
		return rsp, nil
	}
}
