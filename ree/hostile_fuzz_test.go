package ree

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/kid"
)

// fakeKey stands in for a TEE key in the fuzz targets: it checks the
// subsample ranges as the TEE does and XORs the protected bytes.
type fakeKey struct{}

func (fakeKey) DecryptCENC(sample, iv []byte, subs []tee.Subsample) error {
	return fakeRanges(sample, iv, subs)
}

func (fakeKey) DecryptCBCS(sample, iv []byte, subs []tee.Subsample, _ tee.Pattern) error {
	return fakeRanges(sample, iv, subs)
}

var errFakeRange = errors.New("fake: subsamples exceed the sample")

func fakeRanges(sample, iv []byte, subs []tee.Subsample) error {
	if len(iv) != 8 && len(iv) != 16 {
		return errFakeRange
	}
	if len(subs) == 0 {
		for i := range sample {
			sample[i] ^= 0x5a
		}
		return nil
	}
	off := uint64(0)
	for _, s := range subs {
		off += uint64(s.Clear)
		end := off + uint64(s.Protected)
		if end > uint64(len(sample)) {
			return errFakeRange
		}
		for i := off; i < end; i++ {
			sample[i] ^= 0x5a
		}
		off = end
	}
	return nil
}

// segmentFuzzInit generates cenc content and returns its video init's
// decryption info, a fake key for its track and the content directory.
func segmentFuzzInit(f *testing.F) (mp4.DecryptInfo, map[uint32]*trackKey, string) {
	dir := f.TempDir()
	v := kid.MustParse("50000000-5000-5000-5000-500000000001")
	a := kid.MustParse("50000000-5000-5000-5000-500000000002")
	_, err := testmedia.Generate(testmedia.Options{Dir: dir, Scheme: "cenc", Segments: 2,
		Video: testmedia.Track{KID: v, Key: [16]byte{1}}, Audio: testmedia.Track{KID: a, Key: [16]byte{2}}})
	require.NoError(f, err)
	b, err := os.ReadFile(filepath.Join(dir, "video_init.mp4"))
	require.NoError(f, err)
	init, err := decodeMP4(b, "init")
	require.NoError(f, err)
	di, err := mp4.DecryptInit(init.Init)
	require.NoError(f, err)
	keys := map[uint32]*trackKey{}
	for _, ti := range di.TrackInfos {
		tenc := ti.Sinf.Schi.Tenc
		keys[ti.TrackID] = &trackKey{dec: fakeKey{}, scheme: "cenc", tenc: tenc}
	}
	return di, keys, dir
}

// FuzzPlaySegment: media segments are untrusted. Each input is checked,
// decoded, decrypted (through a fake key) and re-encoded as Play does; it
// must fail with ErrMedia (or the key's range error), never panic, hang
// or allocate beyond its size. Seeds: generated segments and the committed
// corpus (the crashers of ree/hostile_test.go in small form).
func FuzzPlaySegment(f *testing.F) {
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzPlaySegment/*")
	if len(corpus) == 0 {
		f.Fatal("no seeds: testdata/fuzz/FuzzPlaySegment must be committed")
	}
	di, keys, dir := segmentFuzzInit(f)
	for _, name := range []string{"audio_1.m4s", "audio_2.m4s"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := decodeMP4(b, "segment")
		if err != nil {
			require.ErrorIs(t, err, ErrMedia)
			require.Nil(t, sf)
			return
		}
		_, _, err = writeSegmentsUntil(sf.Segments, di, keys, io.Discard, stopPoint{})
		if err != nil && !errors.Is(err, ErrMedia) && !errors.Is(err, errFakeRange) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// FuzzSegmentList: an MPD's segment list is built only within the limits,
// whatever the timeline, duration or template says.
func FuzzSegmentList(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.mpd")
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzSegmentList/*")
	if len(files) == 0 || len(corpus) == 0 {
		f.Fatal("no seeds: testdata/*.mpd and testdata/fuzz/FuzzSegmentList must be committed")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMPD(context.Background(), b)
		if err != nil {
			require.NotErrorIs(t, err, errParserStuck)
			return
		}
		for _, p := range m.Periods {
			for _, as := range p.AdaptationSets {
				for _, r := range as.Representations {
					tf, err := segmentFiles(m, p, as, r, "/content")
					if err != nil {
						require.ErrorIs(t, err, ErrMedia)
						continue
					}
					require.LessOrEqual(t, len(tf.media), MaxSegments)
					for _, s := range tf.media {
						require.LessOrEqual(t, len(s), maxSegmentPath)
					}
				}
			}
		}
	})
}
