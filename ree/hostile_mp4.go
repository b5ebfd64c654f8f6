package ree

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/Eyevinn/mp4ff/mp4"
)

// decodeMP4 decodes an untrusted init or media segment with mp4ff after
// checking its box structure ([checkBoxes]); a panic in mp4ff becomes an
// ErrMedia error. what names the file in errors.
func decodeMP4(b []byte, what string) (*mp4.File, error) {
	if err := checkBoxes(b); err != nil {
		return nil, fmt.Errorf("ree: %s: %w", what, err)
	}
	var f *mp4.File
	err := recoverParse(what, func() error {
		var derr error
		f, derr = mp4.DecodeFile(bytes.NewReader(b))
		return derr
	})
	if err != nil {
		return nil, fmt.Errorf("ree: %s does not parse as MP4: %w", what, ErrMedia)
	}
	return f, nil
}

// checkBoxes checks what mp4ff trusts: every top-level box fits in b (mp4ff
// allocates a top-level box's declared size before reading it), and boxes
// that mp4ff decodes recursively nest at most MaxBoxDepth deep (mp4ff
// recurses once per level; millions of nested moov boxes exhaust the
// goroutine stack, a fatal error no recover catches).
func checkBoxes(b []byte) error {
	n := uint64(len(b))
	for pos := uint64(0); pos < n; {
		if n-pos < 8 {
			return fmt.Errorf("truncated box header at offset %d: %w", pos, ErrMedia)
		}
		size := uint64(binary.BigEndian.Uint32(b[pos:]))
		typ := string(b[pos+4 : pos+8])
		hdr := uint64(8)
		switch size {
		case 0:
			return fmt.Errorf("box at offset %d runs to the end of the file (size 0), not supported: %w", pos, ErrMedia)
		case 1:
			if n-pos < 16 {
				return fmt.Errorf("truncated box header at offset %d: %w", pos, ErrMedia)
			}
			size, hdr = binary.BigEndian.Uint64(b[pos+8:]), 16
		}
		if size < hdr || size > n-pos {
			return fmt.Errorf("box %q at offset %d declares %d bytes, %d remain: %w", printable(typ), pos, size, n-pos, ErrMedia)
		}
		if recursiveBox(typ) {
			if err := checkNesting(b[pos+hdr:pos+size], pos+hdr); err != nil {
				return err
			}
		}
		pos += size
	}
	return nil
}

// checkNesting bounds the nesting of recursively decoded boxes inside the
// payload of a top-level one (depth 1). It does not follow the box tree
// (each container keeps its children at its own offset, some after
// variable-length fields): it takes every position where the type of a
// recursive box appears with a size that fits as a possible box, and counts
// how many such candidates are open at each one. Every real nesting chain
// is a chain of candidates, so the count bounds the real depth from above;
// a spurious match inside other data needs 8 specific bytes and can only
// raise the count, which fails closed.
func checkNesting(p []byte, base uint64) error {
	var open []uint64 // ends of the open candidates
	n := uint64(len(p))
	for i := uint64(0); i+8 <= n; i++ {
		typ := string(p[i+4 : i+8])
		if typ == "senc" || typ == "uuid" {
			if err := checkSenc(p[i:], base+i); err != nil {
				return err
			}
			continue
		}
		if !recursiveBox(typ) {
			continue
		}
		size := uint64(binary.BigEndian.Uint32(p[i:]))
		if size < 8 || size > n-i {
			continue // mp4ff rejects these before decoding children
		}
		k := 0
		for _, end := range open {
			if end > i {
				open[k] = end
				k++
			}
		}
		open = append(open[:k], i+size)
		if len(open)+1 > MaxBoxDepth {
			return fmt.Errorf("boxes nest deeper than %d at offset %d: %w", MaxBoxDepth, base+i, ErrMedia)
		}
	}
	return nil
}

// piffSenc is the extended type of PIFF's senc box (PIFF 1.1 §5.3.2).
const piffSenc = "\xa2\x39\x4f\x52\x5a\x9b\x4f\x14\xa2\x44\x6c\x42\x7c\x64\x8d\xf4"

// checkSenc checks a possible senc box (or PIFF uuid senc) at the start of
// b: mp4ff sizes its IV and subsample tables by sample_count before
// reading them, so sample_count must fit the box's data (8-byte IVs
// without subsamples, 2 bytes per sample with them). Like checkNesting it
// looks at every candidate, so a spurious match fails closed.
func checkSenc(b []byte, pos uint64) error {
	size := uint64(binary.BigEndian.Uint32(b))
	body := uint64(8)
	if string(b[4:8]) == "uuid" {
		if uint64(len(b)) < 24 || string(b[8:24]) != piffSenc {
			return nil
		}
		body = 24
	}
	if size < body+8 || size > uint64(len(b)) {
		return nil // mp4ff rejects it before parsing the tables
	}
	flags := binary.BigEndian.Uint32(b[body:]) & 0xffffff
	count := uint64(binary.BigEndian.Uint32(b[body+4:]))
	data := size - body - 8
	per := uint64(8)
	if flags&0x2 != 0 { // subsamples: at least a 16-bit count per sample
		per = 2
	}
	if data > 0 && count*per > data {
		return fmt.Errorf("senc at offset %d declares %d samples in %d bytes: %w", pos, count, data, ErrMedia)
	}
	return nil
}

// recursiveBox reports the box types whose mp4ff v0.56.0 decoders decode
// child boxes (containers, sample entries, and a few others), directly or
// through helpers. Unknown types decode as opaque boxes.
func recursiveBox(t string) bool {
	switch t {
	case "moov", "trak", "mdia", "minf", "stbl", "stsd", "dinf", "dref", "edts", "mvex",
		"moof", "traf", "mfra", "schi", "sinf", "udta", "meta", "ilst", "ludt", "tref",
		"trep", "trgr", "vexu", "eyes", "cams", "proj", "desc", "wave", "stpp", "evte",
		"wvtt", "vttc", "\xa9ART", "\xa9cpy", "\xa9nam", "\xa9too",
		// visual sample entries
		"avc1", "avc3", "avs3", "av01", "dvh1", "dvhe", "encv", "hev1", "hvc1", "jpeg",
		"mjpg", "mp4v", "vp08", "vp09", "vvc1", "vvi1",
		// audio sample entries (QuickTime ones included)
		"mp4a", "enca", "ac-3", "ac-4", "ec-3", "fLaC", "Opus", "iamf", "mha1", "mha2",
		"mhm1", "mhm2", ".mp3", "lpcm", "sowt", "twos":
		return true
	}
	return false
}

// printable shows a box type for an error: non-ASCII-letters as '?'.
func printable(t string) string {
	b := []byte(t)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// fragmentSamples is mp4.Fragment.GetFullSamples for untrusted fragments:
// the same sample data and decode times, but a fragment whose samples do
// not lie inside its mdat, or that lacks the boxes needed, is an error
// instead of a panic (mp4ff slices mdat.Data with the trun's sizes
// unchecked).
func fragmentSamples(frag *mp4.Fragment, traf *mp4.TrafBox, trex *mp4.TrexBox) ([]mp4.FullSample, error) {
	moof, mdat := frag.Moof, frag.Mdat
	if mdat == nil {
		return nil, fmt.Errorf("fragment without mdat: %w", ErrMedia)
	}
	tfhd := traf.Tfhd
	if tfhd == nil {
		return nil, fmt.Errorf("traf without tfhd: %w", ErrMedia)
	}
	var baseTime uint64
	if traf.Tfdt != nil {
		baseTime = traf.Tfdt.BaseMediaDecodeTime()
	}
	mdatLen := uint64(len(mdat.Data))
	var samples []mp4.FullSample
	for _, trun := range traf.Truns {
		totalDur := trun.AddSampleDefaultValues(tfhd, trex)
		base := moof.StartPos // ISO/IEC 14496-12 §8.8.7.1 default
		if tfhd.HasBaseDataOffset() {
			base = tfhd.BaseDataOffset
		}
		if trun.HasDataOffset() {
			base = uint64(int64(trun.DataOffset) + int64(base))
		}
		var off uint64
		if base > 0 {
			if base < mdat.PayloadAbsoluteOffset() {
				return nil, fmt.Errorf("sample data starts before the mdat payload: %w", ErrMedia)
			}
			off = base - mdat.PayloadAbsoluteOffset()
		}
		var total uint64
		for _, s := range trun.Samples {
			total += uint64(s.Size)
		}
		if off > mdatLen || total > mdatLen-off {
			return nil, fmt.Errorf("trun sample sizes (%d bytes from mdat offset %d) exceed the mdat payload (%d bytes): %w",
				total, off, mdatLen, ErrMedia)
		}
		t := baseTime
		for _, s := range trun.Samples {
			samples = append(samples, mp4.FullSample{Sample: s, DecodeTime: t, Data: mdat.Data[off : off+uint64(s.Size)]})
			t += uint64(s.Dur)
			off += uint64(s.Size)
		}
		baseTime += totalDur
	}
	return samples, nil
}
