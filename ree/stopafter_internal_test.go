package ree

import (
	"math"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/stretchr/testify/require"
)

// fragmentAt is a one-traf fragment of track 1 starting at decode time t
// (no tfdt when t is negative).
func fragmentAt(t int64) *mp4.Fragment {
	traf := &mp4.TrafBox{Tfhd: &mp4.TfhdBox{TrackID: 1}}
	if t >= 0 {
		traf.Tfdt = mp4.CreateTfdt(uint64(t))
	}
	return &mp4.Fragment{Moof: &mp4.MoofBox{Trafs: []*mp4.TrafBox{traf}}}
}

func TestStopPointReached(t *testing.T) {
	s := stopPoint{at: 1500 * time.Millisecond, timescales: map[uint32]uint32{1: 90000}}
	for start, want := range map[int64]bool{0: false, 134999: false, 135000: true, 135001: true} {
		got, err := s.reached(fragmentAt(start))
		require.NoError(t, err)
		require.Equal(t, want, got, "start %d", start)
	}
	// Large decode times and timescales do not overflow.
	big := stopPoint{at: time.Duration(math.MaxInt64), timescales: map[uint32]uint32{1: math.MaxUint32}}
	got, err := big.reached(fragmentAt(math.MaxInt64))
	require.NoError(t, err)
	require.False(t, got, "2^63 ticks at 2^32/s is far less than 2^63 ns")

	// No stop point: never reached, tfdt or not.
	got, err = stopPoint{}.reached(fragmentAt(-1))
	require.NoError(t, err)
	require.False(t, got)
	// A stop point and a fragment whose time is unknown: refused, not
	// played past the stop.
	_, err = s.reached(fragmentAt(-1))
	require.ErrorIs(t, err, ErrMedia)
	_, err = stopPoint{at: time.Second, timescales: map[uint32]uint32{}}.reached(fragmentAt(0))
	require.ErrorIs(t, err, ErrMedia)
}
