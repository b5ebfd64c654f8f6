// Package conformance checks a PlayReady license server against the rules a
// client relies on, with prsim devices as the clients.
//
// A run provisions its own devices (one per persona a scenario needs, in a
// temporary directory, on the soft key backend unless told otherwise), sends
// the server under test challenges it builds itself, and judges what comes
// back: licenses, response signatures, nonces, faults and, at the end, the
// content the licenses decrypt. Every scenario cites the rule it checks
// (docs/formats/*.md in the repository, which name their public sources) and
// ends pass, fail (with what was expected and what was seen, including the
// server's fault code and reason), skipped (why) or error (the runner could
// not run it).
//
// # Isolation
//
// Each scenario checks one thing and tolerates everything else: the runner
// does not stop at an unechoed nonce or a bad response signature unless the
// scenario is about that, binds licenses through the TEE itself, and judges
// HTTP status codes only in the faults family. A server with one defect
// therefore fails exactly the scenarios about that defect (docs/conformance.md
// lists them); the package tests hold the reference server to this with
// every defect licsrv can inject.
//
// # Profiles
//
// [ProfileCfg] drives the server with the Microsoft test-server cfg= query
// grammar (docs/formats/policies-and-outputs.md §6); [ProfileEntitlement]
// sends the same policies as Axinom-style entitlement messages (§7), JWTs
// signed with the communication key the server shares, skipping what a
// message cannot say; [ProfileNone] sends plain requests, and scenarios that
// need a policy are skipped.
//
// # Revocation
//
// The revocation family acts as the authority: it revokes throwaway devices
// and model certificates (never the PKI's own models) in the PKI directory
// the server reads its lists from, and waits up to
// [Options].RevocationWait for the server to reload; RV3 also extends the
// server's allow file ([Options].RevAllow). A PKI used for conformance
// therefore collects three runtime-CRL entries per run. Every device the
// runner provisions from the PKI starts with the authority's current lists,
// so that only the scenario about delivery (RV4) judges whether a server
// delivers them (docs/conformance.md).
//
// # Adding scenarios
//
// Scenarios are rows of one table, one file per family (licensing.go,
// protocol.go, faults.go, playback.go, robustness*.go, policy*.go, clock.go,
// securestop.go, revocation.go); a new family is a new file, a name in
// [Families] and its rows in [Scenarios]. A scenario's function gets an env
// with devices by persona, the URL (with or without cfg) and the exchange
// recorder.
//
// # Security considerations
//
// The runner's devices and content keys are test keys. Content keys it
// chooses travel in the cfg query string, as the test-server grammar wants,
// or in the entitlement message (an HTTP header), and are never written to
// reports, details or saved exchanges (SOAP bodies carry no clear key); nor
// is the message or the communication key. Details quote server fault reasons sanitised and
// bounded, never raw bodies.
package conformance
