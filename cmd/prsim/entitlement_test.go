package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// prsim license acquire --entitlement signs the message with the
// communication key and the reference server issues (or denies) per the
// usage policy; the key is never printed.
func TestAcquireWithEntitlementMessage(t *testing.T) {
	t.Parallel()
	const kid = "50000000-5000-5000-5000-500000000001"
	dev, header, keyID, commKey := entitlementSetup(t, "AAAAUABQAFBQAFAAAAAAAQ==")
	dir := t.TempDir()
	message := func(minSL int) string {
		p := filepath.Join(dir, fmt.Sprintf("msg%d.json", minSL))
		require.NoError(t, os.WriteFile(p, fmt.Appendf(nil, `{"type":"entitlement_message","version":2,`+
			`"content_keys_source":{"inline":[{"id":%q,"key":"AAECAwQFBgcICQoLDA0ODw==","usage_policy":"P"}]},`+
			`"content_key_usage_policies":[{"name":"P","playready":{"min_device_security_level":%d,"uncompressed_digital_video_opl":300}}]}`,
			kid, minSL), 0o600))
		return p
	}

	var acq acquireOut
	r := run(t, "license", "acquire", "--dev", dev, "--header", header, "--entitlement", message(2000),
		"--comm-key-id", keyID, "--comm-key", commKey, "--json")
	require.Equal(t, 0, r.code, "%s", r)
	decode(t, r, &acq)
	require.Len(t, acq.Licenses, 1)
	require.True(t, acq.Licenses[0].Bound)
	require.Equal(t, 2000, acq.Licenses[0].MinSecurityLevel)
	require.NotContains(t, r.stdout+r.stderr, commKey)

	r = run(t, "license", "acquire", "--dev", dev, "--header", header, "--entitlement", message(3000),
		"--comm-key-id", keyID, "--comm-key", commKey, "--json")
	f := failed(t, r, 2)
	require.Equal(t, "DRM_E_SERVER_SERVICE_SPECIFIC (0x8004C604)", *f.Error)
	require.NotNil(t, f.Detail)
	require.Contains(t, *f.Detail, "no entitled key is usable by this client: "+kid+": needs security level 3000, the client has 2000")
	require.NotContains(t, r.stdout+r.stderr, commKey)

	// A wrong key: the server says the signature does not verify.
	wrong := base64.StdEncoding.EncodeToString([]byte("not the comm key of this server!"))
	r = run(t, "license", "acquire", "--dev", dev, "--header", header, "--entitlement", message(2000),
		"--comm-key-id", keyID, "--comm-key", wrong, "--json")
	f = failed(t, r, 2)
	require.Equal(t, "DRM_E_SERVER_INVALID_MESSAGE (0x8004C601)", *f.Error)
	require.Contains(t, *f.Detail, "signature does not verify")
	require.NotContains(t, r.stdout+r.stderr, wrong)
}

// entitlementSetup starts "prsim server" with a communication key and
// provisions an SL2000 device; it returns the device, a WRMHEADER file
// naming kidB64 (base64 of the KID's GUID bytes) with the server's LA_URL,
// and the key's ID and base64 value.
func entitlementSetup(t *testing.T, kidB64 string) (dev, header, keyID, commKey string) {
	t.Helper()
	pkiDir := newPKI(t)
	dev = newDevice(t, pkiDir, 2000, "soft")
	keyID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	commKey = base64.StdEncoding.EncodeToString([]byte("prsim entitlement test comm key!"))
	laURL := startServerArgs(t, pkiDir, "--comm-key", keyID+"="+commKey) + "/rightsmanager.asmx"
	header = filepath.Join(t.TempDir(), "header.xml")
	require.NoError(t, os.WriteFile(header, []byte(`<WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader" version="4.2.0.0">`+
		`<DATA><PROTECTINFO><KIDS><KID ALGID="AESCTR" VALUE="`+kidB64+`"></KID></KIDS></PROTECTINFO>`+
		`<LA_URL>`+laURL+`</LA_URL></DATA></WRMHEADER>`), 0o600))
	return dev, header, keyID, commKey
}
