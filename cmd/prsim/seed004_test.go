package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// The content key usage policies example of Axinom's public "Content Key
// Usage Policies" page (licsrv/testdata/entitlement, with its provenance)
// goes through the reference server into a license, and `prsim inspect xmr`
// names every object the policy mapped to.
func TestSeed004EntitlementInspectedByName(t *testing.T) {
	t.Parallel()
	// KID 40000000-4000-4000-4000-400000000001, the message's inline key.
	dev, header, keyID, commKey := entitlementSetup(t, "AAAAQABAAEBAAEAAAAAAAQ==")
	dir := t.TempDir()
	ex := filepath.Join(dir, "ex")
	r := run(t, "license", "acquire", "--dev", dev, "--header", header,
		"--entitlement", filepath.Join("..", "..", "licsrv", "testdata", "entitlement", "seed004-policies.json"),
		"--comm-key-id", keyID, "--comm-key", commKey, "--save-exchange", ex, "--json")
	require.Equal(t, 0, r.code, "%s", r)

	resp, err := os.ReadFile(filepath.Join(ex, "002-response.xml"))
	require.NoError(t, err)
	m := regexp.MustCompile(`<License>([^<]+)</License>`).FindSubmatch(resp)
	require.NotNil(t, m, "the response carries a license")
	lic := filepath.Join(dir, "license.b64")
	require.NoError(t, os.WriteFile(lic, m[1], 0o600))

	var x struct {
		Policy struct {
			MinSecurityLevel int    `json:"min_security_level"`
			SourceID         int    `json:"source_id"`
			SourceIDName     string `json:"source_id_name"`
			OPL              struct {
				CompressedDigitalVideo   int `json:"compressed_digital_video"`
				UncompressedDigitalVideo int `json:"uncompressed_digital_video"`
				AnalogVideo              int `json:"analog_video"`
				CompressedDigitalAudio   int `json:"compressed_digital_audio"`
				UncompressedDigitalAudio int `json:"uncompressed_digital_audio"`
				Meaning                  map[string]string
			} `json:"opl"`
			AnalogVideo  []struct{ ID, Name string } `json:"analog_video"`
			DigitalVideo []struct{ ID, Name string } `json:"digital_video"`
			DigitalAudio []struct{ ID, Name string } `json:"digital_audio"`
			Enablers     []struct{ ID, Name string } `json:"play_enabler_names"`
		} `json:"policy"`
	}
	r = run(t, "inspect", "xmr", lic, "--json")
	require.Equal(t, 0, r.code, "%s", r)
	decode(t, r, &x)
	p := x.Policy
	// The values of the example's playready section, mapped to XMR.
	require.Equal(t, 2000, p.MinSecurityLevel)
	require.Equal(t, 258, p.SourceID)
	require.Equal(t, "DTCP", p.SourceIDName)
	require.Equal(t, [5]int{400, 500, 100, 200, 300}, [5]int{p.OPL.CompressedDigitalVideo, p.OPL.UncompressedDigitalVideo,
		p.OPL.AnalogVideo, p.OPL.CompressedDigitalAudio, p.OPL.UncompressedDigitalAudio})
	require.Len(t, p.OPL.Meaning, 5)
	require.Len(t, p.AnalogVideo, 1)
	require.Equal(t, "AGC and colour stripe", p.AnalogVideo[0].Name)
	require.Len(t, p.DigitalVideo, 1)
	require.Contains(t, p.DigitalVideo[0].Name, "HDCP type restriction")
	require.Len(t, p.DigitalAudio, 1)
	require.Equal(t, "SCMS copy bits", p.DigitalAudio[0].Name)
	require.Len(t, p.Enablers, 2)
	require.Equal(t, "unknown output (any resolution)", p.Enablers[0].Name)
	require.Equal(t, "AirPlay", p.Enablers[1].Name)

	// The text view names them too.
	r = run(t, "inspect", "xmr", lic)
	require.Equal(t, 0, r.code, "%s", r)
	for _, s := range []string{"AGC and colour stripe", "SCMS copy bits", "AirPlay", "DTCP"} {
		require.Contains(t, r.stdout, s)
	}
}
