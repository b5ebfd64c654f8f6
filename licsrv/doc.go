// Package licsrv is prsim's reference PlayReady license server.
//
// It answers AcquireLicense on any POST path ending in rightsmanager.asmx
// (docs/formats/soap.md §1) and publishes its certificate chain at GET
// [CertPath], so a device can encrypt its client data to it. With
// [Config].LicenseServerTime it signs its time into every response and
// serves it at GET [TimePath] (License Server Time, docs/protocol.md §4).
//
// A challenge is checked in the order of docs/formats/soap.md §4: parse,
// decrypt the client data with the server's ENCRYPT_KEY, validate the device
// chain to the configured test root (docs/formats/bcert.md §11), verify the
// challenge ECDSA signature with the leaf SIGN key and the digest over the
// exact LA bytes, refuse a revoked chain, then ClientTime skew and policy. Policies come
// from the Microsoft test-server cfg= grammar in the query string
// (docs/formats/policies-and-outputs.md §6): each bracket group is one
// license. Or from an Axinom-style entitlement message (§7): a JWT signed
// with a communication key ([Config].CommKeys) in the [EntitlementHeader]
// header or the challenge CustomData, whose usage policies become per-key
// license restrictions (entitlement.go; docs/protocol.md §4). A request
// with both is refused.
//
// # Secure stop and license acknowledgement
//
// cfg securestop:true (or an entitlement's license.playready.secure_stop)
// puts SECURE_STOP and SECURESTOP2 in each non-persistent license: a random
// ID per license and a SecureStop2 key derived from the server's signing
// key and the KID, the same for a KID every time. ProcessSecureStopData
// challenges on the license endpoint are verified like license challenges;
// each record is stored once (by session ID) with SecureStop2 verification
// and answered with an acknowledgement signed with the SIGN_RESPONSE key;
// GET [ReportsPath] lists the reports. With [Config].MaxStreamsPerAccount,
// an account's unreported secure-stop licenses are its open streams.
// A response with a TransactionID (cfg tid) awaits the device's
// AcknowledgeLicense, recorded and listed at GET [AcksPath]. The state
// lives in DataDir/securestop.db (bbolt), or in memory without a DataDir
// (docs/protocol.md §11).
//
// # Revocation
//
// [Config].Revocation supplies signed revocation lists (RevInfo v2 and the
// runtime and application CRLs, docs/formats/revocation.md), verified to
// the roots with a CRL_SIGNER chain; [Config].RevAllowFile a RevAllowInfo
// allow list. Both are reloaded lazily every [Config].RevocationReload on
// the injected clock; a list that fails to verify, or would move back,
// keeps the previous one. A license, secure-stop or acknowledgement
// challenge whose chain has a certificate on the runtime CRL, not excused
// by the allow list, gets DRM_E_DEVCERT_REVOKED; a license response
// carries each list the challenge advertised at an older version; every
// license carries the served RIV (XMR 0x0032). See docs/protocol.md §12.
//
// # Faults
//
// Every bad request gets a SOAP fault with a DRM_E_* StatusCode and HTTP 500;
// panics are recovered into DRM_E_SERVER_INTERNAL_ERROR. The faultstring says
// what was wrong: the cfg key and value (`cfg sl: "12345" is not 150, 2000 or
// 3000`; a contentkey or keyseed value is never repeated), the check that
// failed ("device certificate chain invalid: leaf signature does not
// verify"), or how far the client clock is off and the window. Quoted values
// are truncated to 64 bytes and anything outside printable ASCII becomes '?'.
// Faults never carry request bytes, key material or stack traces; an
// internal error says only "internal server error". A body over
// [Limits.MaxBody] gets a fault too, after the server has drained it (up to
// a bound) so the client reads the reply instead of a reset.
//
// # Limits
//
// [Config.Limits] bounds what one request or client can make the server do:
// the body, the cfg length and groups, the header KIDs and the licenses of
// one response (counted before the challenge's signature is checked or any
// license built; a request over a bound gets a fault naming the bound and
// the prsim server flag), the size of issued.jsonl, and, through
// [Server.Serve], open connections and read, write and idle timeouts.
// Serve is the one place the HTTP server is built.
//
// # Logging
//
// [Config.Log] gets exactly one record per request, message "request", with
// the attributes method, path, action (the SOAP operation, "server-cert",
// "time", "securestop-reports", "acks" or empty), outcome (ok, fault or notfound), status, drm_code, reason,
// duration, device_digest (hex leaf digest, once the device chain parsed)
// and licenses. Faults log at Warn, internal errors at Error, the rest at
// Info. A revocation reload that changes or fails to change the lists
// adds a record "revocation reload". The query string is never logged: a cfg may hold content keys.
//
// # Defects
//
// [Config.Defects] makes the server misbehave on purpose, one known bug per
// [Defect], so that a client or a conformance suite can be shown to catch it
// ([Defects] lists them, [Defect.Description] says what each breaks). A
// server with no defect is the reference.
//
// # Compatibility
//
// prsim choices where the test server is silent: a group with no kid (or
// kid:header) issues one license per header KID, not only for single-KID
// headers; a group whose kid the header does not name is skipped, so one cfg
// naming every KID of a manifest serves each AdaptationSet's request (a fault
// only when no group applies); the key type follows the header KID's ALGID
// (AESCBC → AES-CBC license) unless ckt says otherwise; non-persistent
// licenses carry SETTINGS CANNOT_PERSIST and rights ID = the challenge nonce;
// persistent ones a random LID. The package never imports tee or hal.
package licsrv
