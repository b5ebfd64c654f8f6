// Package bench holds prsim's benchmarks; it has no non-test code. `make
// bench` runs them all in one `go test -bench` process, so that the ratios
// bench/benchjson derives (bench/results.json) compare numbers measured under
// the same load on the same machine.
//
// # Benchmarks
//
//   - Acquire/soft, Acquire/tpm: one whole license acquisition, client and
//     reference server in process: ree.Client.Acquire against a
//     licsrv.Server reached through an in-memory http.RoundTripper (no
//     sockets), for a device on the pure-Go backend and on the go-tpm-tools
//     simulator ("sim:1"; docs/formats/tpm.md §6, §9). Default cfg: one
//     non-persistent license for a one-KID header.
//   - AcquireClient/soft|tpm: the client's share alone: server certificate
//     check, nonce, signed and encrypted challenge, response parse and
//     verification, and binding a canned persistent license in the TEE.
//   - AcquireServer: the server's share alone: ServeHTTP on a pre-built
//     challenge.
//   - AcquireServerRefused: ServeHTTP on a signed challenge asking for
//     273,000 licenses (100 KIDs × 2730 cfg groups), which the server
//     refuses from its counts, before any cryptography (docs/protocol.md §4,
//     Limits).
//   - CryptoFloor/*: the raw crypto operations one acquisition needs, each
//     alone and all together (CryptoFloor/total); see floor_test.go for the
//     count. Acquire/CryptoFloor is the cost of everything that is not
//     cryptography (XML, BCert, XMR, HTTP plumbing, allocation, TPM
//     round trips).
//   - Decrypt/*: TEE sample decryption (tee.Key.DecryptCENC,
//     tee.Key.DecryptCBCS with a 1:9 pattern) against the bare
//     crypto/cipher loop doing the same AES work, on 1 MiB and 4 KiB samples
//     (docs/formats/media.md §6).
//   - Play: ree.Client.Play of internal/testmedia cenc content (3 segments)
//     with its licenses bound, in sample bytes per second.
//   - Provision/soft|tpm: tee.Provision of one SL3000 device.
//
// Every benchmark body is also run once by a test, so that
// `go test ./...` catches a benchmark that no longer works; no test asserts
// timing.
//
// # The TPM simulator
//
// Only one simulator can be open per process: TestMain opens it once for the
// whole package and closes it at the end. Without cgo the tpm variants are
// skipped.
package bench
