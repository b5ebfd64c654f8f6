package ree_test

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/kid"
)

// -soak (or PRSIM_SOAK=1) adds bigger and randomised variants of the
// hostile-input cases; `make soak` runs them.
var soakFlag = flag.Bool("soak", false, "run the long hostile-input variants")

func soak() bool {
	return *soakFlag || os.Getenv("PRSIM_SOAK") != "" //nolint:forbidigo // test-only switch
}

// HostileCase is one attack on playback: Apply rewrites freshly generated
// content (dir holds manifest.mpd, video_init.mp4, video_1.m4s … and the
// audio files); Play must then fail with an error that wraps Is (when set)
// and mentions each of Want.
type HostileCase struct {
	Name  string
	Soak  bool // run only in soak mode
	Apply func(t testing.TB, dir string)
	Is    error
	Want  []string
	Plays bool // hostile-looking but valid: must play
}

// HostileCases is the table of attacks. Each was a hang, a crash, unbounded
// memory or a silent skip before the limits in ree/hostile.go.
func HostileCases() []HostileCase {
	cases := []HostileCase{
		{Name: "mpd-one-byte-gt", Apply: writeMPD(">"), Is: ree.ErrMedia, Want: []string{"not well-formed"}},
		{Name: "mpd-empty", Apply: writeMPD(""), Is: ree.ErrMedia, Want: []string{"empty"}},
		{Name: "mpd-not-mpd-root", Apply: writeMPD(`<html/>`), Is: ree.ErrMedia, Want: []string{"root element is not MPD"}},
		{Name: "mpd-two-roots", Apply: editMPD(func(s string) string { return s + "<MPD/>" }), Is: ree.ErrMedia, Want: []string{"more than one root"}},
		{Name: "mpd-doctype", Apply: editMPD(func(s string) string {
			return strings.Replace(s, "<MPD", "<!DOCTYPE MPD [<!ENTITY a \"b\">]><MPD", 1)
		}), Is: ree.ErrMedia, Want: []string{"directive"}},
		{Name: "mpd-too-big", Apply: editMPD(func(s string) string {
			return strings.Replace(s, "</MPD>", "<!--"+strings.Repeat("x", ree.MaxMPDSize)+"--></MPD>", 1)
		}), Is: ree.ErrMedia, Want: []string{"more than the limit"}},
		{Name: "mpd-deep-nesting", Apply: editMPD(func(s string) string {
			return strings.Replace(s, "</MPD>", strings.Repeat("<x>", 100)+strings.Repeat("</x>", 100)+"</MPD>", 1)
		}), Is: ree.ErrMedia, Want: []string{"nest deeper"}},
		{Name: "mpd-is-dev-zero", Apply: func(t testing.TB, dir string) {
			symlink(t, "/dev/zero", filepath.Join(dir, "manifest.mpd"))
		}, Is: ree.ErrMedia, Want: []string{"not a regular file"}},
		{Name: "timeline-r-1e8", Apply: editMPD(func(s string) string {
			return strings.Replace(s, `d="90000" r="2"`, `d="90000" r="100000000"`, 1)
		}), Is: ree.ErrMedia, Want: []string{"more than the limit of 100000"}},
		{Name: "timeline-many-s", Apply: editMPD(func(s string) string {
			return strings.Replace(s, `<S t="0" d="90000" r="2"></S>`, strings.Repeat(`<S d="1" r="99999"/>`, 3), 1)
		}), Is: ree.ErrMedia, Want: []string{"more than the limit of 100000"}},
		{Name: "duration-template-count", Apply: editMPD(func(s string) string {
			s = strings.Replace(s, `mediaPresentationDuration="PT3.008S"`, `mediaPresentationDuration="PT1000000H"`, 1)
			i := strings.Index(s, "<SegmentTimeline>")
			j := strings.Index(s, "</SegmentTimeline>") + len("</SegmentTimeline>")
			s = s[:i] + s[j:]
			return strings.Replace(s, `timescale="90000"`, `timescale="90000" duration="1"`, 1)
		}), Is: ree.ErrMedia, Want: []string{"more than the limit of 100000"}},
		{Name: "template-width-999999", Apply: editMPD(func(s string) string {
			return strings.Replace(s, "video_$Number$.m4s", "video_$Number%0999999d$.m4s", 1)
		}), Is: ree.ErrMedia, Want: []string{"bad segment template"}},
		{Name: "template-long-name", Apply: editMPD(func(s string) string {
			return strings.Replace(s, "video_$Number$.m4s", strings.Repeat("v", 5000)+"$Number$.m4s", 1)
		}), Is: ree.ErrMedia, Want: []string{"longer than"}},
		{Name: "segment-symlink-dev-zero", Apply: func(t testing.TB, dir string) {
			p := filepath.Join(dir, "video_2.m4s")
			require.NoError(t, os.Remove(p))
			symlink(t, "/dev/zero", p)
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "not a regular file"}},
		{Name: "segment-fifo", Apply: func(t testing.TB, dir string) {
			p := filepath.Join(dir, "video_2.m4s")
			require.NoError(t, os.Remove(p))
			require.NoError(t, syscall.Mkfifo(p, 0o600))
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "not a regular file"}},
		{Name: "segment-empty", Apply: func(t testing.TB, dir string) {
			require.NoError(t, os.Truncate(filepath.Join(dir, "video_2.m4s"), 0))
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "empty"}},
		{Name: "segment-missing", Apply: func(t testing.TB, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "video_2.m4s")))
		}, Is: os.ErrNotExist, Want: []string{"video_2.m4s"}},
		{Name: "segment-directory", Apply: func(t testing.TB, dir string) {
			p := filepath.Join(dir, "video_2.m4s")
			require.NoError(t, os.Remove(p))
			require.NoError(t, os.Mkdir(p, 0o755))
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "not a regular file"}},
		{Name: "segment-over-64MiB", Apply: func(t testing.TB, dir string) {
			// Sparse: the size check comes before any read.
			require.NoError(t, os.Truncate(filepath.Join(dir, "video_2.m4s"), ree.MaxSegmentSize+1))
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "more than the limit"}},
		{Name: "segment-no-fragment", Apply: func(t testing.TB, dir string) {
			writeFile(t, filepath.Join(dir, "video_2.m4s"), box("free", make([]byte, 16)))
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "no media samples"}},
		{Name: "trun-huge-sample-size", Apply: func(t testing.TB, dir string) {
			setFirstTrunSampleSize(t, filepath.Join(dir, "video_2.m4s"), 0xFFFFFFF0)
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "exceed the mdat"}},
		{Name: "senc-huge-sample-count", Apply: func(t testing.TB, dir string) {
			// mp4ff sizes its IV table by sample_count: 2^28 × 24 bytes.
			p := filepath.Join(dir, "audio_2.m4s")
			b := readFile(t, p)
			i := strings.Index(string(b), "senc") - 4
			require.Positive(t, i, "no senc")
			binary.BigEndian.PutUint32(b[i+12:], 1<<28)
			writeFile(t, p, b)
		}, Is: ree.ErrMedia, Want: []string{"audio_2.m4s", "senc"}},
		{Name: "box-size-beyond-file", Apply: func(t testing.TB, dir string) {
			p := filepath.Join(dir, "video_2.m4s")
			b := readFile(t, p)
			binary.BigEndian.PutUint32(b, 0xFFFFFFFF) // the first box (styp) claims 4 GiB
			writeFile(t, p, b)
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "declares"}},
		{Name: "largesize-mdat-2^62", Apply: func(t testing.TB, dir string) {
			b := readFile(t, filepath.Join(dir, "video_2.m4s"))
			big := make([]byte, 16)
			binary.BigEndian.PutUint32(big, 1)
			copy(big[4:], "mdat")
			binary.BigEndian.PutUint64(big[8:], 1<<62)
			writeFile(t, filepath.Join(dir, "video_2.m4s"), append(b, big...))
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "declares"}},
		{Name: "nested-moov-3M", Apply: func(t testing.TB, dir string) {
			writeFile(t, filepath.Join(dir, "video_2.m4s"), nestedBoxes("moov", 3_000_000))
		}, Is: ree.ErrMedia, Want: []string{"video_2.m4s", "nest deeper than 16"}},
		{Name: "nested-sample-entries-in-init", Apply: func(t testing.TB, dir string) {
			// avc1 → moov → avc1 …: recursion through a sample entry, whose
			// children sit 78 bytes into its payload.
			inner := []byte{}
			for i := range 40 {
				if i%2 == 0 {
					inner = box("moov", inner)
				} else {
					inner = box("avc1", append(make([]byte, 78), inner...))
				}
			}
			writeFile(t, filepath.Join(dir, "video_init.mp4"), append(readFile(t, filepath.Join(dir, "video_init.mp4")), inner...))
		}, Is: ree.ErrMedia, Want: []string{"video_init.mp4", "nest deeper"}},
		{Name: "init-dev-zero", Apply: func(t testing.TB, dir string) {
			p := filepath.Join(dir, "audio_init.mp4")
			require.NoError(t, os.Remove(p))
			symlink(t, "/dev/zero", p)
		}, Is: ree.ErrMedia, Want: []string{"audio_init.mp4", "not a regular file"}},
	}
	soakCases := []HostileCase{
		{Name: "soak-nested-moov-8M", Soak: true, Apply: func(t testing.TB, dir string) {
			writeFile(t, filepath.Join(dir, "video_2.m4s"), nestedBoxes("moov", ree.MaxSegmentSize/8))
		}, Is: ree.ErrMedia, Want: []string{"nest deeper"}},
		{Name: "soak-timeline-r-maxint", Soak: true, Apply: editMPD(func(s string) string {
			return strings.Replace(s, `d="90000" r="2"`, `d="90000" r="9223372036854775807"`, 1)
		}), Is: ree.ErrMedia},
		{Name: "soak-mpd-gt-at-limit", Soak: true, Apply: editMPD(func(s string) string {
			pad := ree.MaxMPDSize - len(s) - len("<x></x>")
			return strings.Replace(s, "</MPD>", "<x>"+strings.Repeat(">", pad)+"</x></MPD>", 1)
		}), Plays: true}, // '>' in text is legal XML
	}
	// Random byte flips in the moof of a segment: each must play or fail
	// cleanly (no panic, no hang).
	for i := range 200 {
		seed := uint64(i)
		soakCases = append(soakCases, HostileCase{Name: "soak-flip-" + strconv.Itoa(i), Soak: true, Apply: func(t testing.TB, dir string) {
			p := filepath.Join(dir, "video_2.m4s")
			b := readFile(t, p)
			r := rand.New(rand.NewPCG(seed, 1))
			for range 1 + r.IntN(8) {
				b[r.IntN(min(len(b), 2048))] = byte(r.Uint32())
			}
			writeFile(t, p, b)
		}})
	}
	return append(cases, soakCases...)
}

// testSeedContent writes cenc content into dir whose video and audio keys
// are the test-seed keys of v and a, which the reference server issues.
func testSeedContent(t *testing.T, dir, laURL string, v, a kid.ID, seed int64) *testmedia.Content {
	t.Helper()
	vk, err := keyseed.Derive(keyseed.TestSeed(), v)
	require.NoError(t, err)
	ak, err := keyseed.Derive(keyseed.TestSeed(), a)
	require.NoError(t, err)
	c, err := testmedia.Generate(testmedia.Options{Dir: dir, Scheme: "cenc",
		Video: testmedia.Track{KID: v, Key: vk}, Audio: testmedia.Track{KID: a, Key: ak}, LAURL: laURL, Seed: seed})
	require.NoError(t, err)
	return c
}

func TestHostileInputFailsCleanly(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, 2000, "soft")
	v := kid.MustParse("40000000-4000-4000-4000-400000000001")
	a := kid.MustParse("40000000-4000-4000-4000-400000000002")
	for _, c := range HostileCases() {
		if c.Soak && !soak() {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "c")
			cont := testSeedContent(t, dir, e.laURL, v, a, 3)
			c.Apply(t, dir)
			out := filepath.Join(t.TempDir(), "out")
			tracks, err := d.Client.Play(context.Background(), cont.MPD, out, "")
			if c.Plays {
				require.NoError(t, err)
				require.Len(t, tracks, 2)
				return
			}
			if c.Is == nil && c.Want == nil { // may play, or fail cleanly
				if err == nil {
					require.Len(t, tracks, 2)
				}
				return
			}
			require.Error(t, err)
			if c.Is != nil {
				require.ErrorIs(t, err, c.Is)
			}
			for _, w := range c.Want {
				require.ErrorContains(t, err, w)
			}
			// No partial track is left behind to be mistaken for a good one.
			parts, _ := filepath.Glob(filepath.Join(out, "*.part"))
			require.Empty(t, parts)
		})
	}
}

// TestGreaterThanInTextPlays: a literal '>' in an MPD element's text is
// legal XML; it used to hang dash-mpd's decoder and now plays.
func TestGreaterThanInTextPlays(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, 2000, "soft")
	dir := t.TempDir()
	c := testSeedContent(t, dir, e.laURL, kid.MustParse("40000000-4000-4000-4000-400000000011"),
		kid.MustParse("40000000-4000-4000-4000-400000000012"), 4)
	editMPD(func(s string) string {
		return strings.Replace(s, "<Period", "<ProgramInformation><Title>a > b ]> c</Title></ProgramInformation><Period", 1)
	})(t, dir)
	tracks, err := d.Client.Play(context.Background(), c.MPD, t.TempDir(), "")
	require.NoError(t, err)
	require.Len(t, tracks, 2)
	for _, tr := range tracks {
		require.Equal(t, len(c.Clear[tr.Type]), tr.Samples)
	}
}

func TestHeadersFromMPDHostile(t *testing.T) {
	for name, in := range map[string]string{
		"one-byte-gt":   ">",
		"gt-after-text": "x>",
		"gt-in-root":    `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">></MPD>`,
		"no-root":       "<!-- -->",
		"not-utf8":      `<?xml version="1.0" encoding="UTF-16"?><MPD/>`,
	} {
		hs, err := ree.HeadersFromMPD([]byte(in))
		require.Error(t, err, name)
		require.Nil(t, hs, name)
		if name != "gt-in-root" { // well-formed: parses, has no header
			require.ErrorIs(t, err, ree.ErrMedia, name)
		} else {
			require.ErrorIs(t, err, ree.ErrNoHeader, name)
		}
	}
	_, err := ree.HeadersFromMPD(make([]byte, ree.MaxMPDSize+1))
	require.ErrorIs(t, err, ree.ErrMedia)
}

func TestReadLocalFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	writeFile(t, p, []byte("12345"))
	b, err := ree.ReadLocalFile(p, 5)
	require.NoError(t, err)
	require.Equal(t, "12345", string(b))
	_, err = ree.ReadLocalFile(p, 4)
	require.ErrorIs(t, err, ree.ErrMedia)
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	_, err = ree.ReadLocalFile(fifo, 5)
	require.ErrorIs(t, err, ree.ErrMedia)
	_, err = ree.ReadLocalFile("/dev/zero", 5)
	require.ErrorIs(t, err, ree.ErrMedia)
	_, err = ree.ReadLocalFile(filepath.Join(dir, "none"), 5)
	require.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
}

// --- helpers -------------------------------------------------------------

func writeMPD(s string) func(testing.TB, string) {
	return func(t testing.TB, dir string) { writeFile(t, filepath.Join(dir, "manifest.mpd"), []byte(s)) }
}

func editMPD(f func(string) string) func(testing.TB, string) {
	return func(t testing.TB, dir string) {
		p := filepath.Join(dir, "manifest.mpd")
		writeFile(t, p, []byte(f(string(readFile(t, p)))))
	}
}

func symlink(t testing.TB, target, p string) {
	t.Helper()
	_ = os.Remove(p)
	require.NoError(t, os.Symlink(target, p))
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(p, b, 0o644))
}

func box(typ string, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(b, uint32(8+len(payload)))
	copy(b[4:], typ)
	return append(b, payload...)
}

// nestedBoxes is n boxes of type typ, each the only child of the one
// before: n headers, one allocation.
func nestedBoxes(typ string, n int) []byte {
	b := make([]byte, 8*n)
	for i := range n {
		binary.BigEndian.PutUint32(b[8*i:], uint32(8*(n-i)))
		copy(b[8*i+4:], typ)
	}
	return b
}

// setFirstTrunSampleSize rewrites the size of the first sample of the
// first trun in the segment at p.
func setFirstTrunSampleSize(t testing.TB, p string, size uint32) {
	t.Helper()
	b := readFile(t, p)
	i := strings.Index(string(b), "trun") - 4
	require.Positive(t, i, "no trun")
	flags := binary.BigEndian.Uint32(b[i+8:]) & 0xFFFFFF
	require.NotZero(t, flags&0x200, "trun without sample sizes")
	off := i + 16
	if flags&0x1 != 0 {
		off += 4
	}
	if flags&0x4 != 0 {
		off += 4
	}
	if flags&0x100 != 0 {
		off += 4
	}
	binary.BigEndian.PutUint32(b[off:], size)
	writeFile(t, p, b)
}
