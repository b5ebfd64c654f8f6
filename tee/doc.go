// Package tee is prsim's trusted execution environment: the only place
// device private keys and content keys exist.
//
// It follows the function families of PlayReady's PRiTEE
// (docs/formats/policies-and-outputs.md §11):
//
//   - LPROV: [Provision] generates the device signing and encryption keys in
//     the key backend and builds the leaf certificate, signed by the model
//     (group) key (docs/formats/bcert.md §12).
//   - BASE / SIGN: [Device.NewNonce] draws a challenge nonce and
//     [Device.SignChallenge] builds and signs the challenge (see "Nonces and
//     challenges" below).
//   - LICPREP: [Device.Bind] verifies an XMR license and unwraps its content
//     key (docs/formats/xmr.md §8–§10): the license's ECC device key must be this
//     device's encryption key, the leaf certificate's security level must
//     meet the license minimum, the ElGamal ciphertext is opened with ECDH_ZGen in the
//     backend, and the CMAC is checked with CI before CK is accepted. Every
//     object of the license passes the fail-closed table ([Rules],
//     docs/protocol.md §8): enforced, ignored, or refused with its DRM code.
//   - DECRYPT: a bound [Key] is a decryptor handle for AES-128-CTR (cenc) and
//     AES-128-CBC pattern (cbcs) samples. The REE holds handles, never key
//     bytes. A handle decrypts only after [Key.Enable] has run the policy
//     engine (package policy) for the device's platform, the HAL injected
//     at open ([OpenWith]), and the decision allows it
//     (OEM_TEE_POLICY_Enforce's place in PRiTEE).
//
// # Backends
//
// Key backends are chosen by URI ([OpenBackend]): "soft" (pure Go, for fleets
// of thousands of devices), "sim" / "sim:SEED" (the go-tpm-tools in-process
// TPM simulator, needs cgo), "swtpm:DIR" (prsim runs swtpm on the state
// directory DIR), "swtpm:HOST:PORT" (an swtpm you run; docs/swtpm.md), or a
// TPM device path such as "/dev/tpmrm0". With a TPM the private keys never leave it: each operation
// loads a wrapped blob, signs or runs ZGen, and flushes (docs/formats/tpm.md §9).
//
// Every backend implements one unexported key-store interface (keystore.go):
// generate, load a blob, sign, ZGen, close. [OpenBackend] picks the
// implementation once; nothing else branches on the kind of backend.
//
// # Nonces and challenges
//
// The nonce FIFO is the TEE's: [Device.NewNonce] draws a nonce and keeps it
// outstanding, at most [MaxNonces] (100) of them, the oldest dropped first.
// A non-persistent license binds only when its rights ID is an outstanding
// nonce, and [Device.Bind] consumes it for the license's KID once the CMAC
// verifies: the same response replayed is refused with
// DRM_E_LICENSEMISMATCH, while the other licenses of a multi-KID response
// (one nonce, one license per KID) still bind once each. The REE cannot
// extend a nonce's life; it can only end one early with
// [Device.AbandonNonce] after a failed exchange.
//
// The TEE signs no digest the REE chooses. [Device.SignChallenge] takes the
// challenge fields, refuses ([ErrChallengeRefused]) a nonce that is not
// outstanding, a ContentHeader that is not a WRMHEADER, a certificate chain
// whose leaf is not this device, or fields the wire format cannot carry,
// then builds the LA element and signs its SignedInfo itself
// (docs/formats/soap.md §2).
//
// # Sealed state
//
// What the TEE decides on across processes (the nonce FIFO, the clocks, the
// first-play times of persistent licenses) is one sealed blob that a
// [Storage] keeps (the device's store.db): AES-256-GCM under a key derived
// from a per-device storage root, which the backend seals (a TPM sealed
// object under the SRK; the soft backend keeps it raw, as it keeps its
// keys). On a backend whose NV outlives the process and the device
// directory (swtpm, a TPM device), a TPM NV counter is the state's
// generation: a commit writes the blob one generation ahead and then
// increments the counter, so a crash in between is finished at the next
// open, and a blob older than the counter (a store file copied back) is
// refused with a [*RollbackError]. "soft" and "sim" keep everything in the
// device directory, where a copy cannot be told from the original:
// [Device.RollbackProtected] says so (docs/protocol.md "TEE state").
//
// # Clocks and time-based licenses
//
// The leaf certificate claims the device's trusted clock
// ([Persona.ClockKind]). A secure clock is set only from server-signed time
// ([Device.SetSecureTime]) and runs on the TPM Clock; a TPM reset or a
// non-orderly power loss needs a resync. An anti-rollback clock reads the
// HAL wall clock and refuses one behind its last-known-good time, raised by
// the TPM Clock elapsed since (package clock). A time-based license binds
// only on a device whose clock gives a time; its dates are checked at bind,
// at every play start ([Key.Enable], which records the first play), and,
// for real-time expiration, at every sample (docs/protocol.md "Trusted
// clocks").
//
// # Security considerations
//
// A [State] is stored where the REE can edit it, so [Open] trusts only what
// it can check: the key blobs are this backend's, the stored chain verifies
// and its leaf names exactly their public keys. The device's security level
// and persona ([Device.Persona]) are the leaf certificate's; a stored level
// that differs is refused with a [*StateMismatchError], never believed
// (docs/protocol.md §5).
//
// CI/CK live in process memory ("TEE RAM") after unwrapping, as on real
// PlayReady TEEs (ZGen exposes d·C1 to the host anyway). [Key.Close] zeroes
// the key bytes prsim holds; the AES key schedule inside crypto/aes cannot be
// wiped and is dropped for the garbage collector. The soft backend's blobs are
// the raw private scalars: it models SL150 hardware with no protection.
// Nothing in this package formats key bytes: [Key] implements fmt.Formatter
// and slog.LogValuer and prints only its KID.
package tee
