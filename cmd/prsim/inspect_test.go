package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// Subsets of inspect's JSON the test checks.
type inspectHeader struct {
	Version string `json:"version"`
	KIDs    []struct {
		KID      string `json:"kid"`
		Value    string `json:"value"`
		AlgID    string `json:"algid"`
		Checksum string `json:"checksum"`
	} `json:"kids"`
	LAURL string `json:"la_url"`
	XML   string `json:"xml"`
}

type inspectPRO struct {
	Length  int `json:"length"`
	Records []struct {
		Type   int `json:"type"`
		Length int `json:"length"`
	} `json:"records"`
	Header *inspectHeader `json:"header"`
}

type inspectPSSH struct {
	Version   int            `json:"version"`
	SystemID  string         `json:"system_id"`
	PlayReady bool           `json:"playready"`
	Header    *inspectHeader `json:"header"`
}

type inspectXMR struct {
	RightsID         string `json:"rights_id"`
	Length           int    `json:"length"`
	Persistent       bool   `json:"persistent"`
	MinSecurityLevel int    `json:"min_security_level"`
	KID              string `json:"kid"`
	KeyType          int    `json:"key_type"`
	CipherType       int    `json:"cipher_type"`
	DeviceKey        string `json:"device_key"`
	Objects          struct {
		Name     string            `json:"name"`
		Children []json.RawMessage `json:"children"`
	} `json:"objects"`
}

type inspectChain struct {
	Length int `json:"length"`
	Certs  []struct {
		SecurityLevel int `json:"security_level"`
		Keys          []struct {
			Public string `json:"public"`
		} `json:"keys"`
		Manufacturer string `json:"manufacturer"`
	} `json:"certs"`
}

type inspectChallenge struct {
	ClientVersion  string            `json:"client_version"`
	Nonce          string            `json:"nonce"`
	ContentHeader  string            `json:"content_header"`
	RevLists       []json.RawMessage `json:"rev_lists"`
	SignerKey      string            `json:"signer_key"`
	SignatureValid bool              `json:"signature_valid"`
	SignatureError *string           `json:"signature_error"`
}

type inspectResponse struct {
	Fault *struct {
		Code string `json:"code"`
	} `json:"fault"`
	Licenses       []inspectXMR  `json:"licenses"`
	Nonce          string        `json:"nonce"`
	SigningChain   *inspectChain `json:"signing_chain"`
	SignatureValid bool          `json:"signature_valid"`
	SignatureError *string       `json:"signature_error"`
}

// TestInspect decodes every kind of input from a real exchange, as a file,
// as base64 text and from stdin, and refuses garbage.
func TestInspect(t *testing.T) {
	t.Parallel()
	x := capture(t)
	var dev deviceOut
	okJSON(t, &dev, "device", "info", "--dir", x.dev, "--json")
	laURL := x.base + "/rightsmanager.asmx"
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	b64 := func(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b) + "\n") }
	// inspect runs "prsim inspect kind FILE --json" on each source of the
	// same bytes and decodes each output into a fresh *T via newV.
	inspect := func(t *testing.T, kind string, raw []byte, base64OK bool, newV func() any, check func(v any)) {
		t.Helper()
		sources := []struct {
			name  string
			file  string
			stdin []byte
		}{
			{"file", write(kind+".bin", raw), nil},
			{"stdin", "-", raw},
		}
		if base64OK {
			sources = append(sources,
				struct {
					name  string
					file  string
					stdin []byte
				}{"base64-file", write(kind+".b64", b64(raw)), nil},
				struct {
					name  string
					file  string
					stdin []byte
				}{"base64-stdin", "-", b64(raw)})
		}
		for _, s := range sources {
			r := runStdin(t, s.stdin, "inspect", kind, s.file, "--json")
			require.Equal(t, 0, r.code, "%s: %s", s.name, r)
			v := newV()
			decode(t, r, v)
			check(v)
		}
	}

	proB64, psshB64 := playReadyFromMPD(t, x.content.MPD)
	rawPRO, err := base64.StdEncoding.DecodeString(proB64)
	require.NoError(t, err)
	rawPSSH, err := base64.StdEncoding.DecodeString(psshB64)
	require.NoError(t, err)
	videoKID := x.content.video.String()
	checkHeader := func(t *testing.T, h *inspectHeader) {
		require.NotNil(t, h)
		require.Equal(t, "4.0.0.0", h.Version)
		require.Len(t, h.KIDs, 1)
		require.Equal(t, videoKID, h.KIDs[0].KID)
		require.Equal(t, x.content.video.Base64GUID(), h.KIDs[0].Value)
		require.Equal(t, "AESCTR", h.KIDs[0].AlgID)
		require.NotEmpty(t, h.KIDs[0].Checksum)
		require.Equal(t, laURL, h.LAURL)
		require.Contains(t, h.XML, "<WRMHEADER")
	}

	t.Run("pro", func(t *testing.T) {
		inspect(t, "pro", rawPRO, true, func() any { return new(inspectPRO) }, func(v any) {
			p := v.(*inspectPRO)
			require.Equal(t, len(rawPRO), p.Length)
			require.Len(t, p.Records, 1)
			require.Equal(t, 1, p.Records[0].Type, "rights management header record")
			checkHeader(t, p.Header)
		})
	})
	t.Run("pssh", func(t *testing.T) {
		inspect(t, "pssh", rawPSSH, true, func() any { return new(inspectPSSH) }, func(v any) {
			p := v.(*inspectPSSH)
			require.True(t, p.PlayReady)
			require.Equal(t, "9a04f07998404286ab92e65be0885f95", p.SystemID)
			require.Equal(t, 0, p.Version)
			checkHeader(t, p.Header)
		})
	})

	resp, err := soap.ParseResponse(x.response)
	require.NoError(t, err)
	require.Len(t, resp.Licenses, 1, "one KID per header")
	lic := resp.Licenses[0]
	t.Run("xmr", func(t *testing.T) {
		inspect(t, "xmr", lic, true, func() any { return new(inspectXMR) }, func(v any) {
			l := v.(*inspectXMR)
			require.Equal(t, videoKID, l.KID)
			require.Equal(t, len(lic), l.Length)
			require.False(t, l.Persistent)
			require.Equal(t, 150, l.MinSecurityLevel)
			require.Equal(t, int(xmr.KeyTypeAESCTR), l.KeyType)
			require.Equal(t, int(xmr.CipherECC256), l.CipherType)
			require.Equal(t, dev.EncryptionKey, l.DeviceKey, "bound to the device's encryption key")
			require.Regexp(t, `^[0-9a-f]{32}$`, l.RightsID)
			require.NotEmpty(t, l.Objects.Name)
			require.NotEmpty(t, l.Objects.Children)
		})
	})

	deviceJSON, err := os.ReadFile(filepath.Join(x.dev, "device.json"))
	require.NoError(t, err)
	var dj struct {
		TEE struct {
			Chain []byte `json:"chain"`
		} `json:"tee"`
	}
	require.NoError(t, json.Unmarshal(deviceJSON, &dj))
	t.Run("bcert-device", func(t *testing.T) {
		inspect(t, "bcert", dj.TEE.Chain, true, func() any { return new(inspectChain) }, func(v any) {
			c := v.(*inspectChain)
			require.Equal(t, len(dj.TEE.Chain), c.Length)
			require.Len(t, c.Certs, 3)
			require.Equal(t, 3000, c.Certs[0].SecurityLevel)
			var pubs []string
			for _, k := range c.Certs[0].Keys {
				pubs = append(pubs, k.Public)
			}
			require.Contains(t, pubs, dev.SigningKey)
			require.Contains(t, pubs, dev.EncryptionKey)
		})
	})
	serverChain, err := os.ReadFile(filepath.Join(x.pki, "server.chai"))
	require.NoError(t, err)
	t.Run("bcert-server", func(t *testing.T) {
		inspect(t, "bcert", serverChain, true, func() any { return new(inspectChain) }, func(v any) {
			c := v.(*inspectChain)
			require.NotEmpty(t, c.Certs)
			require.Len(t, c.Certs[0].Keys, 2, "SIGN_RESPONSE and ENCRYPT_KEY keys")
		})
	})

	t.Run("challenge", func(t *testing.T) {
		inspect(t, "challenge", x.challenge, false, func() any { return new(inspectChallenge) }, func(v any) {
			c := v.(*inspectChallenge)
			require.True(t, c.SignatureValid)
			require.Nil(t, c.SignatureError)
			require.Equal(t, "4.5.0.0", c.ClientVersion)
			require.Equal(t, dev.SigningKey, c.SignerKey)
			require.Contains(t, c.ContentHeader, x.content.video.Base64GUID())
			nonce, err := base64.StdEncoding.DecodeString(c.Nonce)
			require.NoError(t, err)
			require.Equal(t, resp.Nonce[:], nonce, "the response echoes the challenge nonce")
			require.Len(t, c.RevLists, 4)
		})
	})
	t.Run("response", func(t *testing.T) {
		inspect(t, "response", x.response, false, func() any { return new(inspectResponse) }, func(v any) {
			r := v.(*inspectResponse)
			require.Nil(t, r.Fault)
			require.True(t, r.SignatureValid)
			require.Nil(t, r.SignatureError)
			require.Len(t, r.Licenses, 1)
			require.Equal(t, videoKID, r.Licenses[0].KID)
			require.Equal(t, base64.StdEncoding.EncodeToString(resp.Nonce[:]), r.Nonce)
			require.NotNil(t, r.SigningChain)
			require.NotEmpty(t, r.SigningChain.Certs)
		})
	})
	t.Run("response-fault", func(t *testing.T) {
		code, fault := postSOAP(t, laURL, []byte("garbage"))
		require.Equal(t, http.StatusInternalServerError, code)
		inspect(t, "response", fault, false, func() any { return new(inspectResponse) }, func(v any) {
			r := v.(*inspectResponse)
			require.NotNil(t, r.Fault)
			require.Equal(t, "DRM_E_SERVER_INVALID_MESSAGE (0x8004C601)", r.Fault.Code)
			require.Empty(t, r.Licenses)
		})
	})
	t.Run("text", func(t *testing.T) {
		// Without --json: a human-readable dump, still exit 0.
		for _, kind := range []string{"xmr", "bcert"} {
			in := lic
			if kind == "bcert" {
				in = dj.TEE.Chain
			}
			r := runStdin(t, in, "inspect", kind, "-")
			require.Equal(t, 0, r.code, "%s", r)
			require.NotEmpty(t, r.stdout)
		}
	})

	t.Run("garbage", func(t *testing.T) {
		garbage := map[string][]byte{
			"empty":     {},
			"text":      []byte("hello, world\n"),
			"bytes":     {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3},
			"base64":    b64([]byte("not a playready object at all")),
			"truncated": nil, // per kind below
		}
		inputs := map[string][]byte{"pro": rawPRO, "pssh": rawPSSH, "xmr": lic, "bcert": dj.TEE.Chain,
			"challenge": x.challenge, "response": x.response}
		for kind, good := range inputs {
			garbage["truncated"] = good[:len(good)/2]
			for name, g := range garbage {
				r := runStdin(t, g, "inspect", kind, "-", "--json")
				require.NotEqual(t, 0, r.code, "%s %s: %s", kind, name, r)
				var f struct {
					Error *string `json:"error"`
				}
				decode(t, r, &f)
				require.NotNil(t, f.Error, "%s %s: the failure is the one JSON object", kind, name)
				require.NotContains(t, r.stderr, "goroutine")
			}
		}
		// A challenge whose signature was tampered with still decodes, and
		// the report says the signature is invalid.
		bad := bytes.Clone(x.challenge)
		i := bytes.Index(bad, []byte("<SignatureValue>"))
		require.Positive(t, i)
		i += len("<SignatureValue>")
		if bad[i] == 'A' {
			bad[i] = 'B'
		} else {
			bad[i] = 'A'
		}
		r := runStdin(t, bad, "inspect", "challenge", "-", "--json")
		require.Equal(t, 0, r.code, "%s", r)
		var c inspectChallenge
		decode(t, r, &c)
		require.False(t, c.SignatureValid)
		require.NotNil(t, c.SignatureError)
		require.Regexp(t, `^DRM_E_`, *c.SignatureError)
	})

}

// inspectPolicy is the named part of inspect xmr's policy JSON.
type inspectPolicy struct {
	Policy struct {
		IssueDateTime string `json:"issue_date_time"`
		RemovalTime   string `json:"removal_date_time"`
		Expiration    struct {
			BeginTime string `json:"begin_time"`
			EndTime   string `json:"end_time"`
		} `json:"expiration"`
		SourceID     int     `json:"source_id"`
		SourceIDName *string `json:"source_id_name"`
		OPL          struct {
			UncompressedDigitalVideo int               `json:"uncompressed_digital_video"`
			Meaning                  map[string]string `json:"meaning"`
		} `json:"opl"`
		AnalogVideo  []inspectOutputProtection `json:"analog_video"`
		DigitalAudio []inspectOutputProtection `json:"digital_audio"`
		DigitalVideo []inspectOutputProtection `json:"digital_video"`
		PlayEnablers []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"play_enabler_names"`
	} `json:"policy"`
}

type inspectOutputProtection struct {
	ID     string `json:"id"`
	Data   string `json:"data"`
	Name   string `json:"name"`
	Config string `json:"config"`
}

// TestInspectXMRNames: inspect xmr names every policy object with its
// meaning (docs/formats/policies-and-outputs.md §2–§4), in JSON and text.
// The license is the XMR package's every-object test file.
func TestInspectXMRNames(t *testing.T) {
	t.Parallel()
	file := filepath.Join("..", "..", "wire", "xmr", "testdata", "all.xmr")
	var v inspectPolicy
	okJSON(t, &v, "inspect", "xmr", file, "--json")
	p := v.Policy
	require.Equal(t, "2023-11-14T22:13:20Z", p.IssueDateTime)
	require.Equal(t, "2023-11-14T22:13:20Z", p.Expiration.BeginTime)
	require.Equal(t, "2027-01-15T08:00:00Z", p.Expiration.EndTime)
	require.Equal(t, "2030-03-17T17:46:40Z", p.RemovalTime)
	require.Equal(t, 260, p.SourceID)
	require.Nil(t, p.SourceIDName, "260 is not a listed ecosystem")
	require.Equal(t, 250, p.OPL.UncompressedDigitalVideo)
	require.Equal(t, "250 (201–250): attempt HDCP; pass whether or not it succeeds", p.OPL.Meaning["uncompressed_digital_video"])
	require.Equal(t, "500: compressed video is never passed to any output", p.OPL.Meaning["compressed_digital_video"])
	require.Equal(t, "150 (101–150): pass with CGMS-A CopyNever engaged, or if CGMS-A cannot be engaged", p.OPL.Meaning["analog_video"])
	named := map[string]inspectOutputProtection{}
	for _, o := range append(append(p.AnalogVideo, p.DigitalAudio...), p.DigitalVideo...) {
		named[o.ID] = o
	}
	for id, want := range map[string][2]string{
		"c3fd11c6-f8b7-4d20-b008-1db17d61f2da": {"AGC and colour stripe", "level 2 (APSTB 10b)"},
		"6d5cfa59-c250-4426-930e-fac72c8fcfa6": {"SCMS copy bits", "copy bits 01"},
		"abb2c6f1-e663-4625-a945-972d17b231e7": {"HDCP type restriction (HDCP 2.x with content stream type 1)", "1: HDCP 2.2 or later with content stream type 1 (with uncompressed digital video OPL 271–300)"},
		"9645e831-e01d-4fff-8342-0a720e3e028f": {"maximum effective decode resolution", "1080x1920 (width, height)"},
	} {
		require.Contains(t, named, id)
		require.Equal(t, want[0], named[id].Name, id)
		require.Equal(t, want[1], named[id].Config, id)
	}
	enablers := map[string]string{}
	for _, e := range p.PlayEnablers {
		enablers[e.ID] = e.Name
	}
	require.Equal(t, "unknown output (any resolution)", enablers["786627d8-c2a6-44be-8f88-08ae255b01a7"])
	require.Equal(t, "unknown output at constrained resolution", enablers["b621d91f-edcc-4035-8d4b-dc71760d43e9"])

	r := run(t, "inspect", "xmr", file)
	require.Equal(t, 0, r.code, "%s", r)
	for _, s := range []string{
		"policy (docs/formats/policies-and-outputs.md):",
		"issue date: 2023-11-14T22:13:20Z",
		"OPL uncompressed digital video 250 (201–250): attempt HDCP; pass whether or not it succeeds",
		"analog video output protection c3fd11c6-f8b7-4d20-b008-1db17d61f2da: AGC and colour stripe: level 2 (APSTB 10b)",
		"play enabler 786627d8-c2a6-44be-8f88-08ae255b01a7: unknown output (any resolution)",
	} {
		require.Contains(t, r.stdout, s)
	}
}
