// Package ree is the rich-execution-environment side of a prsim device: it
// finds PlayReady headers in content, acquires licenses over SOAP/HTTP,
// keeps persistent licenses in the device store, and drives playback by
// handing encrypted samples to TEE decryptor handles.
//
// The REE never sees a content key or a device private key: it holds
// [tee.Key] handles. It verifies what it can without secrets — the license
// server's certificate chain and response signature, the nonce echo — and
// leaves license binding (MAC, device key, security level) to the TEE.
//
// # Protocol notes
//
// The server certificate is fetched from the license URL's origin at
// GET /prsim/server-cert (a prsim convention; docs/protocol.md), verified
// against the device's trusted roots, and cached in the store. Non-persistent
// licenses live in the [Client] for its lifetime; persistent ones are stored
// as received and re-bound when needed.
package ree
