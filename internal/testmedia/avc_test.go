package testmedia

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/stretchr/testify/require"
)

// The hand-written SPS/PPS (avc.go) parse to the intended values and are
// exactly the bits of H.264 §7.3.2.1.1 / §7.3.2.2 for those values.
func TestParameterSets(t *testing.T) {
	sps, err := avc.ParseSPSNALUnit(spsNALU, true)
	require.NoError(t, err)
	require.EqualValues(t, 66, sps.Profile)
	require.EqualValues(t, 0xc0, sps.ProfileCompatibility)
	require.EqualValues(t, 31, sps.Level)
	require.EqualValues(t, videoWidth, sps.Width)
	require.EqualValues(t, videoHeight, sps.Height)
	require.EqualValues(t, frameNumBits-4, sps.Log2MaxFrameNumMinus4)
	require.EqualValues(t, 2, sps.PicOrderCntType)
	require.EqualValues(t, 1, sps.NumRefFrames)
	require.True(t, sps.FrameMbsOnlyFlag)
	require.True(t, sps.Direct8x8InferenceFlag)
	require.False(t, sps.FrameCroppingFlag)
	require.Nil(t, sps.VUI)
	require.Equal(t, avcCodecs, avc.CodecString("avc1", sps))

	pps, err := avc.ParsePPSNALUnit(ppsNALU, map[uint32]*avc.SPS{0: sps})
	require.NoError(t, err)
	require.False(t, pps.EntropyCodingModeFlag)
	require.True(t, pps.DeblockingFilterControlPresentFlag)
	require.Zero(t, pps.NumSliceGroupsMinus1)
	require.Zero(t, pps.PicInitQpMinus26)

	var b bytes.Buffer
	w := bits.NewEBSPWriter(&b)
	w.Write(0x67, 8)
	w.Write(66, 8)
	w.Write(0xc0, 8)
	w.Write(31, 8)
	for _, v := range []uint{0, 1, 2, 1} { // sps_id, log2_max_frame_num-4, poc type, max refs
		w.WriteExpGolomb(v)
	}
	w.Write(0, 1)        // gaps_in_frame_num_value_allowed_flag
	w.WriteExpGolomb(15) // pic_width_in_mbs_minus1
	w.WriteExpGolomb(8)  // pic_height_in_map_units_minus1
	w.Write(0b1100, 4)   // frame_mbs_only, direct_8x8_inference, no cropping, no VUI
	w.WriteRbspTrailingBits()
	require.Equal(t, spsNALU, b.Bytes())

	b.Reset()
	w = bits.NewEBSPWriter(&b)
	w.Write(0x68, 8)
	w.WriteExpGolomb(0) // pps_id
	w.WriteExpGolomb(0) // sps_id
	w.Write(0, 2)       // CAVLC, bottom_field_pic_order_in_frame_present
	for range 3 {       // num_slice_groups_minus1, num_ref_idx_l0/l1_default_active_minus1
		w.WriteExpGolomb(0)
	}
	w.Write(0, 3) // weighted_pred_flag, weighted_bipred_idc
	for range 3 { // pic_init_qp/qs_minus26, chroma_qp_index_offset: se(0)
		w.WriteExpGolomb(0)
	}
	w.Write(0b100, 3) // deblocking_filter_control_present, no constrained intra, no redundant_pic_cnt
	w.WriteRbspTrailingBits()
	require.Equal(t, ppsNALU, b.Bytes())
}

// Coded access units are well-formed for mp4ff (slice headers, subsample
// ranges of both schemes), carry no start code emulation, and decode, with
// an independent reading of the syntax the encoder uses, to exactly the
// rendered pictures.
func TestAccessUnits(t *testing.T) {
	sps, err := avc.ParseSPSNALUnit(spsNALU, false)
	require.NoError(t, err)
	pps, err := avc.ParsePPSNALUnit(ppsNALU, map[uint32]*avc.SPS{0: sps})
	require.NoError(t, err)
	spsMap, ppsMap := map[uint32]*avc.SPS{0: sps}, map[uint32]*avc.PPS{0: pps}

	sc := newScene(rand.New(rand.NewPCG(1, 2)))
	var (
		enc           avcEncoder
		want, decoded picture
		idrSize       int
		maxP          int
	)
	for gop := range 3 {
		for f := range videoFPS {
			sc.render(&want, gop*videoFPS+f)
			s := enc.accessUnit(&want, f, uint(gop))
			require.Equal(t, f == 0, avc.IsIDRSample(s))
			nalus, err := avc.GetNalusFromSample(s)
			require.NoError(t, err)
			require.Equal(t, avc.NALU_AUD, avc.GetNaluType(nalus[0][0]))
			if f == 0 {
				require.Len(t, nalus, 1+idrSlices)
				idrSize = len(s)
			} else {
				require.Len(t, nalus, 2)
				maxP = max(maxP, len(s))
			}
			ref := decoded
			for i, nalu := range nalus[1:] {
				require.NotContains(t, string(nalu), "\x00\x00\x00")
				require.NotContains(t, string(nalu), "\x00\x00\x01")
				require.NotContains(t, string(nalu), "\x00\x00\x02")
				require.NotEqual(t, byte(0), nalu[len(nalu)-1])
				sh, err := avc.ParseSliceHeader(nalu, spsMap, ppsMap)
				require.NoError(t, err)
				require.EqualValues(t, f, sh.FrameNum)
				require.EqualValues(t, i*videoMBs/(len(nalus)-1), sh.FirstMBInSlice)
				require.EqualValues(t, deblockingOff, sh.DisableDeblockingFilterIDC)
				if f == 0 {
					require.Equal(t, avc.SLICE_I, sh.SliceType%5)
					require.EqualValues(t, gop, sh.IDRPicID)
				} else {
					require.Equal(t, avc.SLICE_P, sh.SliceType%5)
				}
				end := (i + 1) * videoMBs / (len(nalus) - 1)
				decodeSlice(t, nalu, f == 0, int(sh.FirstMBInSlice), end, &ref, &decoded)
			}
			require.Equal(t, want, decoded, "picture %d of GOP %d", f, gop)

			for _, scheme := range []string{SchemeCENC, SchemeCBCS} {
				ssps, err := mp4.GetAVCProtectRanges(spsMap, ppsMap, s, scheme)
				require.NoError(t, err)
				total, ranges := 0, 0
				for _, p := range ssps {
					total += int(p.BytesOfClearData) + int(p.BytesOfProtectedData)
					if p.BytesOfProtectedData > 0 {
						ranges++
					}
				}
				require.Equal(t, len(s), total)
				require.Equal(t, len(nalus)-1, ranges, "one protected range per slice")
			}
			require.Equal(t, len(s), 4*len(nalus)+sum(nalus))
			require.EqualValues(t, len(nalus[0]), binary.BigEndian.Uint32(s))
		}
	}
	// An IDR picture is 144 I_PCM macroblocks of 384 bytes plus headers;
	// a P picture codes the box and the clock digits only.
	require.Greater(t, idrSize, videoMBs*384)
	require.Less(t, idrSize, videoMBs*(384+2)+64)
	require.Less(t, maxP, 12*(384+2))
}

// decodeSlice decodes one slice of the subset avc.go writes into out:
// it reads the slice header field by field (H.264 §7.3.3), then
// slice_data (§7.3.4): I_PCM macroblocks (§7.3.5) and, in P slices,
// mb_skip_run, skipped macroblocks copying ref.
func decodeSlice(t *testing.T, nalu []byte, idr bool, first, end int, ref, out *picture) {
	t.Helper()
	r := bits.NewEBSPReader(bytes.NewReader(nalu))
	require.EqualValues(t, map[bool]uint{true: nalIDR, false: nalP}[idr], r.Read(8))
	require.EqualValues(t, first, r.ReadExpGolomb())
	require.EqualValues(t, map[bool]uint{true: sliceTypeAllI, false: sliceTypeAllP}[idr], r.ReadExpGolomb())
	require.Zero(t, r.ReadExpGolomb()) // pps id
	r.Read(frameNumBits)
	if idr {
		r.ReadExpGolomb() // idr_pic_id
		require.Zero(t, r.Read(2), "no_output_of_prior_pics, long_term_reference")
	} else {
		require.Zero(t, r.Read(2), "no override, no list modification")
		require.Zero(t, r.Read(1), "sliding window marking")
	}
	require.Zero(t, r.ReadSignedGolomb(), "slice_qp_delta")
	require.EqualValues(t, deblockingOff, r.ReadExpGolomb())

	readPCM := func(mb int, mbType uint) {
		require.Equal(t, mbType, r.ReadExpGolomb(), "mb_type")
		if k := 8 - r.NrBitsReadInCurrentByte(); k > 0 && k < 8 {
			require.Zero(t, r.Read(k), "pcm_alignment_zero_bit")
		}
		x, y := mb%(videoWidth/16)*16, mb/(videoWidth/16)*16
		for j := range 16 {
			copy(out.y[(y+j)*videoWidth+x:][:16], r.ReadBytes(16))
		}
		for _, plane := range [2]*[videoWidth * videoHeight / 4]byte{&out.cb, &out.cr} {
			for j := range 8 {
				copy(plane[(y/2+j)*videoWidth/2+x/2:][:8], r.ReadBytes(8))
			}
		}
	}
	more := func() bool {
		m, err := r.MoreRbspData()
		require.NoError(t, err)
		return m
	}
	mb := first
	for {
		if !idr {
			skip := int(r.ReadExpGolomb())
			require.LessOrEqual(t, mb+skip, end)
			for range skip {
				out.copyMB(ref, mb)
				mb++
			}
			if skip > 0 && !more() {
				break
			}
		}
		require.Less(t, mb, end)
		readPCM(mb, map[bool]uint{true: mbTypeIPCM, false: mbTypePIPCM}[idr])
		mb++
		if !more() {
			break
		}
	}
	require.Equal(t, end, mb, "slice covers its macroblocks")
	require.NoError(t, r.ReadRbspTrailingBits())
	require.NoError(t, r.AccError())
}

// copyMB copies macroblock mb of src into p.
func (p *picture) copyMB(src *picture, mb int) {
	x, y := mb%(videoWidth/16)*16, mb/(videoWidth/16)*16
	for j := range 16 {
		o := (y+j)*videoWidth + x
		copy(p.y[o:o+16], src.y[o:o+16])
	}
	for j := range 8 {
		o := (y/2+j)*videoWidth/2 + x/2
		copy(p.cb[o:o+8], src.cb[o:o+8])
		copy(p.cr[o:o+8], src.cr[o:o+8])
	}
}

// The pictures move: the clock changes every picture, the box moves 4
// pixels a picture and bounces inside the picture, and the seed moves the
// box.
func TestPictures(t *testing.T) {
	sc := newScene(rand.New(rand.NewPCG(1, 2)))
	var a, b picture
	boxX := func(p *picture) int {
		// The box's black border's left edge on the row through its middle.
		row := p.y[(boxTop+boxSize/2)*videoWidth:][:videoWidth]
		for x := range videoWidth - boxSize + 1 {
			if row[x] == 16 && row[x+boxSize-1] == 16 && row[x+boxBorder] == sc.boxColor.y {
				return x
			}
		}
		return -1
	}
	prev := -1
	turns := map[bool]bool{}
	for n := range 200 {
		sc.render(&a, n)
		x := boxX(&a)
		require.GreaterOrEqual(t, x, 0, "box of picture %d", n)
		if n > 0 {
			require.Equal(t, boxStep, abs(x-prev), "picture %d", n)
			turns[x == 0 || x == videoWidth-boxSize] = true
			changed := 0
			for mb := range videoMBs {
				if !a.sameMB(&b, mb) {
					changed++
				}
			}
			require.GreaterOrEqual(t, changed, 2, "picture %d: the frame digit changes", n)
			require.LessOrEqual(t, changed, 12)
		}
		prev = x
		b = a
	}
	require.True(t, turns[true], "the box reaches an edge")
	// Picture 0 and 25 differ in the seconds digit (macroblock column 7).
	sc.render(&a, 0)
	sc.render(&b, videoFPS)
	require.False(t, a.sameMB(&b, 7*(videoWidth/16)+7))
	other := newScene(rand.New(rand.NewPCG(3, 4)))
	other.render(&b, 0)
	require.NotEqual(t, a, b)
	// Limited range everywhere: no sample below 16.
	require.GreaterOrEqual(t, minByte(a.y[:]), byte(16))
	require.GreaterOrEqual(t, minByte(a.cb[:]), byte(16))
	require.GreaterOrEqual(t, minByte(a.cr[:]), byte(16))
}

func abs(x int) int { return max(x, -x) }

func minByte(b []byte) byte {
	m := byte(255)
	for _, v := range b {
		m = min(m, v)
	}
	return m
}

func sum(b [][]byte) int {
	n := 0
	for _, x := range b {
		n += len(x)
	}
	return n
}
