package ree

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	dashxml "github.com/Eyevinn/dash-mpd/xml"
	"github.com/stretchr/testify/require"
)

// TestDashMPDDecoderStallsOnGreaterThan reproduces the upstream bug that
// escapeTextGT works around, without running the endless loop: dash-mpd's
// XML decoder returns an empty token for a '>' in character data and does
// not consume it, so every later call returns the same; mpd.MPDFromBytes
// calls Token until it sees a start element, forever. Should this test
// fail, dash-mpd has changed: re-check the guard.
func TestDashMPDDecoderStallsOnGreaterThan(t *testing.T) {
	for in, escaped := range map[string]string{">": "&gt;", "x>": "x&gt;", "<MPD>a > b</MPD>": "<MPD>a &gt; b</MPD>"} {
		d := dashxml.NewDecoder(bytes.NewReader([]byte(in)))
		var last int64 = -1
		stalled := false
		for range 10 {
			tok, err := d.Token()
			if err != nil {
				break
			}
			if cd, ok := tok.(dashxml.CharData); (tok == nil || ok && len(cd) == 0) && d.InputOffset() == last {
				stalled = true
				break
			}
			last = d.InputOffset()
		}
		require.True(t, stalled, "%q: dash-mpd's decoder no longer stalls", in)

		// Escaped as checkMPDXML does, the same text reaches EOF.
		d = dashxml.NewDecoder(bytes.NewReader([]byte(escaped)))
		var err error
		for range 10 {
			if _, err = d.Token(); err != nil {
				break
			}
		}
		require.ErrorIs(t, err, io.EOF, "%q", in)
	}
}

func TestCheckMPDXMLEscapesTextOnly(t *testing.T) {
	in := `<?xml version="1.0"?><!-- a > b --><MPD a="x>y"><T>1 > 0</T><![CDATA[ > ]]></MPD>`
	out, err := checkMPDXML([]byte(in))
	require.NoError(t, err)
	require.Equal(t, `<?xml version="1.0"?><!-- a > b --><MPD a="x>y"><T>1 &gt; 0</T><![CDATA[ > ]]></MPD>`, string(out))
	m, err := parseMPD(context.Background(), []byte(in))
	require.NoError(t, err)
	require.NotNil(t, m)
	_, err = parseMPD(context.Background(), []byte("\xef\xbb\xbf<MPD/>"))
	require.NoError(t, err, "a UTF-8 BOM is accepted")
}

func TestCheckNestingCountsHiddenChains(t *testing.T) {
	box := func(typ string, payload []byte) []byte {
		b := make([]byte, 8, 8+len(payload))
		binary.BigEndian.PutUint32(b, uint32(8+len(payload)))
		copy(b[4:], typ)
		return append(b, payload...)
	}
	// Containers hidden after arbitrary leading bytes (as in sample
	// entries) still count.
	chain := func(n int) []byte {
		b := []byte{}
		for i := range n {
			b = box([]string{"moov", "stpp", "traf"}[i%3], append(make([]byte, 13), b...))
		}
		return b
	}
	require.NoError(t, checkBoxes(chain(MaxBoxDepth)))
	err := checkBoxes(chain(MaxBoxDepth + 1))
	require.ErrorIs(t, err, ErrMedia)
	// Siblings do not add up.
	var flat []byte
	for range 1000 {
		flat = append(flat, box("trak", nil)...)
	}
	require.NoError(t, checkBoxes(box("moov", flat)))
	// Sizes.
	for name, b := range map[string][]byte{
		"short header":  {0, 0, 0},
		"size 0":        {0, 0, 0, 0, 'f', 'r', 'e', 'e'},
		"size below 8":  {0, 0, 0, 7, 'f', 'r', 'e', 'e'},
		"size too big":  {0, 0, 0, 9, 'f', 'r', 'e', 'e'},
		"large too big": {0, 0, 0, 1, 'm', 'd', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 17},
	} {
		require.ErrorIs(t, checkBoxes(b), ErrMedia, name)
	}
}

func TestRunGuardedRecoversPanic(t *testing.T) {
	err := runGuarded(context.Background(), "thing", func() error { panic("boom") })
	require.ErrorIs(t, err, ErrMedia)
	require.NotContains(t, err.Error(), "boom")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	block := make(chan struct{})
	defer close(block)
	err = runGuarded(ctx, "thing", func() error { <-block; return nil })
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}
