// Package securestop encodes the secure-stop session records a device
// reports and the acknowledgement the license server signs for them
// (docs/protocol.md §11). Both are prsim-defined binary formats: the
// PlayReady secure-stop wire format is not public (docs/formats/policies-and-outputs.md §10);
// only the roles are (SecureStop1 for PlayReady 3.0+ SL3000 devices,
// SecureStop2 signed in the TEE for 4.2+).
//
// # Records
//
// A [Record] is one playback session: the session ID the TEE drew when
// decryption started, the license's SECURE_STOP ID (XMR 0x5A, "publisher"),
// the KIDs played, the start and last-update times and whether it stopped.
// A SecureStop2 record (Version 2) also carries an AES-CMAC under the
// license's SecureStop2 key (XMR 0x5C), which the server derives per KID and
// so can verify. [EncodeRecords] and [ParseRecords] carry up to
// [MaxRecords] of them inside the encrypted data of a ProcessSecureStopData
// challenge (package soap).
//
// # Acknowledgement
//
// An [Ack] names the sessions the server stored and echoes the challenge
// nonce, which the TEE drew; it is signed with the server's SIGN_RESPONSE
// key and carries that key's certificate chain, so the TEE deletes a session
// only on an acknowledgement it can verify and has not seen before.
//
// # Security considerations
//
// Parsers are strict (exact lengths, known versions and flags, no duplicate
// sessions) and bounded; every failure wraps [ErrMalformed] and a drm code
// and never quotes the input. A record's MAC only proves that the holder of
// the SecureStop2 key wrote it; a SecureStop1 record is unauthenticated
// beyond the challenge signature. [Ack.Verify] checks only the signature:
// the caller validates Chain up to its root and the leaf key usage
// (SIGN_RESPONSE), and checks the nonce.
package securestop
