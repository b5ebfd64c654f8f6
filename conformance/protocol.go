package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/soap"
)

func protocolScenarios() []Scenario {
	return family(FamilyProtocol, []row{
		{"P1", Must, PersonaSL3000,
			"docs/formats/soap.md §5 and §8 (LicenseNonce echoes the challenge nonce); MS docs Overview/license-nonce.md",
			"The response's LicenseNonce is the nonce of the challenge it answers.",
			runP1},
		{"P2", Must, PersonaSL3000,
			"docs/formats/soap.md §5 (response signature over the exact LicenseResponse bytes, SIGN_RESPONSE key) and docs/formats/bcert.md §11",
			"The response is signed, and the signature verifies over the bytes sent with the SIGN_RESPONSE key of a chain to the trusted root.",
			runP2},
		{"P3", Must, PersonaSL3000,
			"docs/formats/soap.md §8 (a non-persistent license's rights ID is the challenge nonce; replay does not bind)",
			"A non-persistent license carries the challenge nonce as rights ID, so the same response replayed later does not bind.",
			runP3},
		{"P4", Must, PersonaSL3000,
			"docs/formats/soap.md §4 item 5–6 (ECDSA over SignedInfo, digest over LA) and §6; docs/formats/errors.md §5 (DRM_E_XMLSIG_*)",
			"A challenge whose signature does not verify is refused with a fault DRM_E_XMLSIG_ECDSA_VERIFY_FAILURE (or another signature code), no license.",
			runP4},
		{"P5", Must, PersonaUntrustedRoot,
			"docs/formats/soap.md §4 item 6 (validate the device chain) and docs/formats/bcert.md §11 (chain must end at a trusted root)",
			"A challenge from a device whose chain ends at an untrusted root is refused with a device-certificate fault, no license.",
			runP5},
		{"P6", Should, PersonaSL3000,
			"docs/formats/soap.md §9 (servers may refuse a ClientTime about 1 h off; DRM_E_CLIENTTIMEINVALID)",
			"A challenge whose ClientTime is one day behind the server's clock is refused with fault DRM_E_CLIENTTIMEINVALID.",
			runP6},
	})
}

func runP1(ctx context.Context, e *env) outcome {
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000})
	if o != nil {
		return *o
	}
	const want = "a response whose LicenseNonce equals the challenge nonce"
	switch {
	case x.resp == nil:
		return failed(want, x.describe())
	case !x.resp.HasNonce():
		return failed(want, "a response without LicenseNonce")
	case x.resp.Nonce != x.nonce:
		return failed(want, "a LicenseNonce different from the challenge nonce")
	}
	return passed("nonce echoed")
}

func runP2(ctx context.Context, e *env) outcome {
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000})
	if o != nil {
		return *o
	}
	const want = "a signed response verifying with the SIGN_RESPONSE key of a chain to the trusted root"
	if x.resp == nil {
		return failed(want, x.describe())
	}
	chain, err := bcert.ParseChain(x.resp.SigningChain)
	if err != nil {
		return failed(want, "a SigningCertificateChain that does not parse: "+codeText(err))
	}
	if err := chain.Verify(bcert.VerifyOptions{Roots: []ecc.Point{e.pki.Root}, CurrentTime: e.o.Now()}); err != nil {
		return failed(want, "a signing chain that does not verify to the root: "+codeText(err))
	}
	pub, ok := chain.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse)
	if !ok {
		return failed(want, "a signing chain whose leaf has no SIGN_RESPONSE key")
	}
	if err := x.resp.VerifySignature(pub); err != nil {
		return failed(want, "a response signature that fails: "+codeText(err))
	}
	return passed("response signature verifies")
}

func runP3(ctx context.Context, e *env) outcome {
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000})
	if o != nil {
		return *o
	}
	const want = "one non-persistent license with rights ID = challenge nonce, refused when replayed"
	lic, l, bad := x.oneParsed(want)
	if bad != nil {
		return *bad
	}
	if l.Persistent() {
		return failed(want, "a persistent license for a default request")
	}
	if l.RightsID != x.nonce {
		return failed(want, "a rights ID that is not the challenge nonce")
	}
	if err := firstBindError(bindAll(x.d, lic)); err != nil {
		return failed(want, "the first delivery does not bind: "+err.Error())
	}
	// The bind consumed the nonce for this KID in the TEE: a replay of the
	// same license must not bind.
	r := x.d.Client.BindLicense(lic)
	if r.Bound {
		return failed(want, "the replayed license binds")
	}
	if !errors.Is(r.Err, drm.ErrLicenseMismatch) {
		return failed(want, "the replay refused for another reason: "+codeText(r.Err))
	}
	return passed("rights ID = nonce; replay refused with " + drm.ErrLicenseMismatch.String())
}

// spoilSignature flips the last bit of the challenge's SignatureValue: the
// device signed the challenge, and the signature no longer verifies. A
// body without one is returned unchanged (the scenario then errors at the
// server, never passes by accident: the signature still verifies).
func spoilSignature(body []byte) []byte {
	const open, end = "<SignatureValue>", "</SignatureValue>"
	i := bytes.Index(body, []byte(open))
	j := bytes.Index(body, []byte(end))
	if i < 0 || j < i {
		return body
	}
	sig, err := base64.StdEncoding.DecodeString(string(body[i+len(open) : j]))
	if err != nil || len(sig) == 0 {
		return body
	}
	sig[len(sig)-1] ^= 0x01
	out := append([]byte(nil), body[:i+len(open)]...)
	out = append(out, base64.StdEncoding.EncodeToString(sig)...)
	return append(out, body[j:]...)
}

// refused judges a request that must be refused with one of codes.
func refused(x *exchange, want string, codes ...drm.Code) outcome {
	switch {
	case x.fault != nil && slices.Contains(codes, x.fault.Code):
		return passed("refused: " + x.describe())
	case x.fault != nil:
		return failed(want, x.describe())
	case x.resp != nil:
		return failed(want, fmt.Sprintf("HTTP %d response with %d license(s) (the request was accepted)", x.status, len(x.resp.Licenses)))
	}
	return failed(want, x.describe())
}

func codeList(codes []drm.Code) string {
	var s []string
	for _, c := range codes {
		s = append(s, c.String())
	}
	return strings.Join(s, " or ")
}

func runP4(ctx context.Context, e *env) outcome {
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, tamper: spoilSignature})
	if o != nil {
		return *o
	}
	codes := []drm.Code{drm.ErrXMLSigECDSAVerifyFailure, drm.ErrXMLSigSHAVerifyFailure, drm.ErrInvalidSignature}
	return refused(x.exchange, "a fault "+codeList(codes), codes...)
}

func runP5(ctx context.Context, e *env) outcome {
	x, o := e.acquireNew(ctx, request{persona: PersonaUntrustedRoot})
	if o != nil {
		return *o
	}
	const want = "a fault DRM_E_INVALID_DEVICE_CERTIFICATE (0x8004C035) or a DRM_E_BCERT_* (0x8004C8xx) code"
	if x.fault != nil && (x.fault.Code == drm.ErrInvalidDeviceCertificate || x.fault.Code&0xFFFFFF00 == 0x8004C800) {
		return passed("refused: " + x.describe())
	}
	return refused(x.exchange, want)
}

func runP6(ctx context.Context, e *env) outcome {
	skew := func(ch *soap.Challenge) { ch.ClientTime = e.o.Now().Add(-24 * time.Hour).Unix() }
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, edit: skew})
	if o != nil {
		return *o
	}
	return refused(x.exchange, "a fault "+drm.ErrClientTimeInvalid.String(), drm.ErrClientTimeInvalid)
}
