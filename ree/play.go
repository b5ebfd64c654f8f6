package ree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/prsim/prsim/drm"
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
}

// ErrMedia is returned for media prsim cannot read.
var ErrMedia = errors.New("ree: unsupported or malformed media")

// Play decrypts every adaptation set of a local DASH MPD (first
// Representation of each) into outDir/<type>.mp4: the clear init segment
// followed by every media segment. Licenses come from the session, the
// store, or an acquisition (laURL overrides the header's LA_URL).
func (c *Client) Play(ctx context.Context, mpdPath, outDir, laURL string) ([]Track, error) {
	data, err := os.ReadFile(mpdPath)
	if err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	m, err := mpd.MPDFromBytes(data)
	if err != nil || len(m.Periods) == 0 {
		return nil, fmt.Errorf("ree: MPD does not parse: %w", ErrMedia)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	base := filepath.Dir(mpdPath)
	p := m.Periods[0]
	used := map[string]int{}
	var tracks []Track
	for _, as := range p.AdaptationSets {
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
		tr, err := c.playTrack(ctx, files, h, laURL, filepath.Join(outDir, name))
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

// playTrack decrypts init + segments into out.
func (c *Client) playTrack(ctx context.Context, files []string, h *pro.Header, laURL, out string) (Track, error) {
	var tr Track
	if len(files) == 0 {
		return tr, ErrMedia
	}
	initData, err := os.ReadFile(files[0])
	if err != nil {
		return tr, fmt.Errorf("ree: %w", err)
	}
	f, err := mp4.DecodeFile(bytes.NewReader(initData))
	if err != nil || f.Init == nil {
		return tr, fmt.Errorf("ree: init segment does not parse: %w", ErrMedia)
	}
	di, err := mp4.DecryptInit(f.Init)
	if err != nil {
		return tr, fmt.Errorf("ree: init segment protection: %w", ErrMedia)
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
		keys[ti.TrackID] = tk
		tr.KID = tk.key.KID()
	}
	var buf bytes.Buffer
	if err := f.Init.Encode(&buf); err != nil {
		return tr, fmt.Errorf("ree: %w", err)
	}
	segs := f.Segments // a single-file (SegmentBase) track carries its fragments here
	for _, name := range files[1:] {
		if err := ctx.Err(); err != nil {
			return tr, err
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return tr, fmt.Errorf("ree: %w", err)
		}
		sf, err := mp4.DecodeFile(bytes.NewReader(b))
		if err != nil {
			return tr, fmt.Errorf("ree: media segment does not parse: %w", ErrMedia)
		}
		segs = append(segs, sf.Segments...)
	}
	for _, seg := range segs {
		for _, frag := range seg.Fragments {
			n, err := decryptFragment(frag, di, keys)
			if err != nil {
				return tr, err
			}
			tr.Samples += n
		}
		// sidx sizes no longer hold once encryption boxes are gone.
		seg.Sidx, seg.Sidxs = nil, nil
		if err := seg.Encode(&buf); err != nil {
			return tr, fmt.Errorf("ree: %w", err)
		}
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return tr, fmt.Errorf("ree: %w", err)
	}
	return tr, nil
}

type trackKey struct {
	key     *tee.Key
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
	if errors.Is(err, drm.ErrLicenseNotFound) && h != nil {
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
	return &trackKey{key: k, scheme: scheme, tenc: tenc,
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
	total := 0
	var removed uint64
	for _, traf := range moof.Trafs {
		ti, ok := findTrack(di, traf.Tfhd.TrackID)
		if !ok {
			return 0, fmt.Errorf("ree: fragment for unknown track: %w", ErrMedia)
		}
		samples, err := frag.GetFullSamples(ti.Trex)
		if err != nil {
			return 0, fmt.Errorf("ree: fragment samples: %w", ErrMedia)
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
				err = tk.key.DecryptCENC(samples[i].Data, iv, subs)
			} else {
				err = tk.key.DecryptCBCS(samples[i].Data, iv, subs, tk.pattern)
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
// representation, resolved against the MPD's directory and BaseURLs.
func segmentFiles(m *mpd.MPD, p *mpd.Period, as *mpd.AdaptationSetType, r *mpd.RepresentationType, dir string) ([]string, error) {
	for _, bl := range [][]*mpd.BaseURLType{m.BaseURL, p.BaseURLs, as.BaseURLs, r.BaseURLs} {
		if len(bl) > 0 {
			u := string(bl[0].Value)
			if strings.Contains(u, "://") {
				return nil, fmt.Errorf("ree: remote BaseURL not supported (local MPD only): %w", ErrMedia)
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
			return []string{dir}, nil
		}
		return nil, fmt.Errorf("ree: representation has no SegmentTemplate or BaseURL: %w", ErrMedia)
	}
	subst := func(tmpl string, number, t uint64) (string, error) {
		return expandTemplate(tmpl, r.Id, r.Bandwidth, number, t)
	}
	init, err := subst(st.Initialization, 0, 0)
	if err != nil {
		return nil, err
	}
	files := []string{filepath.Join(dir, init)}
	number := uint64(1)
	if st.StartNumber != nil {
		number = uint64(*st.StartNumber)
	}
	add := func(t uint64) error {
		name, err := subst(st.Media, number, t)
		if err != nil {
			return err
		}
		files = append(files, filepath.Join(dir, name))
		number++
		return nil
	}
	switch {
	case st.SegmentTimeline != nil:
		t := uint64(0)
		for _, s := range st.SegmentTimeline.S {
			if s.T != nil {
				t = *s.T
			}
			if s.R < 0 || s.D == 0 {
				return nil, fmt.Errorf("ree: open-ended SegmentTimeline not supported: %w", ErrMedia)
			}
			for range s.R + 1 {
				if err := add(t); err != nil {
					return nil, err
				}
				t += s.D
			}
		}
	case st.Duration != nil && *st.Duration > 0:
		dur := m.MediaPresentationDuration
		if p.Duration != nil {
			dur = p.Duration
		}
		if dur == nil {
			return nil, fmt.Errorf("ree: no presentation duration for a duration-based template: %w", ErrMedia)
		}
		ts := float64(st.GetTimescale())
		count := int(math.Ceil(float64(*dur) / 1e9 * ts / float64(*st.Duration)))
		if count > 100000 {
			return nil, ErrMedia
		}
		for i := range count {
			if err := add(uint64(i) * uint64(*st.Duration)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("ree: SegmentTemplate without timeline or duration: %w", ErrMedia)
	}
	return files, nil
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
			w, _ := strconv.Atoi(parts[2][2 : len(parts[2])-1])
			return fmt.Sprintf("%0*d", w, v)
		}
		return strconv.FormatUint(v, 10)
	})
	if bad {
		return "", fmt.Errorf("ree: bad segment template: %w", ErrMedia)
	}
	return out, nil
}
