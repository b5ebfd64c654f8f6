package testmedia

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Test keys with known CHECKSUMs, docs/formats/pro-header.md §8: the video pair is
// the one docs/formats/media.md §4 packages with shaka-packager (CHECKSUM 5TzIYQ2hrOY=),
// the audio pair is the header spec v4.2 example's second KID with its key
// derived from the public test key seed (CHECKSUM GnKaQIRacPU=).
var (
	testVideo = Track{KID: kid.MustParse("10000000-1000-1000-1000-100000000001"), Key: mustKey("3a2a1b68dd2bd9b2eeb25e84c4776668")}
	testAudio = Track{KID: kid.MustParse("db06a8fe-ec16-4de2-9228-2c71e9b856ab"), Key: mustKey("3179923adf3c929892951e62f93a518a")}
	checksums = map[string]string{Video: "5TzIYQ2hrOY=", Audio: "GnKaQIRacPU="}
)

const testLAURL = "http://127.0.0.1:8080/rightsmanager.asmx"

func mustKey(h string) [16]byte {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 {
		panic("bad test key")
	}
	return [16]byte(b)
}

func testOptions(dir, scheme string) Options {
	return Options{Dir: dir, Scheme: scheme, Video: testVideo, Audio: testAudio, LAURL: testLAURL, Seed: 42}
}

func trackOf(o Options, name string) Track {
	if name == Video {
		return o.Video
	}
	return o.Audio
}

func TestGenerate(t *testing.T) {
	for _, scheme := range []string{SchemeCENC, SchemeCBCS} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			o := testOptions(t.TempDir(), scheme)
			c, err := Generate(o)
			require.NoError(t, err)
			require.Equal(t, filepath.Join(o.Dir, "manifest.mpd"), c.MPD)

			m, err := mpd.ReadFromFile(c.MPD)
			require.NoError(t, err)
			require.Equal(t, mpd.STATIC_TYPE, m.GetType())
			require.NotNil(t, m.MediaPresentationDuration)
			require.InDelta(t, 3.008, m.MediaPresentationDuration.Seconds(), 1e-9)
			require.Len(t, m.Periods, 1)
			require.Len(t, m.Periods[0].AdaptationSets, 2)
			for i, name := range []string{Video, Audio} {
				as := m.Periods[0].AdaptationSets[i]
				require.EqualValues(t, name, as.ContentType)
				require.Equal(t, name+"/mp4", as.MimeType)
				require.Len(t, as.Representations, 1)
				tr := trackOf(o, name)
				psshBox, proBytes := checkContentProtection(t, as.ContentProtections, scheme, name, tr)
				checkTrack(t, c, o, name, as.Representations[0], psshBox, proBytes)
			}
		})
	}
}

// checkContentProtection checks the two descriptors and the PlayReady
// Header, and returns the pssh box and PRO from the manifest.
func checkContentProtection(t *testing.T, cps []*mpd.ContentProtectionType, scheme, name string, tr Track) (psshBox, proBytes []byte) {
	t.Helper()
	require.Len(t, cps, 2)
	require.EqualValues(t, SchemeMP4Protection, cps[0].SchemeIdUri)
	require.Equal(t, scheme, cps[0].Value)
	id, err := kid.Parse(cps[0].DefaultKID)
	require.NoError(t, err)
	require.Equal(t, tr.KID, id)

	pr := cps[1]
	require.EqualValues(t, "urn:uuid:"+pro.SystemIDString, pr.SchemeIdUri)
	require.Equal(t, "MSPR 2.0", pr.Value)
	require.NotNil(t, pr.Pssh)
	require.NotNil(t, pr.MSPro)
	psshBox, err = base64.StdEncoding.DecodeString(pr.Pssh.Value)
	require.NoError(t, err)
	proBytes, err = base64.StdEncoding.DecodeString(pr.MSPro.Value)
	require.NoError(t, err)
	p, err := pro.ParsePSSH(psshBox)
	require.NoError(t, err)
	require.Zero(t, p.Version)
	require.Equal(t, pro.SystemID(), p.SystemID)
	require.Equal(t, proBytes, p.Data)

	obj, err := pro.Parse(proBytes)
	require.NoError(t, err)
	require.Len(t, obj.Records, 1, "no ELS in a manifest PRO (header spec §4)")
	h, err := obj.Header()
	require.NoError(t, err)
	require.Equal(t, testLAURL, h.LAURL)
	require.Len(t, h.KIDs, 1)
	k := h.KIDs[0]
	require.Equal(t, tr.KID, k.ID)
	if scheme == SchemeCENC {
		require.Equal(t, pro.Version40, h.Version)
		require.Equal(t, pro.AlgAESCTR, k.AlgID)
		require.Equal(t, checksums[name], base64.StdEncoding.EncodeToString(k.Checksum))
		require.True(t, k.VerifyChecksum(tr.Key[:]))
		wrong := tr.Key
		wrong[0] ^= 1
		require.False(t, k.VerifyChecksum(wrong[:]))
	} else {
		require.Equal(t, pro.Version43, h.Version)
		require.Equal(t, pro.AlgAESCBC, k.AlgID)
		require.Nil(t, k.Checksum)
	}
	return psshBox, proBytes
}

// checkTrack decrypts every segment with mp4ff (the oracle) and compares
// with the clear reference and the clear file.
func checkTrack(t *testing.T, c *Content, o Options, name string, rep *mpd.RepresentationType, psshBox, proBytes []byte) {
	t.Helper()
	st := rep.SegmentTemplate
	require.NotNil(t, st)
	require.Equal(t, name+"_init.mp4", st.Initialization)
	require.Equal(t, name+"_$Number$.m4s", st.Media)
	require.EqualValues(t, 1, *st.StartNumber)
	require.NotNil(t, st.SegmentTimeline)
	var nSegs int
	var total uint64
	for _, s := range st.SegmentTimeline.S {
		nSegs += s.R + 1
		total += uint64(s.R+1) * s.D
	}
	require.Equal(t, DefaultSegments, nSegs)
	require.NotNil(t, st.SegmentTimeline.S[0].T)
	require.Zero(t, *st.SegmentTimeline.S[0].T)

	initFile, err := mp4.ReadMP4File(filepath.Join(o.Dir, st.Initialization))
	require.NoError(t, err)
	init := initFile.Init
	require.NotNil(t, init)
	require.Len(t, init.Moov.Traks, 1)
	require.Equal(t, *st.Timescale, init.Moov.Trak.Mdia.Mdhd.Timescale)
	require.Len(t, init.Moov.Psshs, 1)
	var b bytes.Buffer
	require.NoError(t, init.Moov.Psshs[0].Encode(&b))
	require.Equal(t, psshBox, b.Bytes(), "moov pssh = manifest pssh")
	require.Equal(t, proBytes, []byte(init.Moov.Psshs[0].Data))

	sinf := init.Moov.GetSinf(init.Moov.Trak.Tkhd.TrackID)
	require.NotNil(t, sinf)
	require.Equal(t, o.Scheme, sinf.Schm.SchemeType)
	tenc := sinf.Schi.Tenc
	tr := trackOf(o, name)
	require.Equal(t, tr.KID[:], []byte(tenc.DefaultKID))
	entry := init.Moov.Trak.Mdia.Minf.Stbl.Stsd.Children[0].Type()
	if name == Video {
		require.Equal(t, "encv", entry)
		require.Equal(t, "avc1", sinf.Frma.DataFormat)
	} else {
		require.Equal(t, "enca", entry)
		require.Equal(t, "mp4a", sinf.Frma.DataFormat)
	}
	switch {
	case o.Scheme == SchemeCENC:
		require.EqualValues(t, 8, tenc.DefaultPerSampleIVSize)
	case name == Video:
		require.Zero(t, tenc.DefaultPerSampleIVSize)
		require.Len(t, tenc.DefaultConstantIV, 16)
		require.EqualValues(t, 1, tenc.DefaultCryptByteBlock)
		require.EqualValues(t, 9, tenc.DefaultSkipByteBlock)
	default:
		require.Len(t, tenc.DefaultConstantIV, 16)
		require.Zero(t, tenc.DefaultCryptByteBlock)
		require.Zero(t, tenc.DefaultSkipByteBlock)
	}

	segs := make([]*mp4.MediaSegment, nSegs)
	for i := range segs {
		f, err := mp4.ReadMP4File(filepath.Join(o.Dir, strings.ReplaceAll(st.Media, "$Number$", strconv.Itoa(i+1))))
		require.NoError(t, err)
		require.Len(t, f.Segments, 1)
		segs[i] = f.Segments[0]
		require.NoError(t, segs[i].ParseSenc(init))
	}
	di, err := mp4.DecryptInit(init)
	require.NoError(t, err)
	keys := map[string][]byte{hex.EncodeToString(tr.KID[:]): tr.Key[:]}

	clear := c.Clear[name]
	var got [][]byte
	var duration uint64
	ivs := map[string]bool{}
	changed := 0
	for _, seg := range segs {
		require.Len(t, seg.Fragments, 1)
		frag := seg.Fragments[0]
		senc := frag.Moof.Traf.Senc
		if o.Scheme == SchemeCBCS && name == Audio {
			require.Nil(t, senc, "whole-sample cbcs with a constant IV needs no senc")
		} else {
			require.NotNil(t, senc)
		}
		fss, err := frag.GetFullSamples(di.TrackInfos[0].Trex)
		require.NoError(t, err)
		for i, fs := range fss {
			n := len(got)
			require.Less(t, n+i, len(clear))
			require.Len(t, fs.Data, len(clear[n+i]))
			if !bytes.Equal(fs.Data, clear[n+i]) {
				changed++
			}
			if senc != nil && o.Scheme == SchemeCENC {
				iv := string(senc.IVs[i])
				require.Len(t, iv, 8)
				require.False(t, ivs[iv], "cenc IV reused")
				ivs[iv] = true
			}
		}
		require.NoError(t, mp4.DecryptSegmentWithKeys(seg, di, nil, keys, true))
		fss, err = frag.GetFullSamples(di.TrackInfos[0].Trex)
		require.NoError(t, err)
		for _, fs := range fss {
			got = append(got, bytes.Clone(fs.Data))
			duration += uint64(fs.Dur)
		}
	}
	require.Equal(t, clear, got, "decrypted samples = clear reference")
	require.Equal(t, total, duration)
	// Every sample has protected bytes: video slices are far longer than
	// the clear head cenc keeps, and audio frames hold at least one whole
	// AES block (cbcs leaves a trailing partial block clear).
	require.Equal(t, len(clear), changed)

	// The clear file holds the same samples, unencrypted.
	require.Equal(t, filepath.Join(o.Dir, name+"_clear.mp4"), c.ClearFiles[name])
	cf, err := mp4.ReadMP4File(c.ClearFiles[name])
	require.NoError(t, err)
	require.Empty(t, cf.Init.Moov.Psshs)
	require.Equal(t, map[string]string{Video: "avc1", Audio: "mp4a"}[name], cf.Init.Moov.Trak.Mdia.Minf.Stbl.Stsd.Children[0].Type())
	require.Len(t, cf.Segments, nSegs)
	got = got[:0]
	for _, seg := range cf.Segments {
		for _, frag := range seg.Fragments {
			fss, err := frag.GetFullSamples(cf.Init.Moov.Mvex.Trex)
			require.NoError(t, err)
			for _, fs := range fss {
				got = append(got, fs.Data)
			}
		}
	}
	require.Equal(t, clear, got, "clear file = clear reference")
}

// Two runs with the same Options write the same bytes; another seed
// changes the media but not the init segments.
func TestDeterministic(t *testing.T) {
	for _, scheme := range []string{SchemeCENC, SchemeCBCS} {
		a, b, c := testOptions(t.TempDir(), scheme), testOptions(t.TempDir(), scheme), testOptions(t.TempDir(), scheme)
		c.Seed++
		for _, o := range []Options{a, b, c} {
			_, err := Generate(o)
			require.NoError(t, err)
		}
		files := dirFiles(t, a.Dir)
		require.Len(t, files, 11)
		again := dirFiles(t, b.Dir)
		require.Len(t, again, len(files))
		for name, want := range files {
			require.True(t, bytes.Equal(want, again[name]), "%s %s differs between runs", scheme, name)
		}
		other := dirFiles(t, c.Dir)
		for _, name := range []string{"video_1.m4s", "audio_1.m4s", "video_clear.mp4"} {
			require.False(t, bytes.Equal(files[name], other[name]), "%s %s ignores the seed", scheme, name)
		}
		// cenc init segments hold no IV; cbcs ones hold the constant IV.
		require.Equal(t, scheme == SchemeCENC, bytes.Equal(files["video_init.mp4"], other["video_init.mp4"]))
	}
}

// The clear payloads depend on the seed only, not on the scheme.
func TestClearIndependentOfScheme(t *testing.T) {
	a, err := Generate(testOptions(t.TempDir(), SchemeCENC))
	require.NoError(t, err)
	b, err := Generate(testOptions(t.TempDir(), SchemeCBCS))
	require.NoError(t, err)
	require.Equal(t, a.Clear, b.Clear)
	for _, name := range []string{Video, Audio} {
		x, err := os.ReadFile(a.ClearFiles[name])
		require.NoError(t, err)
		y, err := os.ReadFile(b.ClearFiles[name])
		require.NoError(t, err)
		require.True(t, bytes.Equal(x, y), name)
	}
}

func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	m := map[string][]byte{}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		m[e.Name()] = b
	}
	return m
}

// The manifests for the test options, as golden files (regenerate with
// -update). They document what the generated MPD looks like.
func TestGoldenManifest(t *testing.T) {
	for _, scheme := range []string{SchemeCENC, SchemeCBCS} {
		c, err := Generate(testOptions(t.TempDir(), scheme))
		require.NoError(t, err)
		got, err := os.ReadFile(c.MPD)
		require.NoError(t, err)
		golden := filepath.Join("testdata", "manifest-"+scheme+".mpd")
		if *update {
			require.NoError(t, os.WriteFile(golden, got, 0o644))
		}
		want, err := os.ReadFile(golden)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}

func TestSegments(t *testing.T) {
	o := testOptions(t.TempDir(), SchemeCENC)
	o.Segments = 9
	c, err := Generate(o)
	require.NoError(t, err)
	require.Len(t, c.Clear[Video], 9*videoFPS)
	// Audio segments end at the first frame boundary at or after each
	// second, ceil(k·48000/1024) frames: 47, 94, …, 329, 375, 422, so
	// seven segments of 47 frames, one of 46, one of 47.
	require.Len(t, c.Clear[Audio], 422)
	m, err := mpd.ReadFromFile(c.MPD)
	require.NoError(t, err)
	tl := m.Periods[0].AdaptationSets[1].Representations[0].SegmentTemplate.SegmentTimeline
	require.Len(t, tl.S, 3)
	for i, want := range []struct {
		d uint64
		r int
	}{{47 * 1024, 6}, {46 * 1024, 0}, {47 * 1024, 0}} {
		require.Equal(t, want.d, tl.S[i].D)
		require.Equal(t, want.r, tl.S[i].R)
		require.Equal(t, i == 0, tl.S[i].T != nil)
	}
	require.InDelta(t, 422*1024/48000.0, m.MediaPresentationDuration.Seconds(), 1e-3) // printed in ms
	_, err = os.Stat(filepath.Join(o.Dir, "video_9.m4s"))
	require.NoError(t, err)
}

func TestGenerateRejects(t *testing.T) {
	dir := t.TempDir()
	for name, edit := range map[string]func(*Options){
		"no dir":          func(o *Options) { o.Dir = "" },
		"scheme":          func(o *Options) { o.Scheme = "cens" },
		"zero video KID":  func(o *Options) { o.Video.KID = kid.ID{} },
		"zero audio key":  func(o *Options) { o.Audio.Key = [16]byte{} },
		"KID, two keys":   func(o *Options) { o.Audio.KID = o.Video.KID },
		"negative count":  func(o *Options) { o.Segments = -1 },
		"too many":        func(o *Options) { o.Segments = MaxSegments + 1 },
		"relative LA_URL": func(o *Options) { o.LAURL = "rightsmanager.asmx" },
	} {
		t.Run(name, func(t *testing.T) {
			o := testOptions(dir, SchemeCENC)
			edit(&o)
			c, err := Generate(o)
			require.Error(t, err)
			require.Nil(t, c)
			require.True(t, strings.HasPrefix(err.Error(), "testmedia: "), err.Error())
		})
	}
	// One KID for both tracks is fine with one key.
	o := testOptions(t.TempDir(), SchemeCBCS)
	o.Audio = o.Video
	o.LAURL = ""
	_, err := Generate(o)
	require.NoError(t, err)
}

func TestTrackRedactsKey(t *testing.T) {
	o := testOptions("x", SchemeCENC)
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%v %+v %#v %s", o.Video, o.Video, o.Video, o.Video)} {
		require.NotContains(t, s, "3a2a1b68")
		require.NotContains(t, s, "58 42 27") // decimal bytes of the key
		require.Contains(t, s, "REDACTED")
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, scheme := range []string{SchemeCENC, SchemeCBCS} {
		b.Run(scheme, func(b *testing.B) {
			o := testOptions(b.TempDir(), scheme)
			for b.Loop() {
				if _, err := Generate(o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
