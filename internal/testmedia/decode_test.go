package testmedia

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ffmpeg returns the path of ffmpeg, or skips the test without it (fails
// under PRSIM_REQUIRE_TOOLS, which CI sets).
func ffmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("PRSIM_REQUIRE_TOOLS") != "" { //nolint:forbidigo // test-only switch
			t.Fatal("ffmpeg not installed (required: PRSIM_REQUIRE_TOOLS is set)")
		}
		t.Skip("ffmpeg not installed")
	}
	return p
}

// runFFmpeg runs ffmpeg with -v error and returns stdout; it requires
// exit 0 and nothing on stderr (no decode error, no warning).
func runFFmpeg(t *testing.T, ff string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ff, append([]string{"-hide_banner", "-nostdin", "-v", "error"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "ffmpeg %v: %s", args, stderr.String())
	require.Empty(t, stderr.String(), "ffmpeg %v printed errors", args)
	return stdout.Bytes()
}

// sceneOf is the scene Generate draws for o: the video stream draws the IV
// first, then the scene.
func sceneOf(o Options) scene {
	r := rand.New(rand.NewPCG(uint64(o.Seed), 0x76696465))
	ivFor(o.Scheme, r)
	return newScene(r)
}

// The clear video decodes with ffmpeg, without a single error, to exactly
// the rendered pictures; the clear audio decodes without errors to the
// beeps: identical channels, 984 Hz at −24 dBFS in the first 0.2 s of each
// second, digital silence elsewhere.
func TestFFmpegDecodesClear(t *testing.T) {
	ff := ffmpeg(t)
	o := testOptions(t.TempDir(), SchemeCENC)
	c, err := Generate(o)
	require.NoError(t, err)

	runFFmpeg(t, ff, "-i", c.ClearFiles[Video], "-f", "null", "-")
	raw := runFFmpeg(t, ff, "-i", c.ClearFiles[Video], "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-")
	checkPictures(t, raw, sceneOf(o), 0, DefaultSegments*videoFPS)

	runFFmpeg(t, ff, "-i", c.ClearFiles[Audio], "-f", "null", "-")
	pcm := runFFmpeg(t, ff, "-i", c.ClearFiles[Audio], "-f", "f32le", "-acodec", "pcm_f32le", "-")
	frames := len(c.Clear[Audio])
	require.Len(t, pcm, frames*audioFrameLen*2*4, "one 1024-sample stereo frame per AAC frame")
	s := make([]float32, len(pcm)/4)
	require.NoError(t, binary.Read(bytes.NewReader(pcm), binary.LittleEndian, s))
	left := make([]float64, len(s)/2)
	for i := range left {
		require.Equal(t, s[2*i], s[2*i+1], "channels differ at sample %d", i)
		left[i] = float64(s[2*i])
	}
	// The decoder's output lags the frames by one frame (the overlap-add
	// of the first window); check well inside each frame.
	for i := range frames - 1 {
		seg := left[(i+1)*audioFrameLen : (i+2)*audioFrameLen]
		peak, crossings := 0.0, 0
		for j, v := range seg {
			peak = max(peak, math.Abs(v))
			if j > 0 && seg[j-1] < 0 && v >= 0 {
				crossings++
			}
		}
		switch {
		case beeping(i) && (i == 0 || beeping(i-1)) && beeping(i+1):
			// A frame whose neighbours beep too: a steady tone.
			require.InDelta(t, 2048.0/32768, peak, 0.002, "frame %d", i)
			hz := float64(crossings) * audioRate / audioFrameLen
			require.InDelta(t, 984, hz, 50, "frame %d", i)
		case !beeping(i) && !beeping(i+1):
			require.Zero(t, peak, "frame %d is silent", i)
		}
	}
}

// checkPictures compares raw yuv420p pictures with the scene's pictures
// from number first on.
func checkPictures(t *testing.T, raw []byte, sc scene, first, n int) {
	t.Helper()
	const size = videoWidth * videoHeight * 3 / 2
	require.Len(t, raw, n*size)
	var p picture
	for i := range n {
		sc.render(&p, first+i)
		got := raw[i*size : (i+1)*size]
		require.True(t, bytes.Equal(p.y[:], got[:len(p.y)]), "luma of picture %d", first+i)
		require.True(t, bytes.Equal(p.cb[:], got[len(p.y):len(p.y)+len(p.cb)]), "Cb of picture %d", first+i)
		require.True(t, bytes.Equal(p.cr[:], got[len(p.y)+len(p.cb):]), "Cr of picture %d", first+i)
	}
}

// An independent decryptor, ffmpeg, decrypts each encrypted segment (after
// its init segment, as a DASH player fetches them) and decodes it without
// errors; the video to exactly the rendered pictures. This checks that
// mp4ff's cenc subsamples and cbcs pattern fit the real NAL units.
func TestFFmpegDecryptsSegments(t *testing.T) {
	ff := ffmpeg(t)
	for _, scheme := range []string{SchemeCENC, SchemeCBCS} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			o := testOptions(t.TempDir(), scheme)
			o.Segments = 2
			_, err := Generate(o)
			require.NoError(t, err)
			sc := sceneOf(o)
			for _, name := range []string{Video, Audio} {
				key := hex.EncodeToString(func() []byte { k := trackOf(o, name).Key; return k[:] }())
				init, err := os.ReadFile(filepath.Join(o.Dir, name+"_init.mp4"))
				require.NoError(t, err)
				for k := 1; k <= o.Segments; k++ {
					seg, err := os.ReadFile(filepath.Join(o.Dir, name+"_"+strconv.Itoa(k)+".m4s"))
					require.NoError(t, err)
					f := filepath.Join(t.TempDir(), name+".mp4")
					require.NoError(t, os.WriteFile(f, append(bytes.Clone(init), seg...), 0o644))
					if name == Audio {
						runFFmpeg(t, ff, "-decryption_key", key, "-i", f, "-f", "null", "-")
						continue
					}
					raw := runFFmpeg(t, ff, "-decryption_key", key, "-i", f, "-fps_mode", "passthrough",
						"-f", "rawvideo", "-pix_fmt", "yuv420p", "-")
					checkPictures(t, raw, sc, (k-1)*videoFPS, videoFPS)
				}
			}
		})
	}
}
