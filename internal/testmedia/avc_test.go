package testmedia

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
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
	require.EqualValues(t, 12, sps.Level)
	require.EqualValues(t, videoWidth, sps.Width)
	require.EqualValues(t, videoHeight, sps.Height)
	require.EqualValues(t, frameNumBits-4, sps.Log2MaxFrameNumMinus4)
	require.EqualValues(t, 2, sps.PicOrderCntType)
	require.EqualValues(t, 1, sps.NumRefFrames)
	require.True(t, sps.FrameMbsOnlyFlag)
	require.True(t, sps.Direct8x8InferenceFlag)
	require.False(t, sps.FrameCroppingFlag)
	require.Nil(t, sps.VUI)
	require.Equal(t, "avc1.42C00C", avc.CodecString("avc1", sps))

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
	w.Write(12, 8)
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

// Generated access units are well-formed: valid slice headers for the
// fixed parameter sets, no start code emulation, and both cenc and cbcs
// subsample logic of mp4ff produce protected ranges.
func TestAccessUnits(t *testing.T) {
	sps, err := avc.ParseSPSNALUnit(spsNALU, false)
	require.NoError(t, err)
	pps, err := avc.ParsePPSNALUnit(ppsNALU, map[uint32]*avc.SPS{0: sps})
	require.NoError(t, err)
	spsMap, ppsMap := map[uint32]*avc.SPS{0: sps}, map[uint32]*avc.PPS{0: pps}

	r := rand.New(rand.NewPCG(1, 2))
	var sizes []int
	seen := map[string]bool{}
	for gop := range 8 {
		for f := range videoFPS {
			s := accessUnit(r, f, uint(gop))
			require.Equal(t, f == 0, avc.IsIDRSample(s))
			nalus, err := avc.GetNalusFromSample(s)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(nalus), 2)
			require.Equal(t, avc.NALU_AUD, avc.GetNaluType(nalus[0][0]))
			for i, nalu := range nalus[1:] {
				sizes = append(sizes, len(nalu))
				require.NotContains(t, string(nalu), "\x00\x00\x00")
				require.NotContains(t, string(nalu), "\x00\x00\x01")
				require.NotContains(t, string(nalu), "\x00\x00\x02")
				require.NotEqual(t, byte(0), nalu[len(nalu)-1])
				sh, err := avc.ParseSliceHeader(nalu, spsMap, ppsMap)
				require.NoError(t, err)
				require.EqualValues(t, f, sh.FrameNum)
				require.Equal(t, uint32(i*videoMBs/(len(nalus)-1)), sh.FirstMBInSlice)
				if f == 0 {
					require.Equal(t, avc.SLICE_I, sh.SliceType%5)
					require.EqualValues(t, gop, sh.IDRPicID)
				} else {
					require.Equal(t, avc.SLICE_P, sh.SliceType%5)
				}
				require.Less(t, int(sh.Size), 8)
			}
			for _, scheme := range []string{SchemeCENC, SchemeCBCS} {
				ssps, err := mp4.GetAVCProtectRanges(spsMap, ppsMap, s, scheme)
				require.NoError(t, err)
				total := 0
				for _, p := range ssps {
					total += int(p.BytesOfClearData) + int(p.BytesOfProtectedData)
					if p.BytesOfProtectedData > 0 {
						seen[scheme] = true
					}
				}
				require.Equal(t, len(s), total)
			}
			require.Equal(t, len(s), 4*len(nalus)+sum(nalus))
			require.EqualValues(t, len(nalus[0]), binary.BigEndian.Uint32(s))
		}
	}
	require.True(t, seen[SchemeCENC] && seen[SchemeCBCS])
	require.Less(t, slices.Min(sizes), 112, "some slices are too small for cenc protection")
	require.Greater(t, slices.Max(sizes), 2000)
}

func sum(b [][]byte) int {
	n := 0
	for _, x := range b {
		n += len(x)
	}
	return n
}
