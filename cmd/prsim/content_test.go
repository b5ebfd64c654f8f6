package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// contentOut is the JSON of "prsim content make".
type contentOut struct {
	MPD     string `json:"mpd"`
	Scheme  string `json:"scheme"`
	Seconds int    `json:"seconds"`
	Tracks  []struct {
		Type string `json:"type"`
		KID  string `json:"kid"`
		Key  string `json:"key"`
	} `json:"tracks"`
	Cfg      string `json:"cfg"`
	LAURL    string `json:"la_url"`
	URL      string `json:"url"`
	Replaced bool   `json:"replaced"`
}

// TestContentMake makes content with "prsim content make" for each scheme,
// acquires both licenses with the one cfg URL it prints (each header names
// only its own KID, so the server must apply only the matching cfg group),
// plays it, and has ffmpeg decode the played clear files without a single
// error, with the same packets as the clear reference.
func TestContentMake(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"
	dev := newDevice(t, pkiDir, 3000, "soft")
	ffmpeg, ffErr := exec.LookPath("ffmpeg")

	seen := map[string]bool{}
	for _, scheme := range []string{"cenc", "cbcs"} {
		dir := filepath.Join(t.TempDir(), scheme)
		var c contentOut
		okJSON(t, &c, "content", "make", "--out", dir, "--scheme", scheme, "--la-url", laURL, "--seconds", "2", "--json")
		require.Equal(t, filepath.Join(dir, "manifest.mpd"), c.MPD)
		require.Equal(t, scheme, c.Scheme)
		require.Equal(t, 2, c.Seconds)
		require.Equal(t, laURL, c.LAURL)
		require.False(t, c.Replaced)
		require.Len(t, c.Tracks, 2)

		// Fresh random KIDs, keys from the public test seed, a cfg group
		// per KID, and the URL is LA_URL?cfg=….
		var groups []string
		kids := map[string]kid.ID{}
		for i, tr := range c.Tracks {
			require.Equal(t, []string{"video", "audio"}[i], tr.Type)
			id, err := kid.Parse(tr.KID)
			require.NoError(t, err)
			require.Equal(t, id.String(), tr.KID, "lower-case UUID")
			require.False(t, seen[tr.KID], "KID reused")
			seen[tr.KID] = true
			kids[tr.Type] = id
			want, err := keyseed.Derive(keyseed.TestSeed(), id)
			require.NoError(t, err)
			require.Equal(t, base64.StdEncoding.EncodeToString(want[:]), tr.Key)
			groups = append(groups, "(kid:"+tr.KID+",contentkey:"+tr.Key+")")
		}
		require.Equal(t, strings.Join(groups, ","), c.Cfg)
		require.Equal(t, laURL+"?cfg="+c.Cfg, c.URL)

		// The manifest: one PlayReady header per AdaptationSet, naming that
		// set's KID only, with the LA_URL.
		m, err := mpd.ReadFromFile(c.MPD)
		require.NoError(t, err)
		require.Len(t, m.Periods[0].AdaptationSets, 2)
		for _, as := range m.Periods[0].AdaptationSets {
			var found bool
			for _, cp := range as.ContentProtections {
				if cp.MSPro == nil {
					continue
				}
				b, err := base64.StdEncoding.DecodeString(cp.MSPro.Value)
				require.NoError(t, err)
				obj, err := pro.Parse(b)
				require.NoError(t, err)
				h, err := obj.Header()
				require.NoError(t, err)
				require.Equal(t, laURL, h.LAURL)
				require.Len(t, h.KIDs, 1)
				require.Equal(t, kids[string(as.ContentType)], h.KIDs[0].ID)
				found = true
			}
			require.True(t, found, "%s AdaptationSet has a PRO", as.ContentType)
		}

		// Without --force the directory is not touched again.
		r := run(t, "content", "make", "--out", dir, "--scheme", scheme)
		require.Equal(t, 1, r.code, "%s", r)
		require.Contains(t, r.stderr, "--force")

		// One URL for both AdaptationSets.
		var acq acquireOut
		okJSON(t, &acq, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", c.URL, "--json")
		require.Nil(t, acq.Error)
		require.Len(t, acq.Licenses, 2)
		for _, l := range acq.Licenses {
			require.Nil(t, l.Error, "license for %s", l.KID)
			require.True(t, l.Bound)
		}

		out := filepath.Join(t.TempDir(), "out")
		var p playOut
		okJSON(t, &p, "play", "--dev", dev, "--mpd", c.MPD, "--out", out, "--url", c.URL, "--json")
		require.Nil(t, p.Error)
		require.Len(t, p.Tracks, 2)
		if ffErr != nil {
			skipOrFail(t, "ffmpeg not installed")
		}
		for _, tr := range p.Tracks {
			played := filepath.Join(out, tr.Out)
			ffmpegQuiet(t, ffmpeg, "-i", played, "-f", "null", "-")
			clear := filepath.Join(dir, tr.Type+"_clear.mp4")
			require.Equal(t, streamHashes(t, ffmpeg, clear), streamHashes(t, ffmpeg, played), "%s %s", scheme, tr.Type)
		}
	}
}

// TestContentMakeText checks the human-readable output, the defaults and
// --force.
func TestContentMakeText(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "c")
	first := ok(t, "content", "make", "--out", dir, "--seconds", "1")
	lines := strings.Split(strings.TrimSpace(first), "\n")
	require.Len(t, lines, 6, first)
	require.Equal(t, "wrote "+filepath.Join(dir, "manifest.mpd")+" (cenc, 1 s)", lines[0])
	require.Regexp(t, `^video kid=[0-9a-f-]{36} key=[A-Za-z0-9+/]{22}==$`, lines[1])
	require.Regexp(t, `^audio kid=[0-9a-f-]{36} key=[A-Za-z0-9+/]{22}==$`, lines[2])
	require.Equal(t, "la_url=http://127.0.0.1:8080/rightsmanager.asmx", lines[3])
	require.Regexp(t, `^cfg=\(kid:[0-9a-f-]{36},contentkey:[A-Za-z0-9+/=]{24}\),\(kid:[0-9a-f-]{36},contentkey:[A-Za-z0-9+/=]{24}\)$`, lines[4])
	require.Equal(t, "url=http://127.0.0.1:8080/rightsmanager.asmx?"+lines[4], lines[5])
	require.FileExists(t, filepath.Join(dir, "video_1.m4s"))
	require.NoFileExists(t, filepath.Join(dir, "video_2.m4s"))

	// --force replaces the content: new KIDs, no stale segments, other
	// files kept.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "video_7.m4s"), []byte("stale"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644))
	var c contentOut
	okJSON(t, &c, "content", "make", "--out", dir, "--force", "--json")
	require.True(t, c.Replaced)
	require.Equal(t, 4, c.Seconds)
	require.NotContains(t, first, c.Tracks[0].KID)
	require.NoFileExists(t, filepath.Join(dir, "video_7.m4s"))
	require.FileExists(t, filepath.Join(dir, "video_4.m4s"))
	require.FileExists(t, filepath.Join(dir, "notes.txt"))

	for _, args := range [][]string{
		{"--seconds", "0"}, {"--seconds", "601"}, {"--scheme", "cens"}, {"--la-url", "rightsmanager.asmx"},
		{"--la-url", "ftp://host/x"},
	} {
		r := run(t, append([]string{"content", "make", "--out", filepath.Join(t.TempDir(), "x")}, args...)...)
		require.Equal(t, 1, r.code, "%s", r)
		require.Empty(t, r.stdout)
	}
}

// ffmpegQuiet runs ffmpeg at -v error and requires exit 0 and no output
// on stderr: no decode error, no warning.
func ffmpegQuiet(t *testing.T, ffmpeg string, args ...string) {
	t.Helper()
	cmd := exec.Command(ffmpeg, append([]string{"-hide_banner", "-nostdin", "-v", "error"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "ffmpeg %v: %s", args, stderr.String())
	require.Empty(t, stderr.String(), "ffmpeg %v", args)
}
