package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/revocation"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// maxInspect bounds what inspect reads.
const maxInspect = 8 << 20

type inspectOptions struct {
	json bool
	root string
}

var inspectKinds = []string{"pro", "pssh", "xmr", "bcert", "challenge", "response", "fault", "revinfo", "crl"}

func newInspectCmd() *cobra.Command {
	o := &inspectOptions{}
	c := &cobra.Command{
		Use:   "inspect pro|pssh|xmr|bcert|challenge|response|fault|revinfo|crl FILE|- [--json] [--root FILE]",
		Short: "Decode a PlayReady object, pssh box, XMR license, BCert chain, challenge, response, fault, RevInfo or CRL (binary or base64); text, or JSON with --json",
		Long: "Decode a PlayReady object, pssh box, XMR license, BCert chain, challenge, response, fault, RevInfo v2 or " +
			"runtime/application CRL (binary or base64); text, or JSON with --json.\n\n" +
			"For revinfo, crl and the revocation lists of a response, the signature is checked with the signer chain's " +
			"SIGN_CRL key and the chain against --root (a root.pub: 64 raw bytes or 128 hex digits); without --root the " +
			"chain is checked against the root key it claims, so `signature_valid` then says the list is intact, not " +
			"that it is trusted. `root_key` is the key the chain ends at.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readInput(cmd.InOrStdin(), args[1])
			if err != nil {
				return usageError{err}
			}
			roots, err := inspectRoots(o.root)
			if err != nil {
				return err
			}
			v, err := inspect(args[0], raw, roots, time.Now())
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			if d, ok := v.(interface{ dump() string }); ok {
				fmt.Fprint(cmd.OutOrStdout(), d.dump())
				return nil
			}
			return writeText(cmd.OutOrStdout(), v)
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print JSON instead of text")
	c.Flags().StringVar(&o.root, "root", "", "trust anchor for revocation-list signer chains (a PKI's root.pub)")
	return c
}

func readInput(stdin io.Reader, name string) ([]byte, error) {
	if name == "-" {
		return readLimited(stdin, maxInspect)
	}
	return readFileLimited(name, maxInspect)
}

// readFileLimited reads a file named on the command line, refusing one of
// more than limit bytes (a path such as /dev/zero must not fill memory).
// Pipes are fine: inspect reads process substitutions.
func readFileLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("input too large (more than %d bytes)", limit)
	}
	return b, nil
}

// binary returns b, or its base64 decoding when b is base64 text.
func binary(b []byte) []byte {
	t := strings.Join(strings.Fields(string(b)), "")
	if t == "" {
		return b
	}
	if d, err := base64.StdEncoding.DecodeString(t); err == nil {
		return d
	}
	return b
}

// inspect decodes raw as kind; roots (nil: each chain's own root) and now
// check revocation-list signer chains.
func inspect(kind string, raw []byte, roots []ecc.Point, now time.Time) (any, error) {
	switch kind {
	case "pro":
		return inspectPRO(binary(raw))
	case "pssh":
		p, err := pro.ParsePSSH(binary(raw))
		if err != nil {
			return nil, err
		}
		out := psshJSON{Version: p.Version, Flags: p.Flags, SystemID: hex.EncodeToString(p.SystemID[:]), PlayReady: p.IsPlayReady(), DataLength: len(p.Data), KIDs: []string{}}
		for _, k := range p.KIDs {
			out.KIDs = append(out.KIDs, k.String())
		}
		if p.IsPlayReady() {
			if h, err := pro.ParseHeaderData(p.Data); err == nil {
				hj := headerToJSON(h)
				out.Header = &hj
			}
		}
		return out, nil
	case "xmr":
		l, err := xmr.Parse(binary(raw))
		if err != nil {
			return nil, err
		}
		return xmrToJSON(l), nil
	case "bcert":
		c, err := bcert.ParseChain(binary(raw))
		if err != nil {
			return nil, err
		}
		return chainToJSON(c), nil
	case "challenge":
		return inspectChallenge(raw)
	case "response":
		return inspectResponse(raw, roots, now)
	case "revinfo":
		r, err := revocation.ParseRevInfo(binary(raw))
		if err != nil {
			return nil, err
		}
		return revInfoToJSON(r, len(binary(raw)), roots, now), nil
	case "crl":
		c, err := revocation.ParseCRL(binary(raw))
		if err != nil {
			return nil, err
		}
		return crlToJSON(c, len(binary(raw)), roots, now), nil
	case "fault":
		f, err := soap.ParseFault(raw)
		if err != nil {
			return nil, err
		}
		return faultToJSON(f), nil
	}
	return nil, usagef("unknown kind %q (want one of %s)", kind, strings.Join(inspectKinds, ", "))
}

type kidJSON struct {
	KID      string  `json:"kid"`
	Value    string  `json:"value"`
	AlgID    *string `json:"algid"`
	Checksum *string `json:"checksum"`
}

type headerJSON struct {
	Version          string    `json:"version"`
	KIDs             []kidJSON `json:"kids"`
	LAURL            *string   `json:"la_url"`
	LUIURL           *string   `json:"lui_url"`
	DSID             *string   `json:"ds_id"`
	CustomAttributes *string   `json:"custom_attributes"`
	DecryptorSetup   *string   `json:"decryptor_setup"`
	LicenseRequested *bool     `json:"license_requested"`
	XML              string    `json:"xml"`
}

// strOrNil maps an absent ("") string to null.
func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func headerToJSON(h *pro.Header) headerJSON {
	out := headerJSON{Version: h.Version, KIDs: []kidJSON{}, LAURL: strOrNil(h.LAURL), LUIURL: strOrNil(h.LUIURL),
		DSID: strOrNil(h.DSID), CustomAttributes: strOrNil(h.CustomAttributes), DecryptorSetup: strOrNil(h.DecryptorSetup),
		LicenseRequested: h.LicenseRequested}
	for _, k := range h.KIDs {
		kj := kidJSON{KID: k.ID.String(), Value: k.ID.Base64GUID(), AlgID: strOrNil(k.AlgID)}
		if k.Checksum != nil {
			kj.Checksum = ptr(base64.StdEncoding.EncodeToString(k.Checksum))
		}
		out.KIDs = append(out.KIDs, kj)
	}
	out.XML, _ = h.XML()
	return out
}

type recordJSON struct {
	Type   uint16 `json:"type"`
	Length int    `json:"length"`
}

type proJSON struct {
	Length  int          `json:"length"`
	Records []recordJSON `json:"records"`
	Header  *headerJSON  `json:"header"`
}

func inspectPRO(b []byte) (any, error) {
	o, err := pro.Parse(b)
	if err != nil {
		// A bare UTF-16LE WRMHEADER is also accepted where a PRO is.
		h, herr := pro.ParseHeaderData(b)
		if herr != nil {
			return nil, err
		}
		hj := headerToJSON(h)
		return proJSON{Length: len(b), Records: []recordJSON{}, Header: &hj}, nil
	}
	out := proJSON{Length: len(b), Records: []recordJSON{}}
	for _, r := range o.Records {
		out.Records = append(out.Records, recordJSON{Type: r.Type, Length: len(r.Value)})
	}
	if h, err := o.Header(); err == nil {
		hj := headerToJSON(h)
		out.Header = &hj
	}
	return out, nil
}

type psshJSON struct {
	Version    uint8       `json:"version"`
	Flags      uint32      `json:"flags"`
	SystemID   string      `json:"system_id"`
	PlayReady  bool        `json:"playready"`
	KIDs       []string    `json:"kids"`
	DataLength int         `json:"data_length"`
	Header     *headerJSON `json:"header"`
}

type objectJSON struct {
	Type     uint16       `json:"type"`
	Name     string       `json:"name"`
	Flags    uint16       `json:"flags"`
	Length   int          `json:"length"`
	Children []objectJSON `json:"children"` // null for a leaf
}

func objectToJSON(o *xmr.Object) objectJSON {
	j := objectJSON{Type: o.Type, Name: xmr.TypeName(o.Type), Flags: o.Flags, Length: o.Len()}
	for _, c := range o.Children {
		j.Children = append(j.Children, objectToJSON(c))
	}
	return j
}

type xmrJSON struct {
	Version          uint32     `json:"version"`
	RightsID         string     `json:"rights_id"`
	Length           int        `json:"length"`
	Persistent       bool       `json:"persistent"`
	MinSecurityLevel uint16     `json:"min_security_level"`
	KID              *string    `json:"kid"`
	KeyType          *uint16    `json:"key_type"`
	CipherType       *uint16    `json:"cipher_type"`
	DeviceKey        *string    `json:"device_key"`
	Objects          objectJSON `json:"objects"`
	Policy           policyJSON `json:"policy"`
	dumpText         string
}

func (x xmrJSON) dump() string { return x.dumpText }

func xmrToJSON(l *xmr.License) xmrJSON {
	out := xmrJSON{Version: l.Version, RightsID: hex.EncodeToString(l.RightsID[:]), Length: len(l.Bytes()),
		Persistent: l.Persistent(), MinSecurityLevel: l.MinSecurityLevel(), Objects: objectToJSON(l.Outer),
		Policy: policyToJSON(l.Policy()), dumpText: l.Dump() + policySummary(l.Policy())}
	if ck, err := l.ContentKey(); err == nil {
		out.KID, out.KeyType, out.CipherType = ptr(ck.KID.String()), ptr(ck.KeyType), ptr(ck.CipherType)
	}
	if dk, ok := l.DeviceKey(); ok {
		out.DeviceKey = ptr(hex.EncodeToString(dk[:]))
	}
	return out
}

type certKeyJSON struct {
	Public string   `json:"public"`
	Usages []uint32 `json:"usages"`
}

type certJSON struct {
	Type          uint32        `json:"type"`
	SecurityLevel uint32        `json:"security_level"`
	CertID        string        `json:"cert_id"`
	Digest        string        `json:"digest"`
	Expiration    uint32        `json:"expiration"`
	Features      []uint32      `json:"features"`
	Keys          []certKeyJSON `json:"keys"`
	Manufacturer  *string       `json:"manufacturer"`
	Model         *string       `json:"model"`
	Issuer        *string       `json:"issuer_key"`
}

type chainJSON struct {
	Version  uint32     `json:"version"`
	Length   int        `json:"length"`
	Certs    []certJSON `json:"certs"`
	dumpText string
}

func (c chainJSON) dump() string { return c.dumpText }

func chainToJSON(c *bcert.Chain) chainJSON {
	out := chainJSON{Version: c.Version, Length: len(c.Bytes()), Certs: []certJSON{}, dumpText: c.Dump()}
	for _, ct := range c.Certs {
		b := ct.Basic()
		cj := certJSON{Type: b.Type, SecurityLevel: b.SecurityLevel, CertID: hex.EncodeToString(b.CertID[:]),
			Digest: hex.EncodeToString(b.Digest[:]), Expiration: b.Expiration, Features: ct.Features(), Keys: []certKeyJSON{}}
		if cj.Features == nil {
			cj.Features = []uint32{}
		}
		for _, k := range ct.Keys() {
			cj.Keys = append(cj.Keys, certKeyJSON{Public: hex.EncodeToString(k.Public[:]), Usages: k.Usages})
		}
		if m, ok := ct.Manufacturer(); ok {
			cj.Manufacturer, cj.Model = ptr(m.Name), ptr(m.Model)
		}
		if _, issuer, err := ct.SignatureInfo(); err == nil {
			cj.Issuer = ptr(hex.EncodeToString(issuer[:]))
		}
		out.Certs = append(out.Certs, cj)
	}
	return out
}

type challengeJSON struct {
	Version       int    `json:"version"`
	ClientVersion string `json:"client_version"`
	ClientTime    int64  `json:"client_time"`
	Nonce         string `json:"nonce"`
	ContentHeader string `json:"content_header"`
	RevLists      []struct {
		ListID  string `json:"list_id"`
		Version uint64 `json:"version"`
	} `json:"rev_lists"`
	CustomData     *string `json:"custom_data"`
	SignerKey      string  `json:"signer_key"`
	SignatureValid bool    `json:"signature_valid"`
	SignatureError *string `json:"signature_error"`
}

func inspectChallenge(raw []byte) (any, error) {
	p, err := soap.ParseChallenge(raw)
	if err != nil {
		return nil, err
	}
	out := challengeJSON{Version: p.Version, ClientVersion: p.ClientVersion, ClientTime: p.ClientTime,
		Nonce: base64.StdEncoding.EncodeToString(p.Nonce[:]), ContentHeader: p.ContentHeader, CustomData: strOrNil(p.CustomData),
		SignerKey: hex.EncodeToString(p.SignerKey[:])}
	out.RevLists = []struct {
		ListID  string `json:"list_id"`
		Version uint64 `json:"version"`
	}{}
	for _, r := range p.RevLists {
		out.RevLists = append(out.RevLists, struct {
			ListID  string `json:"list_id"`
			Version uint64 `json:"version"`
		}{base64.StdEncoding.EncodeToString(r.ListID[:]), r.Version})
	}
	serr := p.VerifySignature()
	out.SignatureValid, out.SignatureError = serr == nil, errString(serr)
	return out, nil
}

// faultJSON is a SOAP fault. Message and custom data are the server's text,
// shown as sent (JSON escapes them; the text view sanitises them).
type faultJSON struct {
	Code        string  `json:"code"`
	Message     string  `json:"message"`
	Actor       *string `json:"actor"`
	CustomData  *string `json:"custom_data"`
	RedirectURL *string `json:"redirect_url"`
}

func faultToJSON(f *soap.Fault) faultJSON {
	return faultJSON{Code: f.Code.String(), Message: f.Message, Actor: strOrNil(f.Actor), CustomData: strOrNil(f.CustomData),
		RedirectURL: strOrNil(f.RedirectURL)}
}

type responseJSON struct {
	Fault          *faultJSON `json:"fault"`
	Licenses       []xmrJSON  `json:"licenses"`
	Nonce          *string    `json:"nonce"`
	ResponseID     *string    `json:"response_id"`
	TransactionID  *string    `json:"transaction_id"`
	SigningChain   *chainJSON `json:"signing_chain"`
	SignatureValid bool       `json:"signature_valid"`
	SignatureError *string    `json:"signature_error"`
	// Revocation is the response's RevInfo/Revocation lists in order.
	Revocation []revListJSON `json:"revocation"`
}

func inspectResponse(raw []byte, roots []ecc.Point, now time.Time) (any, error) {
	if bytes.Contains(raw, []byte("Fault")) {
		if f, err := soap.ParseFault(raw); err == nil {
			fj := faultToJSON(f)
			return responseJSON{Fault: &fj, Licenses: []xmrJSON{}, Revocation: []revListJSON{}, SignatureError: ptr("a fault carries no signature")}, nil
		}
	}
	p, err := soap.ParseResponse(raw)
	if err != nil {
		return nil, err
	}
	out := responseJSON{Licenses: []xmrJSON{}, Revocation: []revListJSON{}, Nonce: ptr(base64.StdEncoding.EncodeToString(p.Nonce[:])),
		TransactionID: strOrNil(p.TransactionID)}
	if p.ResponseID != nil {
		out.ResponseID = ptr(base64.StdEncoding.EncodeToString(p.ResponseID))
	}
	for _, b := range p.Licenses {
		if l, err := xmr.Parse(b); err == nil {
			out.Licenses = append(out.Licenses, xmrToJSON(l))
		}
	}
	for _, rv := range p.RevInfo {
		out.Revocation = append(out.Revocation, deliveredListToJSON(rv, roots, now))
	}
	serr := errors.New("no signing chain")
	if c, err := bcert.ParseChain(p.SigningChain); err == nil {
		cj := chainToJSON(c)
		out.SigningChain = &cj
		if pub, ok := c.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse); ok {
			serr = p.VerifySignature(pub)
		}
	}
	out.SignatureValid, out.SignatureError = serr == nil, errString(serr)
	return out, nil
}

// inspectRoots reads --root: a root.pub (64 raw bytes) or its hex form.
func inspectRoots(name string) ([]ecc.Point, error) {
	if name == "" {
		return nil, nil
	}
	// 64 raw bytes, or 128 hex digits and some white space.
	b, err := readFileLimited(name, 4<<10)
	if err != nil {
		return nil, usagef("--root: %w", err)
	}
	if len(b) != ecc.PointSize {
		if h, herr := hex.DecodeString(strings.TrimSpace(string(b))); herr == nil {
			b = h
		}
	}
	p, err := ecc.ParsePoint(b)
	if err != nil {
		return nil, usagef("--root: %s is not a P-256 public key (64 raw bytes X‖Y or 128 hex digits)", name)
	}
	return []ecc.Point{p}, nil
}

// listRefJSON names a list: its GUID, its wire ID (base64 of the LE GUID
// bytes) and prsim's name for it ("" when unknown).
type listRefJSON struct {
	ID       string `json:"id"`
	IDBase64 string `json:"id_base64"`
	Name     string `json:"name"`
	Version  uint64 `json:"version"`
}

func listRef(id kid.ID, v uint64) listRefJSON {
	return listRefJSON{ID: id.String(), IDBase64: id.Base64GUID(), Name: revocation.ListName(id), Version: v}
}

// revListJSON is one revocation list (docs/formats/revocation.md): a
// RevInfo v2 (kind "revinfo2": riv, issued and lists set), a CRL (kind
// "crl": entries set) or, in a response, a list prsim only names (kind
// "wmdrmnet" or "unknown"). Version is what a client advertises for it:
// the RIV for a RevInfo.
type revListJSON struct {
	Kind           string        `json:"kind"`
	ID             string        `json:"id"`
	IDBase64       string        `json:"id_base64"`
	Name           string        `json:"name"`
	Version        uint64        `json:"version"`
	Size           int           `json:"size"`
	RIV            *uint32       `json:"riv"`
	Issued         *string       `json:"issued"`
	Lists          []listRefJSON `json:"lists"`
	Entries        []string      `json:"entries"` // base64 BASIC digests
	SignerChain    *chainJSON    `json:"signer_chain"`
	SignatureValid bool          `json:"signature_valid"`
	SignatureError *string       `json:"signature_error"`
	RootKey        *string       `json:"root_key"` // hex X‖Y the signer chain ends at
	Trusted        bool          `json:"trusted"`  // verified against --root / the PKI root, not the chain's own
}

// verifyList fills the signer chain and the verification fields. Without
// roots the chain's own root-most issuer key is used, so a list is shown
// as intact (or not) even when no trust anchor is configured.
func (j *revListJSON) verifyList(chain []byte, roots []ecc.Point, verify func([]ecc.Point) (ecc.Point, error)) {
	c, err := bcert.ParseChain(chain)
	if err != nil {
		j.SignatureError = errString(fmt.Errorf("signer chain: %w", err))
		return
	}
	cj := chainToJSON(c)
	j.SignerChain = &cj
	j.Trusted = len(roots) > 0
	if !j.Trusted {
		if _, self, err := c.Certs[len(c.Certs)-1].SignatureInfo(); err == nil {
			roots = []ecc.Point{self}
		}
	}
	root, err := verify(roots)
	j.SignatureValid, j.SignatureError = err == nil, errString(err)
	if err == nil {
		j.RootKey = ptr(hex.EncodeToString(root[:]))
	} else {
		j.Trusted = false
	}
}

func revInfoToJSON(r *revocation.RevInfo, size int, roots []ecc.Point, now time.Time) revListJSON {
	id := revocation.ListRevInfo2
	j := revListJSON{Kind: "revinfo2", ID: id.String(), IDBase64: id.Base64GUID(), Name: revocation.ListName(id),
		Version: uint64(r.RIV), Size: size, RIV: ptr(r.RIV), Issued: ptr(r.Issued.UTC().Format(time.RFC3339Nano)), Lists: []listRefJSON{}}
	for _, l := range r.Lists {
		j.Lists = append(j.Lists, listRef(l.ID, l.Version))
	}
	j.verifyList(r.Chain, roots, func(rs []ecc.Point) (ecc.Point, error) { return r.Verify(rs, now) })
	return j
}

func crlToJSON(c *revocation.CRL, size int, roots []ecc.Point, now time.Time) revListJSON {
	j := revListJSON{Kind: "crl", ID: c.ID.String(), IDBase64: c.ID.Base64GUID(), Name: revocation.ListName(c.ID),
		Version: uint64(c.Version), Size: size, Entries: []string{}}
	for _, e := range c.Entries {
		j.Entries = append(j.Entries, base64.StdEncoding.EncodeToString(e[:]))
	}
	j.verifyList(c.Chain, roots, func(rs []ecc.Point) (ecc.Point, error) { return c.Verify(rs, now) })
	return j
}

// deliveredListToJSON decodes one RevInfo/Revocation of a response by its
// ListID; a list that does not decode is shown with the reason.
func deliveredListToJSON(rv soap.Revocation, roots []ecc.Point, now time.Time) revListJSON {
	id, _ := kid.FromGUID(rv.ListID[:]) // 16 bytes: cannot fail
	var err error
	switch id {
	case revocation.ListRevInfo2:
		var r *revocation.RevInfo
		if r, err = revocation.ParseRevInfo(rv.Data); err == nil {
			return revInfoToJSON(r, len(rv.Data), roots, now)
		}
	case revocation.ListRuntime, revocation.ListApp:
		var c *revocation.CRL
		if c, err = revocation.ParseCRL(rv.Data); err == nil {
			j := crlToJSON(c, len(rv.Data), roots, now)
			if c.ID != id {
				j.SignatureValid, j.Trusted = false, false
				j.SignatureError = ptr("the list's own ID is not the ListID it was delivered under")
			}
			return j
		}
	}
	kind := map[kid.ID]string{revocation.ListRevInfo2: "revinfo2", revocation.ListRuntime: "crl", revocation.ListApp: "crl",
		revocation.ListWMDRMNET: "wmdrmnet"}[id]
	if kind == "" {
		kind = "unknown"
	}
	j := revListJSON{Kind: kind, ID: id.String(), IDBase64: id.Base64GUID(), Name: revocation.ListName(id), Size: len(rv.Data)}
	switch {
	case err != nil:
		j.SignatureError = errString(err)
	case id == revocation.ListWMDRMNET:
		j.SignatureError = ptr("WMDRMNET lists are not verified by prsim")
		if w, werr := revocation.ParseWMDRMNET(rv.Data); werr == nil {
			j.Version = uint64(w.Version)
		}
	default:
		j.SignatureError = ptr("unknown list ID")
	}
	return j
}
