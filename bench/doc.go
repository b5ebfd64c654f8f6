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
//     simulator ("sim:1"; docs/formats/tpm.md §6, §9), its sealed TEE state
//     in memory (tee.MemoryStorage). Default cfg: one non-persistent license
//     for a one-KID header; the TEE commits its state twice (the challenge
//     nonce, and its consumption by the bind).
//   - Acquire/soft-store: the same with the sealed state in the device's
//     bbolt store (store.Open; every commit an fsync'd transaction), so
//     Acquire/soft-store ÷ Acquire/soft is what the store costs per
//     acquisition. Acquire/swtpm and Acquire/swtpm-store: the same pair on
//     swtpm ("swtpm:DIR", started by the benchmark on a temporary state
//     directory; skipped without swtpm), where every commit also increments
//     the TPM NV generation counter (docs/swtpm.md).
//   - Commit/memory|store|swtpm|swtpm-store: one commit alone
//     (tee.Device.NewNonce with the nonce FIFO at its bound of 100, the
//     largest state nonces make): seal (AES-256-GCM), write, and on swtpm
//     the counter increment.
//   - PlayStart/plain: tee.Key.Enable of a bound persistent license without
//     time policy (output decision, decryptor released; no commit).
//     PlayStart/timed|timed-store|timed-swtpm-store: Enable of a persistent
//     license with an end date on a device with an anti-rollback clock: the
//     TEE reads its trusted clock, checks the dates and commits the clock's
//     moved last-known-good time. The device's wall clock steps one second
//     per read, as play starts seconds apart see it, so every play start
//     commits (the tests check the generation count).
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
// bench/benchjson turns the run into bench/results.json: every benchmark's
// numbers, ratios (each a quotient of two benchmarks of the same run, with
// a one-line meaning) and absolute figures in microseconds (commit and play
// start times, and the store's added time per acquisition).
//
// Every benchmark body is also run once by a test, so that
// `go test ./...` catches a benchmark that no longer works; no test asserts
// timing.
//
// # The TPM simulator
//
// Only one simulator can be open per process: TestMain opens it once for the
// whole package and closes it at the end. Without cgo the tpm variants are
// skipped. swtpm runs in another process, so each swtpm variant starts its
// own.
package bench
