package testmedia

import (
	"bytes"

	"github.com/Eyevinn/mp4ff/bits"
)

// A tiny H.264 encoder: every coded macroblock is I_PCM (its samples sent
// raw), which needs no transform, prediction or entropy coding of residuals
// and so decodes to exactly the rendered picture. IDR pictures code every
// macroblock; the other pictures are P pictures that skip the macroblocks
// equal to the previous picture's and code the changed ones as I_PCM.
// Skipped macroblocks copy the reference (their predicted motion vector is
// zero because every neighbour is either intra or skipped with a zero
// vector, H.264 §8.4.1.1), and the deblocking filter is off, so decoders
// reproduce the rendered pictures bit for bit.
//
// The parameter sets are written by hand from ITU-T H.264 §7.3.2.1.1 and
// §7.3.2.2 (no encoder produced them); avc_test.go parses them with mp4ff's
// avc package and rebuilds them bit by bit.
//
// SPS 67 42C01F A6810139: nal_ref_idc 3, type 7; profile_idc 66 (Baseline)
// with constraint_set0/1 (Constrained Baseline), level_idc 31 (level 3.1);
// then, as bits, sps_id ue 0 "1", log2_max_frame_num_minus4 ue 1 "010"
// (5-bit frame_num, enough for a 25-picture GOP), pic_order_cnt_type ue 2
// "011" (POC from frame_num: output order is decoding order, no POC in
// slice headers), max_num_ref_frames ue 1 "010", gaps_in_frame_num_allowed 0,
// pic_width_in_mbs_minus1 ue 15 "000010000", pic_height_in_map_units_minus1
// ue 8 "0001001", frame_mbs_only 1, direct_8x8_inference 1, frame_cropping
// 0, vui_parameters_present 0, then the RBSP stop bit: 32 bits exactly.
// Frame size 256×144, no cropping, 4:2:0 8-bit (implied by profile 66).
//
// Why level 3.1 for so small a picture: an I_PCM picture is uncompressed,
// and H.264 Annex A.3.1 bounds the first access unit of a stream to
// 384·Max(PicSizeInMbs, MaxMBPS/172)/MinCR bytes. At level 3.1 that is
// 384·(108000/172)/2 ≈ 120 500 bytes, above the 55 608-byte IDR pictures
// here (at level 1.2 it would be 384·144/2 = 27 648). The bit rate, about
// 1 Mbit/s, is far below level 3.1's 14 Mbit/s, and the picture (144
// macroblocks) and rate (3600 macroblocks/s) well within its limits.
//
// PPS 68 CE3C80: pps_id 0, sps_id 0, CAVLC, one slice group, one reference
// index by default, no weighted prediction, QP 26 (all deltas 0),
// deblocking_filter_control_present 1 (so that slices can turn the filter
// off), no constrained intra, no redundant pictures.
var (
	spsNALU = []byte{0x67, 0x42, 0xc0, 0x1f, 0xa6, 0x81, 0x01, 0x39}
	ppsNALU = []byte{0x68, 0xce, 0x3c, 0x80}
)

// avcCodecs is the RFC 6381 codecs value for spsNALU.
const avcCodecs = "avc1.42C01F"

// Video format implied by spsNALU.
const (
	videoWidth     = 256
	videoHeight    = 144
	videoMBs       = (videoWidth / 16) * (videoHeight / 16)
	frameNumBits   = 5 // log2_max_frame_num_minus4 + 4
	videoFPS       = 25
	videoTimescale = 90000
	frameDuration  = videoTimescale / videoFPS
)

// NAL unit headers (forbidden_zero_bit, nal_ref_idc, nal_unit_type).
const (
	nalIDR = 0x65 // nal_ref_idc 3, type 5: coded slice of an IDR picture
	nalP   = 0x41 // nal_ref_idc 2, type 1: coded slice of a non-IDR picture
	nalAUD = 0x09 // nal_ref_idc 0, type 9: access unit delimiter
)

// H.264 Table 7-6: slice_type 5..9 say every slice of the picture has the
// same type.
const (
	sliceTypeAllP = 5
	sliceTypeAllI = 7
)

// mb_type of I_PCM: 25 in an I slice (Table 7-11); in a P slice the intra
// types follow the five P types (Table 7-13), so 5 + 25.
const (
	mbTypeIPCM  = 25
	mbTypePIPCM = 5 + mbTypeIPCM
)

// disable_deblocking_filter_idc 1: no deblocking across any edge
// (§7.4.3), so skipped and I_PCM macroblocks stay exactly as coded.
const deblockingOff = 1

// idrSlices is the number of slices of an IDR picture: two, so that an IDR
// sample has two protected ranges (both schemes protect per NAL unit).
const idrSlices = 2

// avcEncoder codes a sequence of pictures. It keeps the last coded
// picture, the reference of the next P picture.
type avcEncoder struct {
	ref picture
}

// accessUnit codes p and returns one video sample: length-prefixed NAL units
// (4-byte big-endian lengths, the avcC lengthSizeMinusOne of 3 that mp4ff
// writes). frame is the index within the GOP (0 is the IDR picture);
// idrPicID must differ between consecutive IDR pictures (H.264 §7.4.3).
func (e *avcEncoder) accessUnit(p *picture, frame int, idrPicID uint) []byte {
	idr := frame == 0
	frameNum := uint(frame) % (1 << frameNumBits)
	// Access unit delimiter, primary_pic_type 0 (I) or 1 (I, P), then the
	// stop bit. Not a video NAL unit: it stays in the clear.
	aud := []byte{nalAUD, 0x10}
	if !idr {
		aud[1] = 0x30
	}
	nalus := [][]byte{aud}
	if idr {
		for i := range idrSlices {
			first, end := i*videoMBs/idrSlices, (i+1)*videoMBs/idrSlices
			nalus = append(nalus, e.slice(p, true, frameNum, idrPicID, first, end))
		}
	} else {
		nalus = append(nalus, e.slice(p, false, frameNum, 0, 0, videoMBs))
	}
	e.ref = *p
	n := 0
	for _, nalu := range nalus {
		n += 4 + len(nalu)
	}
	sample := make([]byte, 0, n)
	for _, nalu := range nalus {
		l := len(nalu)
		sample = append(sample, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
		sample = append(sample, nalu...)
	}
	return sample
}

// slice returns one slice NAL unit covering macroblocks [first, end) of p:
// a slice header for spsNALU/ppsNALU (H.264 §7.3.3), then slice_data
// (§7.3.4) in CAVLC. An I slice codes every macroblock as I_PCM; a P slice
// codes as I_PCM only those that differ from e.ref, the others are counted
// in mb_skip_run. Everything goes through an EBSP writer, which inserts
// emulation prevention bytes where needed (never inside the samples, all of
// which are at least 16).
func (e *avcEncoder) slice(p *picture, idr bool, frameNum, idrPicID uint, first, end int) []byte {
	var buf bytes.Buffer
	buf.Grow((end-first)*(2+256+128) + 16)
	w := bits.NewEBSPWriter(&buf)
	if idr {
		w.Write(nalIDR, 8)
	} else {
		w.Write(nalP, 8)
	}
	w.WriteExpGolomb(uint(first)) // first_mb_in_slice
	if idr {
		w.WriteExpGolomb(sliceTypeAllI)
	} else {
		w.WriteExpGolomb(sliceTypeAllP)
	}
	w.WriteExpGolomb(0) // pic_parameter_set_id
	w.Write(frameNum, frameNumBits)
	if idr {
		w.WriteExpGolomb(idrPicID)
	}
	// pic_order_cnt_type 2: no POC fields.
	if !idr {
		w.Write(0, 1) // num_ref_idx_active_override_flag
		w.Write(0, 1) // ref_pic_list_modification_flag_l0
	}
	// dec_ref_pic_marking (nal_ref_idc != 0)
	if idr {
		w.Write(0, 2) // no_output_of_prior_pics_flag, long_term_reference_flag
	} else {
		w.Write(0, 1) // adaptive_ref_pic_marking_mode_flag: sliding window
	}
	w.WriteExpGolomb(0)             // slice_qp_delta se(0)
	w.WriteExpGolomb(deblockingOff) // disable_deblocking_filter_idc; no offsets follow

	// slice_data
	if idr {
		for mb := first; mb < end; mb++ {
			pcm(w, p, mb, mbTypeIPCM)
		}
	} else {
		skip := uint(0)
		for mb := first; mb < end; mb++ {
			if p.sameMB(&e.ref, mb) {
				skip++
				continue
			}
			w.WriteExpGolomb(skip) // mb_skip_run
			skip = 0
			pcm(w, p, mb, mbTypePIPCM)
		}
		if skip > 0 {
			w.WriteExpGolomb(skip) // the trailing run; more_rbsp_data() is then false
		}
	}
	w.WriteRbspTrailingBits()
	return buf.Bytes()
}

// pcm writes macroblock_layer() of an I_PCM macroblock (H.264 §7.3.5):
// mb_type, pcm_alignment_zero_bit up to a byte boundary, the 256 luma
// samples in raster order, then the 64 Cb and the 64 Cr samples.
func pcm(w *bits.EBSPWriter, p *picture, mb int, mbType uint) {
	w.WriteExpGolomb(mbType)
	w.StuffByteWithZeros()
	x, y := mb%(videoWidth/16)*16, mb/(videoWidth/16)*16
	for j := range 16 {
		for _, v := range p.y[(y+j)*videoWidth+x:][:16] {
			w.Write(uint(v), 8)
		}
	}
	for _, plane := range [2]*[videoWidth * videoHeight / 4]byte{&p.cb, &p.cr} {
		for j := range 8 {
			for _, v := range plane[(y/2+j)*videoWidth/2+x/2:][:8] {
				w.Write(uint(v), 8)
			}
		}
	}
}
