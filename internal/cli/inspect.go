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

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// maxInspect bounds what inspect reads.
const maxInspect = 8 << 20

type inspectOptions struct {
	json bool
}

var inspectKinds = []string{"pro", "pssh", "xmr", "bcert", "challenge", "response", "fault"}

func newInspectCmd() *cobra.Command {
	o := &inspectOptions{}
	c := &cobra.Command{
		Use:   "inspect pro|pssh|xmr|bcert|challenge|response|fault FILE|- [--json]",
		Short: "Decode a PlayReady object, pssh box, XMR license, BCert chain, challenge, response or fault (binary or base64); text, or JSON with --json",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readInput(cmd.InOrStdin(), args[1])
			if err != nil {
				return usageError{err}
			}
			v, err := inspect(args[0], raw)
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
	return c
}

func readInput(stdin io.Reader, name string) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInspect+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInspect {
		return nil, errors.New("input too large")
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

func inspect(kind string, raw []byte) (any, error) {
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
		return inspectResponse(raw)
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
}

func inspectResponse(raw []byte) (any, error) {
	if bytes.Contains(raw, []byte("Fault")) {
		if f, err := soap.ParseFault(raw); err == nil {
			fj := faultToJSON(f)
			return responseJSON{Fault: &fj, Licenses: []xmrJSON{}, SignatureError: ptr("a fault carries no signature")}, nil
		}
	}
	p, err := soap.ParseResponse(raw)
	if err != nil {
		return nil, err
	}
	out := responseJSON{Licenses: []xmrJSON{}, Nonce: ptr(base64.StdEncoding.EncodeToString(p.Nonce[:])),
		TransactionID: strOrNil(p.TransactionID)}
	if p.ResponseID != nil {
		out.ResponseID = ptr(base64.StdEncoding.EncodeToString(p.ResponseID))
	}
	for _, b := range p.Licenses {
		if l, err := xmr.Parse(b); err == nil {
			out.Licenses = append(out.Licenses, xmrToJSON(l))
		}
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
