package ree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// Track reports one played (decrypted) track.
type Track struct {
	Type    string // "video", "audio" or "text"
	KID     kid.ID // zero for a clear track
	Samples int
	Out     string // file name inside the output directory
	// Decision is the TEE's output decision that released the track's
	// decryptor; nil for a clear track.
	Decision *policy.Decision
	// SecureStopSession is the secure-stop session the track's key opened
	// in the TEE (docs/protocol.md §11); nil when its license has none.
	// Tracks sharing a key share the session.
	SecureStopSession *[16]byte
	// Stopped says playback stopped at the [WithStopAfter] point before
	// the end of the track.
	Stopped bool
}

// PlayOption changes how [Client.Play] plays.
type PlayOption func(*playConfig)

type playConfig struct {
	strategy  policy.Strategy
	stopAfter time.Duration
	noSend    bool
	onSent    func(SendResult, error)
}

// WithStopAfter stops playback at media time d, as a user pressing stop:
// in each track the first fragment that starts at or after d is not
// decrypted, nor any after it. d <= 0 plays to the end.
func WithStopAfter(d time.Duration) PlayOption {
	return func(c *playConfig) { c.stopAfter = d }
}

// WithSecureStopReport makes fn learn what sending the play's secure stops
// did ([Client.SendSecureStops]); it is not called when the play opened no
// secure-stop session.
func WithSecureStopReport(fn func(SendResult, error)) PlayOption {
	return func(c *playConfig) { c.onSent = fn }
}

// WithoutSecureStopSend keeps the play's stopped sessions pending in the
// TEE instead of sending them at the end ([Client.SendSecureStops] sends
// them later).
func WithoutSecureStopSend() PlayOption {
	return func(c *playConfig) { c.noSend = true }
}

// WithStrategy sets what the TEE does with an output the license's policy
// fails: block that output (policy.StrategyBlock, the default) or refuse
// playback (policy.StrategyRefuse).
func WithStrategy(s policy.Strategy) PlayOption {
	return func(c *playConfig) { c.strategy = s }
}

// DecisionError is a track whose decryptor the TEE did not release: its
// policy decision refused playback on this platform. It wraps the TEE's
// error (and so the DRM code).
type DecisionError struct {
	Type     string // the track's type
	Decision policy.Decision
	Err      error
}

func (e *DecisionError) Error() string { return fmt.Sprintf("ree: %s track: %v", e.Type, e.Err) }

func (e *DecisionError) Unwrap() error { return e.Err }

// ErrMedia is returned for media prsim cannot read.
var ErrMedia = errors.New("ree: unsupported or malformed media")

// Play decrypts every adaptation set of a local DASH MPD (first
// Representation of each) into outDir/<type>.mp4: the clear init segment
// followed by every media segment. Licenses come from the session, the
// store, or an acquisition (laURL overrides the header's LA_URL).
//
// Before a track decrypts, the TEE decides its outputs for the device's
// platform under the strategy (WithStrategy); the decision is reported in
// Track.Decision, and a refusal is a [*DecisionError].
//
// When playback ends (end of media, [WithStopAfter], an error or a
// cancelled ctx) every key that opened a secure-stop session is closed:
// the TEE records the stop and wipes the key in one step. The play's
// stopped sessions are then sent to its license URL (laURL, else the
// header's LA_URL), unless [WithoutSecureStopSend]; a failed send leaves
// them pending and does not fail the play ([WithSecureStopReport] learns
// of it).
func (c *Client) Play(ctx context.Context, mpdPath, outDir, laURL string, opts ...PlayOption) ([]Track, error) {
	var pc playConfig
	for _, o := range opts {
		o(&pc)
	}
	ss := &playSessions{}
	defer c.endSessions(ctx, ss, pc)
	data, err := ReadLocalFile(mpdPath, MaxMPDSize)
	if err != nil {
		return nil, err
	}
	m, err := parseMPD(ctx, data)
	if err != nil {
		return nil, err
	}
	if len(m.Periods) == 0 {
		return nil, fmt.Errorf("ree: MPD has no Period: %w", ErrMedia)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	base := filepath.Dir(mpdPath)
	p := m.Periods[0]
	used := map[string]int{}
	var tracks []Track
	for _, as := range p.AdaptationSets {
		if err := stopped(ctx); err != nil {
			return tracks, err
		}
		if len(as.Representations) == 0 {
			continue
		}
		typ := contentType(as)
		name := typ + ".mp4"
		if n := used[typ]; n > 0 {
			name = fmt.Sprintf("%s-%d.mp4", typ, n)
		}
		used[typ]++
		h, herr := adaptationHeader(m, p, as)
		if herr != nil && !errors.Is(herr, ErrNoHeader) {
			return tracks, herr
		}
		files, err := segmentFiles(m, p, as, as.Representations[0], base)
		if err != nil {
			return tracks, err
		}
		tr, err := c.playTrack(ctx, files, h, laURL, filepath.Join(outDir, name), streamOf(typ), &pc, ss)
		if de := (*DecisionError)(nil); errors.As(err, &de) {
			de.Type = typ
		}
		if err != nil {
			return tracks, err
		}
		tr.Type, tr.Out = typ, name
		tracks = append(tracks, tr)
	}
	if len(tracks) == 0 {
		return nil, fmt.Errorf("ree: MPD has no playable adaptation set: %w", ErrMedia)
	}
	return tracks, nil
}

// streamOf is the stream a track's decryptor serves, as the TEE's policy
// engine distinguishes them.
func streamOf(typ string) policy.Stream {
	switch typ {
	case "video":
		return policy.Video
	case "audio":
		return policy.Audio
	}
	return policy.AllStreams
}

func contentType(as *mpd.AdaptationSetType) string {
	t := string(as.ContentType)
	mime := as.MimeType
	if mime == "" && len(as.Representations) > 0 {
		mime = as.Representations[0].MimeType
	}
	if t == "" {
		t, _, _ = strings.Cut(mime, "/")
	}
	switch t {
	case "video", "audio", "text":
		return t
	}
	return "track"
}

// trackFiles are the local files of one representation.
type trackFiles struct {
	init  string   // init segment, or the whole track for a single file
	media []string // media segments; none for a single file
	dir   string   // what segment names in errors are relative to
}

// segName names a segment file in errors: its path relative to the MPD.
func (tf trackFiles) segName(path string) string {
	if rel, err := filepath.Rel(tf.dir, path); err == nil {
		return rel
	}
	return path
}

// playTrack decrypts init + segments into out, one segment in memory at a
// time. The output is written to out.part and renamed once complete, so a
// failure leaves no partial track behind.
func (c *Client) playTrack(ctx context.Context, files trackFiles, h *pro.Header, laURL, out string, stream policy.Stream, pc *playConfig, ss *playSessions) (tr Track, err error) {
	single := len(files.media) == 0
	limit := int64(MaxInitSize)
	if single {
		limit = MaxSegmentSize
	}
	initData, err := ReadLocalFile(files.init, limit)
	if err != nil {
		return tr, err
	}
	initName := files.segName(files.init)
	f, err := decodeMP4(initData, fmt.Sprintf("init segment %q", initName))
	if err != nil {
		return tr, err
	}
	if f.Init == nil {
		return tr, fmt.Errorf("ree: init segment %q has no moov: %w", initName, ErrMedia)
	}
	var di mp4.DecryptInfo
	if err := recoverParse("init segment", func() error {
		var derr error
		di, derr = mp4.DecryptInit(f.Init)
		return derr
	}); err != nil {
		return tr, fmt.Errorf("ree: init segment %q protection: %w", initName, ErrMedia)
	}
	keys := map[uint32]*trackKey{}
	for _, ti := range di.TrackInfos {
		if ti.Sinf == nil {
			continue
		}
		tk, err := c.trackKey(ctx, ti, h, laURL)
		if err != nil {
			return tr, err
		}
		// The TEE releases the decryptor only on a decision for its
		// platform; nothing is written before it. A secure-stop session
		// opens here, before the first sample.
		dec, err := tk.key.Enable(stream, pc.strategy)
		if id, ok := tk.key.SecureStopSession(); ok {
			ss.add(tk.key, laURL, h)
			tr.SecureStopSession = &id
		}
		if err != nil {
			return tr, &DecisionError{Decision: dec, Err: err}
		}
		keys[ti.TrackID] = tk
		tr.KID = tk.key.KID()
		tr.Decision = &dec
	}
	stop := stopPoint{at: pc.stopAfter, timescales: timescales(f.Init)}
	part := out + ".part"
	w, err := os.Create(part)
	if err != nil {
		return tr, fmt.Errorf("ree: %w", err)
	}
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("ree: %w", cerr)
		}
		if err == nil {
			err = os.Rename(part, out)
		}
		if err != nil {
			_ = os.Remove(part)
		}
	}()
	if err := recoverParse("init segment", func() error { return f.Init.Encode(w) }); err != nil {
		return tr, fmt.Errorf("ree: init segment %q: %w", initName, err)
	}
	if single {
		// A single-file (SegmentBase) track carries its fragments here.
		n, halted, err := writeSegmentsUntil(f.Segments, di, keys, w, stop)
		if err != nil {
			return tr, fmt.Errorf("ree: %q: %w", initName, err)
		}
		tr.Stopped = halted
		if n == 0 && !halted {
			return tr, fmt.Errorf("ree: %q has no media samples: %w", initName, ErrMedia)
		}
		tr.Samples = n
		return tr, nil
	}
	for _, path := range files.media {
		if err := stopped(ctx); err != nil {
			return tr, err
		}
		name := files.segName(path)
		b, err := ReadLocalFile(path, MaxSegmentSize)
		if err != nil {
			return tr, fmt.Errorf("ree: media segment %q: %w", name, err)
		}
		sf, err := decodeMP4(b, fmt.Sprintf("media segment %q", name))
		if err != nil {
			return tr, err
		}
		n, halted, err := writeSegmentsUntil(sf.Segments, di, keys, w, stop)
		if err != nil {
			return tr, fmt.Errorf("ree: media segment %q: %w", name, err)
		}
		tr.Samples += n
		if halted {
			tr.Stopped = true
			break
		}
		if n == 0 {
			return tr, fmt.Errorf("ree: media segment %q has no media samples: %w", name, ErrMedia)
		}
	}
	return tr, nil
}

// stopped reports a cancelled ctx, naming the cause (e.g. the signal).
func stopped(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ree: playback stopped (%v): %w", context.Cause(ctx), err)
	}
	return nil
}

// writeSegmentsUntil decrypts segs in place and writes them to w; it
// returns the number of samples. It stops before the first fragment at or
// after the stop point (halted): that fragment and those after it are
// neither decrypted nor written. mp4ff panics on some malformed boxes:
// those become ErrMedia.
func writeSegmentsUntil(segs []*mp4.MediaSegment, di mp4.DecryptInfo, keys map[uint32]*trackKey, w io.Writer, stop stopPoint) (total int, halted bool, err error) {
	err = recoverParse("media segment", func() error {
		for _, seg := range segs {
			for i, frag := range seg.Fragments {
				reached, err := stop.reached(frag)
				if err != nil {
					return err
				}
				if reached {
					seg.Fragments, halted = seg.Fragments[:i], true
					break
				}
				n, err := decryptFragment(frag, di, keys)
				if err != nil {
					return err
				}
				total += n
			}
			if halted && len(seg.Fragments) == 0 {
				return nil // stopped before this segment's first fragment
			}
			// sidx sizes no longer hold once encryption boxes are gone.
			seg.Sidx, seg.Sidxs = nil, nil
			if err := seg.Encode(w); err != nil {
				return fmt.Errorf("ree: %w", err)
			}
			if halted {
				return nil
			}
		}
		return nil
	})
	return total, halted, err
}

// stopPoint is where [WithStopAfter] stops a track: at media time at,
// read from each fragment's tfdt in its track's timescale.
type stopPoint struct {
	at         time.Duration // <= 0: play to the end
	timescales map[uint32]uint32
}

// timescales maps the init segment's track IDs to their media timescales.
func timescales(init *mp4.InitSegment) map[uint32]uint32 {
	out := map[uint32]uint32{}
	if init == nil || init.Moov == nil {
		return out
	}
	for _, trak := range init.Moov.Traks {
		if trak.Tkhd != nil && trak.Mdia != nil && trak.Mdia.Mdhd != nil {
			out[trak.Tkhd.TrackID] = trak.Mdia.Mdhd.Timescale
		}
	}
	return out
}

// reached reports whether frag starts at or after the stop point. A
// fragment whose start cannot be read is an error when a stop point is
// set: playing past the point the user stopped at is not an option.
func (s stopPoint) reached(frag *mp4.Fragment) (bool, error) {
	if s.at <= 0 {
		return false, nil
	}
	if frag.Moof == nil || len(frag.Moof.Trafs) == 0 || frag.Moof.Trafs[0].Tfhd == nil || frag.Moof.Trafs[0].Tfdt == nil {
		return false, fmt.Errorf("ree: a fragment without tfdt: its media time is unknown, so playback cannot stop at %v: %w", s.at, ErrMedia)
	}
	traf := frag.Moof.Trafs[0]
	ts := s.timescales[traf.Tfhd.TrackID]
	if ts == 0 {
		return false, fmt.Errorf("ree: a fragment of a track without a media timescale: playback cannot stop at %v: %w", s.at, ErrMedia)
	}
	// start/ts >= at/1e9 s, compared as 128-bit products (no overflow).
	hi1, lo1 := bits.Mul64(traf.Tfdt.BaseMediaDecodeTime(), uint64(time.Second))
	hi2, lo2 := bits.Mul64(uint64(s.at), uint64(ts))
	return hi1 > hi2 || (hi1 == hi2 && lo1 >= lo2), nil
}

// sampleDecrypter is what decryptFragment needs of a key: *tee.Key, or a
// stand-in in the fuzz tests.
type sampleDecrypter interface {
	DecryptCENC(sample, iv []byte, subs []tee.Subsample) error
	DecryptCBCS(sample, iv []byte, subs []tee.Subsample, pat tee.Pattern) error
}

type trackKey struct {
	key     *tee.Key
	dec     sampleDecrypter // key, as used by decryptFragment
	scheme  string
	tenc    *mp4.TencBox
	pattern tee.Pattern
}

func (c *Client) trackKey(ctx context.Context, ti mp4.DecryptTrackInfo, h *pro.Header, laURL string) (*trackKey, error) {
	tenc := ti.Sinf.Schi.Tenc
	if tenc == nil || ti.Sinf.Schm == nil {
		return nil, fmt.Errorf("ree: protected track without tenc: %w", ErrMedia)
	}
	scheme := ti.Sinf.Schm.SchemeType
	if scheme != "cenc" && scheme != "cbcs" {
		return nil, fmt.Errorf("ree: protection scheme %q not supported: %w", scheme, ErrMedia)
	}
	id, err := kid.FromBytes(tenc.DefaultKID)
	if err != nil {
		return nil, fmt.Errorf("ree: bad tenc KID: %w", ErrMedia)
	}
	// Some packagers write an all-zero tenc KID; the header's single KID
	// names the key then (docs/formats/media.md §2).
	if id.IsZero() && h != nil && len(h.KIDs) == 1 {
		id = h.KIDs[0].ID
	}
	k, err := c.Key(id)
	// A stored license refused because the secure clock needs a sync is
	// tried again after the sync License Server Time defines, once.
	if errors.Is(err, drm.ErrSecureTimeClockNotSet) && h != nil {
		u := laURL
		if u == "" {
			u = h.LAURL
		}
		if _, serr := c.SyncClock(ctx, u); serr != nil {
			return nil, fmt.Errorf("%w (the clock sync that followed failed: %v)", err, serr)
		}
		k, err = c.Key(id)
	}
	// A stored license License Server Time asks to re-acquire is replaced
	// by a fresh one (Key deleted it).
	if (errors.Is(err, drm.ErrLicenseNotFound) || reacquirable(err)) && h != nil {
		res, aerr := c.Acquire(ctx, h, laURL)
		if aerr != nil {
			return nil, aerr
		}
		k, err = c.Key(id)
		if err != nil {
			for _, r := range res {
				if r.KID == id && r.Err != nil {
					return nil, r.Err
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if h != nil {
		for _, ki := range h.KIDs {
			if ki.ID == id && ki.AlgID != "AESCBC" {
				alg := ki.AlgID
				if alg == "" {
					alg = "AESCTR"
				}
				if err := k.VerifyChecksum(alg, ki.Checksum); err != nil {
					return nil, err
				}
			}
		}
	}
	return &trackKey{key: k, dec: k, scheme: scheme, tenc: tenc,
		pattern: tee.Pattern{Crypt: tenc.DefaultCryptByteBlock, Skip: tenc.DefaultSkipByteBlock}}, nil
}

func findTrack(di mp4.DecryptInfo, id uint32) (mp4.DecryptTrackInfo, bool) {
	for _, ti := range di.TrackInfos {
		if ti.TrackID == id {
			return ti, true
		}
	}
	return mp4.DecryptTrackInfo{}, false
}

// decryptFragment decrypts each protected traf of frag in place through its
// TEE key, then removes the encryption boxes and fixes the data offsets.
func decryptFragment(frag *mp4.Fragment, di mp4.DecryptInfo, keys map[uint32]*trackKey) (int, error) {
	moof := frag.Moof
	if moof == nil {
		return 0, fmt.Errorf("ree: fragment without moof: %w", ErrMedia)
	}
	total := 0
	var removed uint64
	for _, traf := range moof.Trafs {
		if traf.Tfhd == nil {
			return 0, fmt.Errorf("ree: traf without tfhd: %w", ErrMedia)
		}
		ti, ok := findTrack(di, traf.Tfhd.TrackID)
		if !ok {
			return 0, fmt.Errorf("ree: fragment for unknown track: %w", ErrMedia)
		}
		samples, err := fragmentSamples(frag, traf, ti.Trex)
		if err != nil {
			return 0, fmt.Errorf("ree: %w", err)
		}
		total += len(samples)
		tk := keys[ti.TrackID]
		if tk == nil {
			continue // clear track
		}
		hasSenc, parsed := traf.ContainsSencBox()
		if hasSenc && !parsed {
			if err := traf.ParseReadSenc(tk.tenc.DefaultPerSampleIVSize, moof.StartPos); err != nil {
				return 0, fmt.Errorf("ree: senc: %w", ErrMedia)
			}
		}
		senc := traf.Senc
		if senc == nil && traf.UUIDSenc != nil {
			senc = traf.UUIDSenc.Senc
		}
		if senc == nil && len(tk.tenc.DefaultConstantIV) == 0 {
			return 0, fmt.Errorf("ree: protected fragment without senc: %w", ErrMedia)
		}
		for i := range samples {
			iv := tk.tenc.DefaultConstantIV
			var subs []tee.Subsample
			if senc != nil {
				if len(senc.IVs) == len(samples) && len(senc.IVs[i]) > 0 {
					iv = senc.IVs[i]
				}
				if len(senc.SubSamples) == len(samples) {
					for _, s := range senc.SubSamples[i] {
						subs = append(subs, tee.Subsample{Clear: uint32(s.BytesOfClearData), Protected: s.BytesOfProtectedData})
					}
				}
			}
			if tk.scheme == "cenc" {
				err = tk.dec.DecryptCENC(samples[i].Data, iv, subs)
			} else {
				err = tk.dec.DecryptCBCS(samples[i].Data, iv, subs, tk.pattern)
			}
			if err != nil {
				return 0, err
			}
		}
		removed += traf.RemoveEncryptionBoxes()
	}
	_, n := moof.RemovePsshs()
	removed += n
	for _, traf := range moof.Trafs {
		for _, trun := range traf.Truns {
			trun.DataOffset -= int32(removed)
		}
	}
	if frag.Mdat.StartPos > moof.StartPos {
		frag.Mdat.StartPos -= removed
	}
	return total, nil
}

// segmentFiles lists the init segment and the media segments of a
// representation, resolved against the MPD's directory and BaseURLs. The
// count is checked against MaxSegments before any list is built.
func segmentFiles(m *mpd.MPD, p *mpd.Period, as *mpd.AdaptationSetType, r *mpd.RepresentationType, mpdDir string) (trackFiles, error) {
	dir := mpdDir
	for _, bl := range [][]*mpd.BaseURLType{m.BaseURL, p.BaseURLs, as.BaseURLs, r.BaseURLs} {
		if len(bl) > 0 {
			u := string(bl[0].Value)
			if strings.Contains(u, "://") {
				return trackFiles{}, fmt.Errorf("ree: remote BaseURL not supported (local MPD only): %w", ErrMedia)
			}
			if filepath.IsAbs(u) {
				dir = u
			} else {
				dir = filepath.Join(dir, u)
			}
		}
	}
	st := r.SegmentTemplate
	if st == nil {
		st = as.SegmentTemplate
	}
	if st == nil {
		st = p.SegmentTemplate
	}
	if st == nil {
		// Single file: the BaseURL names init and fragments in one.
		if len(r.BaseURLs) > 0 {
			return trackFiles{init: dir, dir: mpdDir}, nil
		}
		return trackFiles{}, fmt.Errorf("ree: representation has no SegmentTemplate or BaseURL: %w", ErrMedia)
	}
	subst := func(tmpl string, number, t uint64) (string, error) {
		return expandTemplate(tmpl, r.Id, r.Bandwidth, number, t)
	}
	init, err := subst(st.Initialization, 0, 0)
	if err != nil {
		return trackFiles{}, err
	}
	tf := trackFiles{init: filepath.Join(dir, init), dir: mpdDir}
	number := uint64(1)
	if st.StartNumber != nil {
		number = uint64(*st.StartNumber)
	}
	add := func(t uint64) error {
		name, err := subst(st.Media, number, t)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, name)
		if len(path) > maxSegmentPath {
			return fmt.Errorf("ree: media segment path longer than %d bytes: %w", maxSegmentPath, ErrMedia)
		}
		tf.media = append(tf.media, path)
		number++
		return nil
	}
	tooMany := func(n string) error {
		return fmt.Errorf("ree: representation has %s media segments, more than the limit of %d: %w", n, MaxSegments, ErrMedia)
	}
	switch {
	case st.SegmentTimeline != nil:
		count := 0
		for _, s := range st.SegmentTimeline.S {
			if s.R < 0 || s.D == 0 {
				return trackFiles{}, fmt.Errorf("ree: open-ended SegmentTimeline not supported: %w", ErrMedia)
			}
			if s.R >= MaxSegments || count+s.R+1 > MaxSegments {
				return trackFiles{}, tooMany("over " + strconv.Itoa(MaxSegments))
			}
			count += s.R + 1
		}
		t := uint64(0)
		for _, s := range st.SegmentTimeline.S {
			if s.T != nil {
				t = *s.T
			}
			for range s.R + 1 {
				if err := add(t); err != nil {
					return trackFiles{}, err
				}
				t += s.D
			}
		}
	case st.Duration != nil && *st.Duration > 0:
		dur := m.MediaPresentationDuration
		if p.Duration != nil {
			dur = p.Duration
		}
		if dur == nil || *dur <= 0 {
			return trackFiles{}, fmt.Errorf("ree: no presentation duration for a duration-based template: %w", ErrMedia)
		}
		ts := float64(st.GetTimescale())
		c := math.Ceil(float64(*dur) / 1e9 * ts / float64(*st.Duration))
		if !(c <= MaxSegments) { // also NaN
			return trackFiles{}, tooMany(strconv.FormatFloat(c, 'g', 3, 64))
		}
		for i := range int(c) {
			if err := add(uint64(i) * uint64(*st.Duration)); err != nil {
				return trackFiles{}, err
			}
		}
	default:
		return trackFiles{}, fmt.Errorf("ree: SegmentTemplate without timeline or duration: %w", ErrMedia)
	}
	if len(tf.media) == 0 {
		return trackFiles{}, fmt.Errorf("ree: representation lists no media segment: %w", ErrMedia)
	}
	return tf, nil
}

var templateID = regexp.MustCompile(`\$(RepresentationID|Number|Bandwidth|Time)(%0[0-9]+d)?\$|\$\$`)

func expandTemplate(tmpl, repID string, bw uint32, number, t uint64) (string, error) {
	var bad bool
	out := templateID.ReplaceAllStringFunc(tmpl, func(s string) string {
		if s == "$$" {
			return "$"
		}
		parts := templateID.FindStringSubmatch(s)
		var v uint64
		switch parts[1] {
		case "RepresentationID":
			if parts[2] != "" {
				bad = true
			}
			return repID
		case "Number":
			v = number
		case "Bandwidth":
			v = uint64(bw)
		case "Time":
			v = t
		}
		if parts[2] != "" {
			// Bounded before use: %0999999d would make a megabyte name per
			// segment.
			w, err := strconv.Atoi(parts[2][2 : len(parts[2])-1])
			if err != nil || w > MaxTemplateWidth {
				bad = true
				return ""
			}
			return fmt.Sprintf("%0*d", w, v)
		}
		return strconv.FormatUint(v, 10)
	})
	if bad {
		return "", fmt.Errorf("ree: bad segment template (a format on $RepresentationID$, or a width over %d): %w", MaxTemplateWidth, ErrMedia)
	}
	return out, nil
}

// CombineOutputs folds the tracks' decisions into one entry per output of
// the platform, in platform order: the worst action any track's decision
// gives the output (block > constrain > protect > pass), with the
// protections and reasons of the tracks that gave it (each reason
// prefixed with its track type). An output no protected track reaches
// passes.
func CombineOutputs(p hal.Platform, tracks []Track) []policy.OutputDecision {
	out := make([]policy.OutputDecision, 0, len(p.Outputs))
	for _, o := range p.Outputs {
		od := policy.OutputDecision{Kind: o.Kind, Output: o.Kind.String(), Action: policy.Pass, Protections: []string{}}
		var reasons []string
		for _, t := range tracks {
			if t.Decision == nil {
				continue
			}
			d, ok := t.Decision.Output(o.Kind)
			if !ok {
				continue
			}
			if d.Action > od.Action {
				od.Action, od.Protections, reasons = d.Action, []string{}, nil
			}
			if d.Action < od.Action {
				continue
			}
			for _, pr := range d.Protections {
				if !slices.Contains(od.Protections, pr) {
					od.Protections = append(od.Protections, pr)
				}
			}
			if r := t.Type + ": " + d.Reason; d.Reason != "" && !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
		od.Reason = strings.Join(reasons, "; ")
		if od.Reason == "" {
			od.Reason = "no protected stream restricts this output"
		}
		out = append(out, od)
	}
	return out
}
