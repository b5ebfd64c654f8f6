// Package licsrv is prsim's reference PlayReady license server.
//
// It answers AcquireLicense on any POST path ending in rightsmanager.asmx
// (spec/soap.md §1) and publishes its certificate chain at GET
// /prsim/server-cert, so a device can encrypt its client data to it.
//
// A challenge is checked in the order of spec/soap.md §4.6: parse, decrypt
// the client data with the server's ENCRYPT_KEY, validate the device chain to
// the configured test root (spec/bcert.md §11), verify the challenge ECDSA
// signature with the leaf SIGN key and the digest over the exact LA bytes,
// then ClientTime skew, revocation and policy. Policies come from the
// Microsoft test-server cfg= grammar in the query string
// (spec/policies-and-outputs.md §6): each bracket group is one license.
//
// Every bad request gets a SOAP fault with a DRM_E_* StatusCode and HTTP 500;
// panics are recovered into DRM_E_SERVER_INTERNAL_ERROR. Faults never carry
// request bytes, key material or stack traces.
//
// # Compatibility
//
// prsim choices where the test server is silent: a group with no kid (or
// kid:header) issues one license per header KID, not only for single-KID
// headers; the key type follows the header KID's ALGID (AESCBC → AES-CBC
// license) unless ckt says otherwise; non-persistent licenses carry SETTINGS
// CANNOT_PERSIST and rights ID = the challenge nonce; persistent ones a random
// LID. The package never imports tee or hal.
package licsrv
