package testmedia

import (
	"bytes"

	"github.com/Eyevinn/mp4ff/bits"
)

// AAC-LC frames written bit by bit (ISO/IEC 14496-3 §4.4.2, §4.5.2): the
// sound is a 1 kHz beep of about 0.2 s at the start of every second, and
// silence in between, on both channels of a stereo pair.
//
// Each frame is one raw_data_block() of three syntactic elements, most
// significant bit first:
//
//	id_syn_ele            3  ID_CPE (1): channel_pair_element()
//	element_instance_tag  4  0
//	common_window         1  1: one ics_info for both channels
//	ics_info():
//	  ics_reserved_bit    1  0
//	  window_sequence     2  ONLY_LONG_SEQUENCE (0): one 2048-point window
//	  window_shape        1  0: sine window
//	  max_sfb             6  0 (silence) or 11 (beep: bands 0..10)
//	  predictor_data_present 1  0
//	ms_mask_present       2  0: left and right coded separately
//	individual_channel_stream(common_window=1), twice:
//	  global_gain         8  the first scale factor
//	  section_data()         beep only: sect_cb 4 = 0 (ZERO_HCB),
//	                         sect_len 5 = 10; sect_cb 4 = 1, sect_len 5 = 1
//	                         (bands 0..9 carry nothing, band 10 uses
//	                         Huffman codebook 1)
//	  scale_factor_data()    beep only: band 10's difference to
//	                         global_gain, 0, whose scale factor Huffman
//	                         code is "0" (Table 4.A.1, index 60)
//	  pulse_data_present  1  0
//	  tns_data_present    1  0
//	  gain_control_data_present 1  0
//	  spectral_data()        beep only: band 10 (spectral lines 40..47 at
//	                         48 kHz, long windows) as two quadruples of
//	                         codebook 1 (Table 4.A.2, signed, index
//	                         27(w+1)+9(x+1)+3(y+1)+(z+1)): (0,0,1,0) is
//	                         index 43, code "10110"; (0,0,0,0) is index
//	                         40, code "0"
//	id_syn_ele            3  ID_FIL (6): fill_element(), which
//	count                 4  pads the frame to its drawn size; count 15
//	esc_count             8  adds an 8-bit esc_count (cnt = 14 + esc_count)
//	extension_payload(cnt)   extension_type 4 = EXT_FILL (0), fill_nibble
//	                         4 = 0, then cnt−1 fill_byte 10100101
//	id_syn_ele            3  ID_END (7)
//	byte_alignment()         zero bits to a byte boundary
//
// The beep is one quantized spectral line, line 42, of value 1. Its
// dequantized value is 2^((sf−100)/4) (§4.6.1.3, §4.6.2.3) and the inverse
// MDCT (§4.6.11.3.1, factor 2/N with N = 2048) turns it into a cosine of
// amplitude value/1024 in 16-bit sample units. With the same value in
// consecutive frames the sine windows overlap-add to a steady tone of
// constant amplitude at 42·48000/2048 = 984.4 Hz, half a line below line
// 42's centre (996.1 Hz). With sf = 184 the amplitude is 2^21/1024 = 2048,
// −24 dBFS; decode_test.go measures both with ffmpeg.
const (
	idCPE = 1
	idFIL = 6
	idEND = 7

	beepMaxSFB  = 11  // bands 0..10
	beepGain    = 184 // global_gain = scale factor of band 10
	silentGain  = 100 // any value: no band is coded
	beepSeconds = 0.2 // beep length at the start of each second
)

// Audio frame sizes drawn per frame: a fill element pads each frame to
// this many bytes, so that every frame holds at least one whole AES block
// (cbcs audio encrypts whole 16-byte blocks only) and sizes vary.
const (
	minAudioFrame = 24
	maxAudioFrame = 64
)

// beeping reports whether AAC frame i (counted over the presentation)
// starts within the first beepSeconds of a second.
func beeping(i int) bool {
	return (i*audioFrameLen)%audioRate < int(beepSeconds*audioRate)
}

// aacFrame returns one raw_data_block of size bytes (size must be at
// least 16, enough for the beep and the fill element header).
func aacFrame(beep bool, size int) []byte {
	var buf bytes.Buffer
	w := bits.NewWriter(&buf)
	n := 0 // bits written
	put := func(v uint, width int) {
		w.Write(v, width)
		n += width
	}
	put(idCPE, 3)
	put(0, 4) // element_instance_tag
	put(1, 1) // common_window
	put(0, 1) // ics_reserved_bit
	put(0, 2) // window_sequence ONLY_LONG_SEQUENCE
	put(0, 1) // window_shape sine
	if beep {
		put(beepMaxSFB, 6)
	} else {
		put(0, 6)
	}
	put(0, 1) // predictor_data_present
	put(0, 2) // ms_mask_present
	for range 2 {
		if !beep {
			put(silentGain, 8)
			put(0, 3) // pulse, tns, gain control: absent
			continue
		}
		put(beepGain, 8)
		put(0, 4)  // sect_cb ZERO_HCB
		put(10, 5) // sect_len: bands 0..9
		put(1, 4)  // sect_cb 1
		put(1, 5)  // sect_len: band 10
		put(0, 1)  // hcod_sf[60]: scale factor difference 0
		put(0, 3)  // pulse, tns, gain control: absent
		put(0b10110, 5)
		put(0, 1)
	}
	// Fill element: with h header bits, the frame is ceil((n+h+3)/8) + cnt
	// bytes. When cnt does not fit in count (h = 7), the escaped form
	// (h = 15) loses at most one byte to the header, so its cnt is at
	// least 14, which esc_count 0 expresses.
	cnt, escaped := size-(n+7+3+7)/8, false
	if cnt >= 15 {
		cnt, escaped = size-(n+15+3+7)/8, true
	}
	put(idFIL, 3)
	if !escaped {
		put(uint(cnt), 4)
	} else {
		put(15, 4)
		put(uint(cnt-14), 8)
	}
	if cnt > 0 {
		put(0, 4) // extension_type EXT_FILL
		put(0, 4) // fill_nibble
		for range cnt - 1 {
			put(0b10100101, 8)
		}
	}
	put(idEND, 3)
	w.Flush() // byte_alignment
	return buf.Bytes()
}
