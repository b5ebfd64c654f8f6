// Package testvectors holds prsim's known-answer vectors, each with its
// provenance, for tests in any package.
//
// # Sources
//
// Key vectors ([Keys], embedded from keys.json):
//
//   - v42-video, v42-audio: the two KIDs of the PlayReady Header
//     Specification §3.4.2 example (MicrosoftDocs/PlayReady
//     Docs/Specifications/playready-header-specification.md), also in MS docs
//     Overview/key-and-key-ids-kids.md; CK and CHECKSUM from
//     docs/formats/pro-header.md §8.
//   - v40-sample-pro: the KID of the header spec §3.6.1 v4.0 example and
//     sample PRO; docs/formats/pro-header.md §8.
//   - v43-aescbc: the first KID of the header spec §3.3.2 v4.3 example
//     (AESCBC, no checksum); docs/formats/pro-header.md §8.
//   - v43-aescbc-second-kid: the second KID of that example; its CK is
//     computed (docs/formats/pro-header.md §7 derivation, test seed) and printed in
//     no document.
//   - media-test-content: the extra vector of docs/formats/pro-header.md §8 used for
//     the docs/formats/media.md §4 test content; shaka-packager 3.4.2 writes the
//     same CHECKSUM. Its key is also the test-seed derivation of its KID.
//   - cocktail-7-byte-key: computed with an independent implementation of
//     the header spec §5 COCKTAIL checksum; no published vector exists.
//   - neg-*: negative vectors derived from the above, one per failure
//     class (wrong key, KID in the wrong byte order, truncated checksum,
//     checksum on an AESCBC key, truncated KID, short key).
//
// Every CK marked DerivedFromTestSeed and every AESCTR checksum was
// recomputed independently (Python hashlib; openssl aes-128-ecb) when the
// vectors were written.
//
// [WRMHeader42] is the header spec §3.4.2 example with indentation removed
// (docs/formats/pro-header.md §8); [SamplePRO40] is the header spec §3.6.1 sample
// PlayReady Object.
//
// # Security considerations
//
// The keys here are public test keys, most of them derived from
// Microsoft's public test key seed. Content protected with them is not
// protected; never use them outside tests.
package testvectors

import (
	_ "embed"
	"encoding/json"
)

// Outcome classes of KeyVector.Expect.
const (
	ExpectOK               = "ok"                // checksum (if any) verifies with the key
	ExpectChecksumMismatch = "checksum_mismatch" // the key does not match the checksum
	ExpectMalformedKID     = "malformed_kid"     // VALUE is not the base64 of 16 bytes
	ExpectMalformedKey     = "malformed_key"     // the key has the wrong size for ALGID
)

// KeyVector is one key known-answer vector.
type KeyVector struct {
	Name   string `json:"name"`
	Source string `json:"source"` // spec file + section, or how it was computed
	// KIDValueB64 is the WRMHEADER KID VALUE: base64 of the LE GUID bytes.
	KIDValueB64 string `json:"kid_value_b64"`
	// GUID is the KID as a UUID string (CENC byte order), "" if VALUE is
	// malformed.
	GUID   string `json:"guid"`
	KeyHex string `json:"key_hex"` // content key
	// DerivedFromTestSeed marks keys that equal the key-seed derivation of
	// the KID with the public test seed.
	DerivedFromTestSeed bool   `json:"derived_from_test_seed"`
	AlgID               string `json:"algid"`        // AESCTR, AESCBC or COCKTAIL
	ChecksumB64         string `json:"checksum_b64"` // "" for none (AESCBC)
	Expect              string `json:"expect"`       // one of the Expect* classes
}

//go:embed keys.json
var keysJSON []byte

// Keys returns a fresh copy of the key vectors.
func Keys() []KeyVector {
	var f struct {
		Vectors []KeyVector `json:"vectors"`
	}
	if err := json.Unmarshal(keysJSON, &f); err != nil {
		panic("testvectors: bad embedded keys.json: " + err.Error())
	}
	return f.Vectors
}

// WRMHeader42 is the PlayReady Header spec §3.4.2 example (version 4.2.0.0,
// two AESCTR keys: v42-video and v42-audio) with the indentation removed, as
// given in docs/formats/pro-header.md §8. It is in canonical form.
const WRMHeader42 = `<WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader" version="4.2.0.0"><DATA><PROTECTINFO><KIDS><KID ALGID="AESCTR" CHECKSUM="xNvWVxoWk04=" VALUE="0IbHou/5s0yzM80yOkKEpQ=="></KID><KID ALGID="AESCTR" CHECKSUM="GnKaQIRacPU=" VALUE="/qgG2xbs4k2SKCxx6bhWqw=="></KID></KIDS></PROTECTINFO><LA_URL>http://rm.contoso.com/rightsmanager.asmx</LA_URL><DS_ID>AH+03juKbUGbHl1V/QIwRA==</DS_ID></DATA></WRMHEADER>`

// SamplePRO40 is the base64 of the PlayReady Header spec §3.6.1 sample
// "PlayReady Object containing a PlayReady Header 4.0.0.0" (860 bytes, one
// header record; KID v40-sample-pro), copied from the specification.
const SamplePRO40 = "XAMAAAEAAQBSAzwAVwBSAE0ASABFAEEARABFAFIAIAB4AG0AbABuAHMAPQAiAGgAdAB0AHAAOgAvAC8AcwBjAGgAZQBtAGEAcwAuAG0AaQBjAHIAbwBzAG8AZgB0AC4AYwBvAG0ALwBEAFIATQAvADIAMAAwADcALwAwADMALwBQAGwAYQB5AFIAZQBhAGQAeQBIAGUAYQBkAGUAcgAiACAAdgBlAHIAcwBpAG8AbgA9ACIANAAuADAALgAwAC4AMAAiAD4APABEAEEAVABBAD4APABQAFIATwBUAEUAQwBUAEkATgBGAE8APgA8AEsARQBZAEwARQBOAD4AMQA2ADwALwBLAEUAWQBMAEUATgA+ADwAQQBMAEcASQBEAD4AQQBFAFMAQwBUAFIAPAAvAEEATABHAEkARAA+ADwALwBQAFIATwBUAEUAQwBUAEkATgBGAE8APgA8AEsASQBEAD4AcQA1AEgAZwBDAFQAagA0ADAAawBHAGUATgBWAGgAVABIADkARwBlAHgAdwA9AD0APAAvAEsASQBEAD4APABDAEgARQBDAEsAUwBVAE0APgB3ACsATwBaAFYAcgA4AHYAegByAFEAPQA8AC8AQwBIAEUAQwBLAFMAVQBNAD4APABMAEEAXwBVAFIATAA+AGgAdAB0AHAAcwA6AC8ALwBwAHIAbwBmAGYAaQBjAGkAYQBsAHMAaQB0AGUALgBrAGUAeQBkAGUAbABpAHYAZQByAHkALgBtAGUAZABpAGEAcwBlAHIAdgBpAGMAZQBzAC4AdwBpAG4AZABvAHcAcwAuAG4AZQB0AC8AUABsAGEAeQBSAGUAYQBkAHkALwA8AC8ATABBAF8AVQBSAEwAPgA8AEMAVQBTAFQATwBNAEEAVABUAFIASQBCAFUAVABFAFMAPgA8AEkASQBTAF8ARABSAE0AXwBWAEUAUgBTAEkATwBOAD4AOAAuADAALgAxADcAMAA1AC4AMQA5ADwALwBJAEkAUwBfAEQAUgBNAF8AVgBFAFIAUwBJAE8ATgA+ADwALwBDAFUAUwBUAE8ATQBBAFQAVABSAEkAQgBVAFQARQBTAD4APAAvAEQAQQBUAEEAPgA8AC8AVwBSAE0ASABFAEEARABFAFIAPgA="
