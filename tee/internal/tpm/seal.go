package tpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// MaxSealed is the most a sealed object can hold (MAX_SYM_DATA).
const MaxSealed = 128

var errSealSize = errors.New("tpm: sealed secret must be 1 to 128 bytes")

// sealTemplate: a keyed-hash data object (no scheme, neither sign nor
// decrypt) bound to this TPM and the SRK, usable with the empty password,
// NoDA so failed attempts never lock the TPM (docs/formats/tpm.md §8.6).
var sealTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgKeyedHash,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:     true,
		FixedParent:  true,
		UserWithAuth: true,
		NoDA:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
		Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{}),
}

// Seal wraps secret (such as a device's 32-byte storage root) in a
// sealed data object under the SRK and returns its blob (u16 length ‖
// TPM2B_PUBLIC ‖ TPM2B_PRIVATE, as key blobs). Only this TPM, with the
// same owner seed, can unseal it. The secret must be kept secret; it
// never appears in errors.
func (tp *TPM) Seal(secret []byte) ([]byte, error) {
	if len(secret) == 0 || len(secret) > MaxSealed {
		return nil, errSealSize
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: tp.srk.Handle, Name: tp.srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: secret}),
		}},
		InPublic: tpm2.New2B(sealTemplate),
	}.Execute(tp.t)
	if err != nil {
		return nil, fmt.Errorf("tpm: failed to seal: %w", err)
	}
	return joinBlob(rsp.OutPublic, rsp.OutPrivate), nil
}

// Unseal returns the secret in a blob made by [TPM.Seal]. A malformed blob
// gives [ErrBlob]; a blob sealed under another TPM or owner seed fails
// with an error that matches tpm2.TPMRCIntegrity under errors.Is (the
// TPM's integrity check of the wrapped private area).
func (tp *TPM) Unseal(blob []byte) ([]byte, error) {
	pub, priv, err := parseSealed(blob)
	if err != nil {
		return nil, err
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	h, err := tp.loadObject(pub, priv)
	if err != nil {
		return nil, fmt.Errorf("tpm: failed to load sealed object: %w", err)
	}
	defer tp.flush(h)
	rsp, err := tpm2.Unseal{ItemHandle: h}.Execute(tp.t)
	if err != nil {
		return nil, fmt.Errorf("tpm: unseal failed: %w", err)
	}
	return rsp.OutData.Buffer, nil
}

// parseSealed splits a sealed blob and checks that its public area is a
// sealed data object with prsim's attributes, so a key blob (or anything
// else the TPM would load) is refused before it reaches the TPM.
func parseSealed(blob []byte) (*tpm2.TPM2BPublic, *tpm2.TPM2BPrivate, error) {
	pub, priv, err := splitBlob(blob)
	if err != nil {
		return nil, nil, err
	}
	p, err := pub.Contents()
	if err != nil || p.Type != tpm2.TPMAlgKeyedHash || p.NameAlg != tpm2.TPMAlgSHA256 ||
		p.ObjectAttributes != sealTemplate.ObjectAttributes {
		return nil, nil, ErrBlob
	}
	kh, err := p.Parameters.KeyedHashDetail()
	if err != nil || kh.Scheme.Scheme != tpm2.TPMAlgNull {
		return nil, nil, ErrBlob
	}
	return pub, priv, nil
}
