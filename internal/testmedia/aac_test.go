package testmedia

import (
	"bytes"
	"testing"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/stretchr/testify/require"
)

// Every frame size from the drawn range, beep or silence, parses as the
// raw_data_block that aac.go documents (ISO/IEC 14496-3 Table 4.3), reading
// the syntax field by field, and has exactly the requested size.
func TestAACFrames(t *testing.T) {
	for _, beep := range []bool{false, true} {
		for size := minAudioFrame; size <= maxAudioFrame; size++ {
			f := aacFrame(beep, size)
			require.Len(t, f, size)
			r := bits.NewReader(bytes.NewReader(f))
			require.EqualValues(t, idCPE, r.Read(3))
			require.Zero(t, r.Read(4), "element_instance_tag")
			require.True(t, r.ReadFlag(), "common_window")
			require.Zero(t, r.Read(1), "ics_reserved_bit")
			require.Zero(t, r.Read(2), "ONLY_LONG_SEQUENCE")
			require.Zero(t, r.Read(1), "sine window")
			maxSFB := r.Read(6)
			require.Zero(t, r.Read(1), "predictor_data_present")
			require.Zero(t, r.Read(2), "ms_mask_present")
			for range 2 {
				gain := r.Read(8)
				if beep {
					require.EqualValues(t, beepMaxSFB, maxSFB)
					require.EqualValues(t, beepGain, gain)
					// section_data: read sections until max_sfb bands.
					var cbs []uint
					for len(cbs) < int(maxSFB) {
						cb := r.Read(4)
						n := r.Read(5)
						require.Less(t, n, uint(31), "no escaped section length")
						for range n {
							cbs = append(cbs, cb)
						}
					}
					require.Len(t, cbs, beepMaxSFB)
					for band, cb := range cbs {
						require.Equal(t, band == 10, cb == 1, "band %d codebook %d", band, cb)
						require.True(t, cb == 0 || cb == 1)
					}
					require.Zero(t, r.Read(1), "scale factor code of difference 0")
				} else {
					require.Zero(t, maxSFB)
				}
				require.Zero(t, r.Read(3), "no pulse, TNS or gain control data")
				if beep {
					require.EqualValues(t, 0b10110, r.Read(5), "quadruple (0,0,1,0)")
					require.Zero(t, r.Read(1), "quadruple (0,0,0,0)")
				}
			}
			require.EqualValues(t, idFIL, r.Read(3))
			cnt := int(r.Read(4))
			if cnt == 15 {
				cnt += int(r.Read(8)) - 1
			}
			if cnt > 0 {
				require.Zero(t, r.Read(4), "EXT_FILL")
				require.Zero(t, r.Read(4), "fill_nibble")
				for range cnt - 1 {
					require.EqualValues(t, 0b10100101, r.Read(8))
				}
			}
			require.EqualValues(t, idEND, r.Read(3))
			pad := 8 - r.NrBitsReadInCurrentByte()
			if pad < 8 {
				require.Zero(t, r.Read(pad), "byte_alignment")
			}
			require.NoError(t, r.AccError())
			require.Equal(t, size, r.NrBytesRead(), "beep %v size %d", beep, size)
		}
	}
}

// The beep lasts about 0.2 s from the start of each second.
func TestBeeping(t *testing.T) {
	on := 0
	for i := range 470 { // 10 s
		if beeping(i) {
			on++
			start := float64(i*audioFrameLen) / audioRate
			require.Less(t, start-float64(int(start)), beepSeconds)
		}
	}
	require.InDelta(t, 10*beepSeconds*audioRate/audioFrameLen, on, 10)
	require.True(t, beeping(0))
	require.False(t, beeping(10))
	require.True(t, beeping(47))
}
