package testmedia

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// Protection schemes (ISO/IEC 23001-7), the values of [Options.Scheme].
const (
	SchemeCENC = "cenc"
	SchemeCBCS = "cbcs"
)

// Segment count limits.
const (
	DefaultSegments = 3
	MaxSegments     = 3600 // one hour; a bound against typos, not a format limit
)

// Audio format: AAC-LC frames of 1024 samples at 48 kHz (21.3 ms).
const (
	audioRate      = 48000
	audioFrameLen  = 1024
	audioTimescale = audioRate
)

// Track names: keys of [Content.Clear] and [Content.ClearFiles], prefixes of
// the file names.
const (
	Video = "video"
	Audio = "audio"
)

// Track is the key of one track.
type Track struct {
	KID kid.ID
	// Key is the 16-byte AES content key. It is a test key: it ends up in
	// the tests and demos that use the content.
	Key [16]byte
}

// String shows the KID only.
func (t Track) String() string { return "{KID:" + t.KID.String() + " Key:REDACTED}" }

// GoString shows the KID only.
func (t Track) GoString() string { return "testmedia.Track" + t.String() }

// Options selects the content to generate. For a given Options, Generate
// writes the same bytes every time.
type Options struct {
	// Dir is the output directory; it is created if needed and existing
	// files of the same names are overwritten (others are left alone).
	Dir string
	// Scheme is SchemeCENC or SchemeCBCS.
	Scheme string
	// Video and Audio are the tracks' keys. The spec's content uses one
	// key for video and another for audio; the same KID may be given
	// for both only with the same key.
	Video, Audio Track
	// LAURL is written into each WRMHEADER's LA_URL; it must be absolute
	// (docs/formats/pro-header.md §4). Empty: no LA_URL.
	LAURL string
	// Segments is the number of 1 s media segments per track: 0 means
	// DefaultSegments, at most MaxSegments.
	Segments int
	// Seed picks the box colour and start position, the audio frame
	// sizes and the IVs.
	Seed int64
}

// Content describes generated content.
type Content struct {
	// MPD is the path of manifest.mpd; segment and init file names in it
	// are relative to its directory.
	MPD string
	// Clear maps Video and Audio to the clear sample payloads of the
	// track in decode order, over all segments: what a correct decryptor
	// must produce.
	Clear map[string][][]byte
	// ClearFiles maps Video and Audio to the path of an unencrypted
	// fragmented MP4 of the track: the clear init segment followed by the
	// clear media segments.
	ClearFiles map[string]string
}

func (o *Options) validate() error {
	if o.Dir == "" {
		return errors.New("testmedia: no output directory")
	}
	if o.Scheme != SchemeCENC && o.Scheme != SchemeCBCS {
		return errors.New("testmedia: scheme must be cenc or cbcs")
	}
	for _, t := range [...]struct {
		name string
		t    Track
	}{{Video, o.Video}, {Audio, o.Audio}} {
		if t.t.KID.IsZero() {
			return fmt.Errorf("testmedia: %s KID is all zero", t.name)
		}
		if t.t.Key == [16]byte{} {
			return fmt.Errorf("testmedia: %s key is all zero", t.name)
		}
	}
	if o.Video.KID == o.Audio.KID && o.Video.Key != o.Audio.Key {
		return errors.New("testmedia: one KID with two different keys")
	}
	if o.Segments < 0 || o.Segments > MaxSegments {
		return fmt.Errorf("testmedia: segments must be 0 to %d", MaxSegments)
	}
	return nil
}

// Generate writes protected DASH content into o.Dir (see the package doc for
// the layout) and returns the clear reference. It takes about 13 ms per
// second of content (encoding, encryption and writing to tmpfs) and writes
// about 250 kB per second: 120 kB encrypted and 120 kB clear video, a few
// kB of audio.
func Generate(o Options) (*Content, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	n := o.Segments
	if n == 0 {
		n = DefaultSegments
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("testmedia: %w", err)
	}
	// One PCG stream per track, so that the tracks do not depend on each
	// other's draws.
	v, err := videoTrack(o, rand.New(rand.NewPCG(uint64(o.Seed), 0x76696465)), n)
	if err != nil {
		return nil, err
	}
	a, err := audioTrack(o, rand.New(rand.NewPCG(uint64(o.Seed), 0x736f756e)), n)
	if err != nil {
		return nil, err
	}
	m, err := manifest(o.Scheme, []*track{v, a})
	if err != nil {
		return nil, err
	}
	c := &Content{
		MPD:        filepath.Join(o.Dir, "manifest.mpd"),
		Clear:      map[string][][]byte{Video: v.clear, Audio: a.clear},
		ClearFiles: map[string]string{Video: v.clearFile, Audio: a.clearFile},
	}
	if err := os.WriteFile(c.MPD, m, 0o644); err != nil {
		return nil, fmt.Errorf("testmedia: %w", err)
	}
	return c, nil
}

// sample is one generated media sample.
type sample struct {
	data []byte
	dur  uint32
	sync bool
}

// track is what the manifest needs to know about a written track, plus the
// clear reference.
type track struct {
	name      string // Video or Audio
	codecs    string // RFC 6381
	timescale uint32
	segDurs   []uint64 // per media segment, in timescale units
	bytes     int      // size of the encrypted media segments
	kid       kid.ID
	pssh      []byte // the `pssh` box in the init segment
	pro       []byte // the PRO inside it
	clear     [][]byte
	clearFile string
}

// videoTrack makes 1 s segments of 25 pictures, an IDR picture first.
func videoTrack(o Options, r *rand.Rand, n int) (*track, error) {
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(videoTimescale, "video", "und")
	if err := trak.SetAVCDescriptor("avc1", [][]byte{spsNALU}, [][]byte{ppsNALU}, true); err != nil {
		return nil, fmt.Errorf("testmedia: avc sample entry: %w", err)
	}
	iv := ivFor(o.Scheme, r)
	sc := newScene(r)
	var (
		enc avcEncoder
		pic picture
	)
	segs := make([][]sample, n)
	for k := range segs {
		segs[k] = make([]sample, videoFPS)
		for f := range segs[k] {
			sc.render(&pic, k*videoFPS+f)
			segs[k][f] = sample{
				data: enc.accessUnit(&pic, f, uint(k)%65536),
				dur:  frameDuration,
				sync: f == 0,
			}
		}
	}
	t := &track{name: Video, codecs: avcCodecs, timescale: videoTimescale}
	return t, t.write(o, o.Video, init, iv, segs)
}

// audioTrack makes segments of whole AAC frames: segment k ends at the first
// frame boundary at or after k seconds (47 or 46 frames; 48000/1024 is not
// an integer), as a packager cutting at frame boundaries does.
func audioTrack(o Options, r *rand.Rand, n int) (*track, error) {
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(audioTimescale, "audio", "und")
	if err := trak.SetAACDescriptor(aac.AAClc, audioRate); err != nil {
		return nil, fmt.Errorf("testmedia: aac sample entry: %w", err)
	}
	iv := ivFor(o.Scheme, r)
	segs := make([][]sample, n)
	boundary := func(k int) int { return (k*audioRate + audioFrameLen - 1) / audioFrameLen }
	for k := range segs {
		segs[k] = make([]sample, boundary(k+1)-boundary(k))
		for i := range segs[k] {
			size := minAudioFrame + r.IntN(maxAudioFrame-minAudioFrame+1)
			segs[k][i] = sample{data: aacFrame(beeping(boundary(k)+i), size), dur: audioFrameLen, sync: true}
		}
	}
	t := &track{name: Audio, codecs: "mp4a.40.2", timescale: audioTimescale}
	return t, t.write(o, o.Audio, init, iv, segs)
}

// ivFor draws the track's IV: cenc uses 8-byte per-sample IVs (CMAF, as
// shaka-packager writes), of which this is the first; cbcs a constant
// 16-byte IV (docs/formats/media.md §2, §4). It always draws 16 bytes, so
// that the scene and the frame sizes, drawn next, do not depend on the
// scheme.
func ivFor(scheme string, r *rand.Rand) []byte {
	iv := make([]byte, 16)
	fill(r, iv)
	if scheme == SchemeCENC {
		return iv[:8]
	}
	return iv
}

// write writes the track's encrypted init and media segments and its clear
// file, and fills in the rest of t.
func (t *track) write(o Options, key Track, init *mp4.InitSegment, iv []byte, segs [][]sample) error {
	clearInit, err := encode(init)
	if err != nil {
		return err
	}
	t.kid = key.KID
	if t.pro, t.pssh, err = protection(o.Scheme, key, o.LAURL); err != nil {
		return fmt.Errorf("testmedia: %s PlayReady header: %w", t.name, err)
	}
	boxes, err := mp4.PsshBoxesFromBytes(t.pssh)
	if err != nil {
		return fmt.Errorf("testmedia: pssh: %w", err)
	}
	ipd, err := mp4.InitProtect(init, key.Key[:], iv, o.Scheme, mp4.UUID(bytes.Clone(key.KID[:])), boxes)
	if err != nil {
		return fmt.Errorf("testmedia: protect %s init: %w", t.name, err)
	}
	encInit, err := encode(init)
	if err != nil {
		return err
	}
	if err := o.writeFile(t.name+"_init.mp4", encInit); err != nil {
		return err
	}
	trackID := init.Moov.Trak.Tkhd.TrackID
	clearFile := bytes.NewBuffer(clearInit)
	var decodeTime uint64
	for k, seg := range segs {
		seq := uint32(k + 1)
		// Build the fragment twice: once to write clear, once to encrypt
		// in place. (mp4ff locates sample data through trun data offsets
		// once a fragment has been encoded, which a fragment built in
		// memory has no file position for.)
		clearSeg, err := encode(fragment(seq, trackID, decodeTime, seg))
		if err != nil {
			return err
		}
		clearFile.Write(clearSeg)
		ms := fragment(seq, trackID, decodeTime, seg)
		enc, err := ipd.NewFragmentEncryptor(key.Key[:], iv)
		if err != nil {
			return fmt.Errorf("testmedia: %s encryptor: %w", t.name, err)
		}
		if err := enc.EncryptFragment(ms.Fragments[0]); err != nil {
			return fmt.Errorf("testmedia: encrypt %s segment %d: %w", t.name, seq, err)
		}
		// cenc: continue the per-sample IV sequence, so that no IV repeats
		// under the key. cbcs: the constant IV.
		iv = enc.IV()
		encSeg, err := encode(ms)
		if err != nil {
			return err
		}
		if err := o.writeFile(t.name+"_"+strconv.Itoa(k+1)+".m4s", encSeg); err != nil {
			return err
		}
		t.bytes += len(encSeg)
		var dur uint64
		for _, s := range seg {
			dur += uint64(s.dur)
			// The fragment holds its own copy of the data (mdat appends),
			// so s.data is still clear.
			t.clear = append(t.clear, s.data)
		}
		t.segDurs = append(t.segDurs, dur)
		decodeTime += dur
	}
	t.clearFile = filepath.Join(o.Dir, t.name+"_clear.mp4")
	return o.writeFile(t.name+"_clear.mp4", clearFile.Bytes())
}

// fragment returns a media segment (styp, moof, mdat) holding seg, with
// copies of the sample data.
func fragment(seq, trackID uint32, decodeTime uint64, seg []sample) *mp4.MediaSegment {
	f, _ := mp4.CreateFragment(seq, trackID) // never fails
	for i, s := range seg {
		flags := mp4.SyncSampleFlags
		if !s.sync {
			flags = mp4.SetNonSyncSampleFlags(0)
		}
		f.AddFullSample(mp4.FullSample{
			Sample:     mp4.Sample{Flags: flags, Dur: s.dur, Size: uint32(len(s.data))},
			DecodeTime: decodeTime + uint64(i)*uint64(s.dur),
			Data:       s.data,
		})
	}
	ms := mp4.NewMediaSegment()
	ms.AddFragment(f)
	return ms
}

// protection returns the PRO and the version-0 PlayReady `pssh` box for one
// track: WRMHEADER 4.0.0.0 with AESCTR and CHECKSUM for cenc, 4.3.0.0 with
// AESCBC for cbcs (docs/formats/media.md §4, docs/formats/pro-header.md §4, §6).
func protection(scheme string, t Track, laURL string) (proBytes, pssh []byte, err error) {
	h := &pro.Header{LAURL: laURL}
	switch scheme {
	case SchemeCENC:
		sum, err := pro.Checksum(pro.AlgAESCTR, t.KID, t.Key[:])
		if err != nil {
			return nil, nil, err
		}
		h.Version = pro.Version40
		h.KIDs = []pro.KeyInfo{{ID: t.KID, AlgID: pro.AlgAESCTR, Checksum: sum}}
	default:
		h.Version = pro.Version43
		h.KIDs = []pro.KeyInfo{{ID: t.KID, AlgID: pro.AlgAESCBC}}
	}
	obj, err := pro.NewObject(h)
	if err != nil {
		return nil, nil, err
	}
	proBytes = obj.Bytes()
	p := &pro.PSSH{Version: 0, SystemID: pro.SystemID(), Data: proBytes}
	return proBytes, p.Bytes(), nil
}

// encode serializes an init or media segment.
func encode(b interface{ Encode(w io.Writer) error }) ([]byte, error) {
	var buf bytes.Buffer
	if err := b.Encode(&buf); err != nil {
		return nil, fmt.Errorf("testmedia: encode: %w", err)
	}
	return buf.Bytes(), nil
}

func (o *Options) writeFile(name string, b []byte) error {
	if err := os.WriteFile(filepath.Join(o.Dir, name), b, 0o644); err != nil {
		return fmt.Errorf("testmedia: %w", err)
	}
	return nil
}

// fill fills b with pseudo-random bytes.
func fill(r *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := i; j < len(b) && j < i+8; j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
}
