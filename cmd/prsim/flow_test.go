package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/demo"
	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/wire/pro"
)

// TestCLIFlow runs the whole contract on each key backend, one prsim
// process per step: provisioning, device info, acquisition of
// non-persistent and persistent licenses, listing, playback, and the other
// header inputs.
func TestCLIFlow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		backend func(t *testing.T) string
		want    func(t *testing.T, backend string)
	}{
		{"soft", func(*testing.T) string { return "soft" }, func(t *testing.T, b string) { require.Equal(t, "soft", b) }},
		{"sim", func(*testing.T) string { return "sim" }, func(t *testing.T, b string) {
			// "sim" is recorded with its seed, so a later process can
			// re-create the same simulator.
			require.Regexp(t, `^sim:[0-9]+$`, b)
		}},
		{"swtpm", func(t *testing.T) string { return "swtpm:" + swtpmtest.Start(t) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			backend := tc.backend(t)
			flow(t, backend, tc.name == "soft", func(t *testing.T, got string) {
				if tc.want != nil {
					tc.want(t, got)
				} else {
					require.Equal(t, backend, got)
				}
			})
		})
	}
}

func flow(t *testing.T, backend string, inputs bool, checkBackend func(*testing.T, string)) {
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"
	dev := newDevice(t, pkiDir, 3000, backend)

	var info deviceOut
	okJSON(t, &info, "device", "info", "--dir", dev, "--json")
	require.Equal(t, 3000, info.SecurityLevel)
	require.Equal(t, "4.5", info.Version)
	checkBackend(t, info.Backend)
	require.Equal(t, backend != "soft", info.TPM)
	require.Equal(t, dev, info.Dir)
	require.Equal(t, 3, info.ChainLength, "leaf, model, root")
	require.Regexp(t, `^[0-9a-f]{128}$`, info.SigningKey)
	require.Regexp(t, `^[0-9a-f]{128}$`, info.EncryptionKey)
	require.NotEqual(t, info.SigningKey, info.EncryptionKey)
	require.Regexp(t, `^[0-9a-f]{32}$`, info.CertID)
	require.Equal(t, 0, info.StoredLicenses)

	cenc := genContent(t, "cenc", 1, laURL)
	cbcs := genContent(t, "cbcs", 2, laURL)

	// Non-persistent licenses (the server's default policy).
	r := run(t, "license", "acquire", "--dev", dev, "--mpd", cenc.MPD, "--json")
	require.Equal(t, 0, r.code, "%s", r)
	var acq acquireOut
	decode(t, r, &acq)
	requireLicenses(t, acq, []string{cenc.video.String(), cenc.audio.String()}, false, 150)
	// "error" is present and null, not left out.
	var raw struct {
		Licenses []map[string]json.RawMessage `json:"licenses"`
	}
	decode(t, r, &raw)
	for _, l := range raw.Licenses {
		require.Contains(t, l, "error")
		require.Equal(t, "null", string(l["error"]))
	}

	// Persistent SL2000 licenses: --url replaces LA_URL, query included.
	persistURL := laURL + "?cfg=(persist:true,sl:2000)"
	okJSON(t, &acq, "license", "acquire", "--dev", dev, "--mpd", cbcs.MPD, "--url", persistURL, "--json")
	requireLicenses(t, acq, []string{cbcs.video.String(), cbcs.audio.String()}, true, 2000)

	// A new process finds them in the store.
	var list storedOut
	okJSON(t, &list, "license", "list", "--dev", dev, "--json")
	require.Len(t, list.Licenses, 2, "only the persistent licenses are stored")
	var kids []string
	for _, l := range list.Licenses {
		kids = append(kids, l.KID)
		require.Equal(t, 2000, l.MinSecurityLevel)
		lid, err := base64.StdEncoding.DecodeString(l.LID)
		require.NoError(t, err)
		require.Len(t, lid, 16)
	}
	require.ElementsMatch(t, []string{cbcs.video.String(), cbcs.audio.String()}, kids)
	okJSON(t, &info, "device", "info", "--dir", dev, "--json")
	require.Equal(t, 2, info.StoredLicenses)

	// cenc: the licenses of the first process were not persistent, so play
	// acquires again.
	playAndCompare(t, dev, cenc, "")
	// cbcs: the stored licenses are re-bound by a new process (for sim:
	// with a simulator re-created from device.json); a license URL that
	// nothing answers proves that no acquisition is needed.
	playAndCompare(t, dev, cbcs, "http://"+freeAddr(t)+"/rightsmanager.asmx")

	if inputs {
		headerInputs(t, dev, cenc)
	}
}

// requireLicenses checks an acquisition report against the contract.
func requireLicenses(t *testing.T, acq acquireOut, kids []string, persistent bool, minSL int) {
	t.Helper()
	require.Nil(t, acq.Error)
	var got []string
	for _, l := range acq.Licenses {
		got = append(got, l.KID)
		require.True(t, l.Bound, "license %s not bound", l.KID)
		require.Equal(t, persistent, l.Persistent, l.KID)
		require.Equal(t, minSL, l.MinSecurityLevel, l.KID)
		require.Nil(t, l.Error, l.KID)
	}
	require.ElementsMatch(t, kids, got)
	for _, k := range got {
		require.Equal(t, strings.ToLower(k), k, "KIDs print lower-case")
	}
}

// playAndCompare plays c and requires that the written samples equal the
// clear source.
func playAndCompare(t *testing.T, dev string, c content, url string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out-"+c.scheme)
	args := []string{"play", "--dev", dev, "--mpd", c.MPD, "--out", out, "--json"}
	if url != "" {
		args = append(args, "--url", url)
	}
	r := run(t, args...)
	require.Equal(t, 0, r.code, "%s", r)
	var p playOut
	decode(t, r, &p)
	require.Nil(t, p.Error)
	var raw map[string]json.RawMessage
	decode(t, r, &raw)
	require.Equal(t, "null", string(raw["error"]), "play reports \"error\": null")
	require.Len(t, p.Tracks, 2)
	wantKID := map[string]string{"video": c.video.String(), "audio": c.audio.String()}
	for _, tr := range p.Tracks {
		require.Contains(t, wantKID, tr.Type)
		require.Equal(t, wantKID[tr.Type], tr.KID)
		require.Equal(t, tr.Type+".mp4", tr.Out)
		requireClearInit(t, filepath.Join(out, tr.Out))
		got, err := demo.SampleData(filepath.Join(out, tr.Out))
		require.NoError(t, err)
		want := c.Clear[tr.Type]
		require.Equal(t, len(want), tr.Samples, "%s %s samples", c.scheme, tr.Type)
		require.Len(t, got, len(want))
		for i := range want {
			require.True(t, bytes.Equal(want[i], got[i]), "%s %s sample %d differs from the clear source", c.scheme, tr.Type, i)
		}
		delete(wantKID, tr.Type)
	}
	require.Empty(t, wantKID, "missing tracks")
}

// requireClearInit checks that a played file is clear fMP4: an init
// segment without protected sample entries, sinf or pssh, and media
// segments without senc, saiz or saio.
func requireClearInit(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := mp4.DecodeFile(bytes.NewReader(b))
	require.NoError(t, err)
	require.NotNil(t, f.Init, "%s has no init segment", path)
	require.Empty(t, f.Init.Moov.Psshs, "pssh left in %s", path)
	for _, trak := range f.Init.Moov.Traks {
		for _, e := range trak.Mdia.Minf.Stbl.Stsd.Children {
			require.NotContains(t, []string{"encv", "enca"}, e.Type(), "protected sample entry left in %s", path)
			switch se := e.(type) {
			case *mp4.VisualSampleEntryBox:
				require.Nil(t, se.Sinf, "sinf left in %s", path)
			case *mp4.AudioSampleEntryBox:
				require.Nil(t, se.Sinf, "sinf left in %s", path)
			}
		}
	}
	require.NotEmpty(t, f.Segments, "%s has no media segments", path)
	for _, seg := range f.Segments {
		for _, frag := range seg.Fragments {
			for _, traf := range frag.Moof.Trafs {
				require.Nil(t, traf.Senc, "senc left in %s", path)
				require.Nil(t, traf.Saiz, "saiz left in %s", path)
				require.Nil(t, traf.Saio, "saio left in %s", path)
			}
		}
	}
}

// playReadyFromMPD returns the mspr:pro and cenc:pssh values of the first
// adaptation set (video) of a generated MPD.
func playReadyFromMPD(t *testing.T, path string) (proB64, psshB64 string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := mpd.MPDFromBytes(b)
	require.NoError(t, err)
	for _, cp := range m.Periods[0].AdaptationSets[0].ContentProtections {
		if strings.EqualFold(string(cp.SchemeIdUri), "urn:uuid:"+pro.SystemIDString) {
			require.NotNil(t, cp.MSPro)
			require.NotNil(t, cp.Pssh)
			return strings.TrimSpace(cp.MSPro.Value), strings.TrimSpace(cp.Pssh.Value)
		}
	}
	t.Fatal("no PlayReady ContentProtection in the MPD")
	return "", ""
}

// headerInputs acquires through --pro, --pssh and --header (XML, binary PRO,
// base64 PRO) with the video header of c.
func headerInputs(t *testing.T, dev string, c content) {
	proB64, psshB64 := playReadyFromMPD(t, c.MPD)
	rawPRO, err := base64.StdEncoding.DecodeString(proB64)
	require.NoError(t, err)
	h, err := pro.ParseHeaderData(rawPRO)
	require.NoError(t, err)
	xml, err := h.XML()
	require.NoError(t, err)
	dir := t.TempDir()
	files := map[string][]byte{"header.xml": []byte(xml), "header.pro": rawPRO, "header.b64": []byte(proB64)}
	for name, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	want := []string{c.video.String()}
	for _, in := range [][]string{
		{"--pro", proB64},
		{"--pssh", psshB64},
		{"--header", filepath.Join(dir, "header.xml")},
		{"--header", filepath.Join(dir, "header.pro")},
		{"--header", filepath.Join(dir, "header.b64")},
	} {
		var acq acquireOut
		okJSON(t, &acq, append([]string{"license", "acquire", "--dev", dev, "--json"}, in...)...)
		requireLicenses(t, acq, want, false, 150)
	}
	// A header without LA_URL needs --url.
	h.LAURL = ""
	bare, err := h.XML()
	require.NoError(t, err)
	bareFile := filepath.Join(dir, "bare.xml")
	require.NoError(t, os.WriteFile(bareFile, []byte(bare), 0o644))
	r := run(t, "license", "acquire", "--dev", dev, "--header", bareFile, "--json")
	require.NotEqual(t, 0, r.code, "%s", r)
	var acq acquireOut
	okJSON(t, &acq, "license", "acquire", "--dev", dev, "--header", bareFile, "--url", c.laURL(t), "--json")
	requireLicenses(t, acq, want, false, 150)
}

// laURL returns the LA_URL written into c's headers.
func (c content) laURL(t *testing.T) string {
	t.Helper()
	proB64, _ := playReadyFromMPD(t, c.MPD)
	raw, err := base64.StdEncoding.DecodeString(proB64)
	require.NoError(t, err)
	h, err := pro.ParseHeaderData(raw)
	require.NoError(t, err)
	require.NotEmpty(t, h.LAURL)
	return h.LAURL
}
