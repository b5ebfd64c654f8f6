package testmedia

import (
	"bytes"
	"math/rand/v2"

	"github.com/Eyevinn/mp4ff/bits"
)

// Fixed AVC parameter sets, written by hand from ITU-T H.264 §7.3.2.1.1 and
// §7.3.2.2 (no encoder produced them); avc_test.go parses them with mp4ff's
// avc package and rebuilds them bit by bit.
//
// SPS 67 42C00C A6810139: nal_ref_idc 3, type 7; profile_idc 66 (Baseline)
// with constraint_set0/1 (Constrained Baseline), level_idc 12 (level 1.2:
// 144 MBs × 25 fps = 3600 MB/s ≤ 6000); then, as bits, sps_id ue 0 "1",
// log2_max_frame_num_minus4 ue 1 "010" (5-bit frame_num, enough for a 25-frame
// GOP), pic_order_cnt_type ue 2 "011" (POC from frame_num: no reordering, no
// POC in slice headers), max_num_ref_frames ue 1 "010",
// gaps_in_frame_num_allowed 0, pic_width_in_mbs_minus1 ue 15 "000010000",
// pic_height_in_map_units_minus1 ue 8 "0001001", frame_mbs_only 1,
// direct_8x8_inference 1, frame_cropping 0, vui_parameters_present 0, then
// the RBSP stop bit: 32 bits exactly. Frame size 256×144, no cropping.
//
// PPS 68 CE3C80: pps_id 0, sps_id 0, CAVLC, one slice group, one reference
// index by default, no weighted prediction, QP 26 (all deltas 0),
// deblocking_filter_control_present 1, no constrained intra, no redundant
// pictures.
var (
	spsNALU = []byte{0x67, 0x42, 0xc0, 0x0c, 0xa6, 0x81, 0x01, 0x39}
	ppsNALU = []byte{0x68, 0xce, 0x3c, 0x80}
)

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

// accessUnit returns one video sample: length-prefixed NAL units (4-byte
// big-endian lengths, the avcC lengthSizeMinusOne of 3 that mp4ff writes).
// frame is the index within the GOP (0 is the IDR picture); idrPicID must
// differ between consecutive IDR pictures (H.264 §7.4.3).
func accessUnit(r *rand.Rand, frame int, idrPicID uint) []byte {
	idr := frame == 0
	// Access unit delimiter, primary_pic_type 0 (I) or 1 (I, P), then the
	// stop bit. Not a video NAL unit: it stays in the clear.
	aud := []byte{nalAUD, 0x10}
	if !idr {
		aud[1] = 0x30
	}
	var sizes []int
	switch {
	case idr:
		sizes = []int{2000 + r.IntN(1001)}
	case r.IntN(8) == 0:
		// A tiny slice (a mostly skipped picture): below the 112 bytes
		// mp4ff's cenc logic needs before it protects anything.
		sizes = []int{20 + r.IntN(80)}
	default:
		sizes = []int{200 + r.IntN(1301)}
	}
	// Every fourth picture is split into two slices, giving two protected
	// ranges in one sample.
	if r.IntN(4) == 0 {
		sizes = append(sizes, 200+r.IntN(1301))
	}
	nalus := [][]byte{aud}
	for i, size := range sizes {
		firstMB := uint(i * videoMBs / len(sizes))
		nalus = append(nalus, slice(r, idr, uint(frame)%(1<<frameNumBits), idrPicID, firstMB, size))
	}
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

// slice returns one slice NAL unit of about size bytes: a slice header valid
// for spsNALU/ppsNALU (H.264 §7.3.3) followed by pseudo-random slice data.
// Everything goes through an EBSP writer, so the NAL unit contains no start
// code emulation and can be parsed like real coded video.
func slice(r *rand.Rand, idr bool, frameNum, idrPicID, firstMB uint, size int) []byte {
	var buf bytes.Buffer
	buf.Grow(size + size/64 + 8)
	w := bits.NewEBSPWriter(&buf)
	if idr {
		w.Write(nalIDR, 8)
	} else {
		w.Write(nalP, 8)
	}
	w.WriteExpGolomb(firstMB)
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
		w.Write(0, 1) // adaptive_ref_pic_marking_mode_flag
	}
	w.WriteExpGolomb(0) // slice_qp_delta se(0)
	w.WriteExpGolomb(0) // disable_deblocking_filter_idc
	w.WriteExpGolomb(0) // slice_alpha_c0_offset_div2 se(0)
	w.WriteExpGolomb(0) // slice_beta_offset_div2 se(0)
	// slice_data: pseudo-random bits up to the end, then a stop bit.
	if n := int(w.NrBitsInBuffer()); n > 0 {
		w.Write(uint(r.Uint32()), 8-n)
	}
	var v uint64
	for i := 0; buf.Len() < size-1; i++ {
		if i%8 == 0 {
			v = r.Uint64()
		}
		w.Write(uint(v&0xff), 8)
		v >>= 8
	}
	w.Write(0x80, 8) // rbsp_stop_one_bit and alignment zero bits
	return buf.Bytes()
}

// audioFrame returns one pseudo-random AAC "raw data block" of 100–400 bytes.
func audioFrame(r *rand.Rand) []byte {
	b := make([]byte, 100+r.IntN(301))
	fill(r, b)
	return b
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
