package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// TestShakaInterop plays content packaged by shaka-packager (not by prsim's
// own testmedia), cenc and cbcs with separate video and audio keys, and
// requires that every decrypted packet equals the clear ffmpeg source
// (docs/formats/media.md §4). Skipped without ffmpeg or shaka-packager, unless
// PRSIM_REQUIRE_TOOLS is set.
func TestShakaInterop(t *testing.T) {
	t.Parallel()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		skipOrFail(t, "ffmpeg not installed")
	}
	packager := shakaPackager(t)

	dir := t.TempDir()
	src := filepath.Join(dir, "src.mp4")
	// Clear 2 s A/V source (docs/formats/media.md §4, step 1).
	runTool(t, dir, ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=duration=2:size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=1000:duration=2",
		"-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "96k", src)
	want := streamHashes(t, ffmpeg, src)
	require.Len(t, want, 2, "source has one video and one audio stream")

	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"
	dev := newDevice(t, pkiDir, 3000, "sim")

	// The subtests share the device directory: they run in turn.
	for i, tc := range []struct {
		scheme, headerVersion, algID string
	}{
		{"cenc", pro.Version40, "AESCTR"},
		{"cbcs", pro.Version43, "AESCBC"},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			keys := map[string]kid.ID{
				"VIDEO": kid.MustParse(fmt.Sprintf("5a4a0000-0000-4000-8000-00000000%02d01", i)),
				"AUDIO": kid.MustParse(fmt.Sprintf("5a4a0000-0000-4000-8000-00000000%02d02", i)),
			}
			var keyArgs []string
			for _, label := range []string{"VIDEO", "AUDIO"} {
				id := keys[label]
				// Keys from the public test seed, as the reference server
				// derives them.
				k, err := keyseed.Derive(keyseed.TestSeed(), id)
				require.NoError(t, err)
				keyArgs = append(keyArgs, fmt.Sprintf("label=%s:key_id=%s:key=%s", label, hex.EncodeToString(id[:]), hex.EncodeToString(k[:])))
			}
			out := filepath.Join(dir, tc.scheme)
			require.NoError(t, os.MkdirAll(out, 0o755))
			// docs/formats/media.md §4, step 2, with one key per stream.
			runTool(t, out, packager,
				"in="+src+",stream=video,drm_label=VIDEO,init_segment=video_init.mp4,segment_template=video_$Number$.m4s",
				"in="+src+",stream=audio,drm_label=AUDIO,init_segment=audio_init.mp4,segment_template=audio_$Number$.m4s",
				"--enable_raw_key_encryption", "--keys", strings.Join(keyArgs, ","),
				"--protection_scheme", tc.scheme, "--protection_systems", "PlayReady",
				"--clear_lead", "0", "--segment_duration", "1",
				"--generate_static_live_mpd", "--mpd_output", "manifest.mpd",
				"--playready_extra_header_data", "<LA_URL>"+laURL+"</LA_URL>")
			manifest := filepath.Join(out, "manifest.mpd")

			// shaka writes both cenc:pssh and mspr:pro per adaptation
			// set, each with that stream's KID and the LA_URL.
			wantKID := map[string]string{"video": keys["VIDEO"].String(), "audio": keys["AUDIO"].String()}
			for typ, h := range shakaHeaders(t, manifest) {
				require.Contains(t, wantKID, typ)
				require.Equal(t, tc.headerVersion, h.Version)
				require.Len(t, h.KIDs, 1)
				require.Equal(t, wantKID[typ], h.KIDs[0].ID.String(), typ)
				require.Equal(t, tc.algID, h.KIDs[0].AlgID)
				require.Equal(t, laURL, h.LAURL)
			}

			played := filepath.Join(out, "played")
			var p playOut
			okJSON(t, &p, "play", "--dev", dev, "--mpd", manifest, "--out", played, "--json")
			require.Nil(t, p.Error)
			require.Len(t, p.Tracks, 2)
			for _, tr := range p.Tracks {
				require.Contains(t, wantKID, tr.Type)
				require.Equal(t, wantKID[tr.Type], tr.KID)
				require.Equal(t, tr.Type+".mp4", tr.Out)
				require.Positive(t, tr.Samples)
				requireClearInit(t, filepath.Join(played, tr.Out))
				got := streamHashes(t, ffmpeg, filepath.Join(played, tr.Out))
				require.Len(t, got, 1, "%s.mp4 holds one stream", tr.Type)
				typ := tr.Type[:1] // streamhash's type letter: v or a
				require.Contains(t, got, typ)
				require.Equal(t, want[typ], got[typ], "decrypted %s %s packets differ from the clear source", tc.scheme, tr.Type)
				delete(wantKID, tr.Type)
			}
			require.Empty(t, wantKID, "missing tracks")
		})
	}
}

// shakaPackager returns the path of the shaka-packager binary under the
// module's .tools (installed by scripts/setup; never the node wrapper,
// which always exits 0).
func shakaPackager(t *testing.T) string {
	t.Helper()
	plat := map[string]string{"linux/amd64": "linux-x64", "linux/arm64": "linux-arm64",
		"darwin/amd64": "osx-x64", "darwin/arm64": "osx-arm64"}[runtime.GOOS+"/"+runtime.GOARCH]
	if plat == "" {
		skipOrFail(t, "no shaka-packager binary for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	// The test runs in cmd/prsim; the module root is two levels up.
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	bin := filepath.Join(root, ".tools", "node_modules", "shaka-packager", "bin", "packager-"+plat)
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		skipOrFail(t, "shaka-packager not installed at %s (npm install shaka-packager@3.4.2 in .tools)", bin)
	}
	return bin
}

// runTool runs an external tool in dir and fails the test with its output
// if it does not exit 0.
func runTool(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", filepath.Base(bin), strings.Join(args, " "), out)
}

// streamHashes returns ffmpeg's per-stream SHA-256 of the packets of file,
// keyed by stream type letter ("v", "a"); a type seen twice fails.
func streamHashes(t *testing.T, ffmpeg, file string) map[string]string {
	t.Helper()
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-i", file,
		"-map", "0", "-c", "copy", "-f", "streamhash", "-hash", "sha256", "-")
	out, err := cmd.Output()
	require.NoError(t, err, "ffmpeg streamhash %s", file)
	hashes := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// "INDEX,TYPE,SHA256=HEX"
		parts := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(parts) != 3 {
			continue
		}
		require.NotContains(t, hashes, parts[1], "two %s streams in %s", parts[1], file)
		hashes[parts[1]] = parts[2]
	}
	require.NotEmpty(t, hashes, "no stream hashes for %s: %q", file, out)
	return hashes
}

// shakaHeaders returns, per adaptation set content type, the PlayReady
// header of a shaka MPD, requiring that cenc:pssh and mspr:pro are both
// present and carry the same header.
func shakaHeaders(t *testing.T, manifest string) map[string]*pro.Header {
	t.Helper()
	b, err := os.ReadFile(manifest)
	require.NoError(t, err)
	m, err := mpd.MPDFromBytes(b)
	require.NoError(t, err)
	require.Len(t, m.Periods, 1)
	out := map[string]*pro.Header{}
	for _, as := range m.Periods[0].AdaptationSets {
		typ := string(as.ContentType)
		var found bool
		for _, cp := range as.ContentProtections {
			if !strings.EqualFold(string(cp.SchemeIdUri), "urn:uuid:"+pro.SystemIDString) {
				continue
			}
			found = true
			require.NotNil(t, cp.Pssh, "%s: shaka wrote no cenc:pssh", typ)
			require.NotNil(t, cp.MSPro, "%s: shaka wrote no mspr:pro", typ)
			rawPSSH, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cp.Pssh.Value))
			require.NoError(t, err)
			ps, err := pro.ParsePSSH(rawPSSH)
			require.NoError(t, err)
			require.True(t, ps.IsPlayReady())
			fromPSSH, err := pro.ParseHeaderData(ps.Data)
			require.NoError(t, err)
			rawPRO, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cp.MSPro.Value))
			require.NoError(t, err)
			fromPRO, err := pro.ParseHeaderData(rawPRO)
			require.NoError(t, err)
			require.Equal(t, fromPRO, fromPSSH, "%s: pssh and mspr:pro disagree", typ)
			out[typ] = fromPRO
		}
		require.True(t, found, "%s adaptation set has no PlayReady ContentProtection", typ)
	}
	require.Len(t, out, 2)
	return out
}
