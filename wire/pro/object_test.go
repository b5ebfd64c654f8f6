package pro

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestObjectRecords(t *testing.T) {
	hdr := readFile(t, "header-spec-3.6.1.pro")
	o, err := Parse(hdr)
	require.NoError(t, err)

	// A PRO with an empty 10 KB ELS after the header (header spec §4) and
	// an unknown record type: all kept raw, Header finds the header.
	o.Records = append([]Record{{Type: 0x0002, Value: []byte{1, 2, 3}}}, o.Records...)
	o.Records = append(o.Records, Record{Type: RecordELS, Value: make([]byte, 10*1024)})
	b := o.Bytes()
	require.Len(t, b, 860+7+4+10*1024)
	o2, err := Parse(b)
	require.NoError(t, err)
	require.Equal(t, o, o2)
	require.Equal(t, b, o2.Bytes())
	h, err := o2.Header()
	require.NoError(t, err)
	require.Equal(t, Version40, h.Version)

	// Parse does not alias its input.
	b[16] ^= 0xFF
	require.Equal(t, o, o2)

	empty, err := Parse([]byte{6, 0, 0, 0, 0, 0})
	require.NoError(t, err)
	require.Empty(t, empty.Records)
	require.Equal(t, []byte{6, 0, 0, 0, 0, 0}, empty.Bytes())
	h, err = empty.Header()
	require.ErrorIs(t, err, ErrMalformed)
	require.Nil(t, h)
}

func TestParseRejects(t *testing.T) {
	good := readFile(t, "header-spec-3.6.1.pro")
	mut := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	for name, b := range map[string][]byte{
		"nil":            nil,
		"short":          {6, 0, 0, 0, 0},
		"length small":   mut(func(b []byte) []byte { b[0]--; return b }),
		"length large":   mut(func(b []byte) []byte { b[0]++; return b }),
		"trailing":       append(mut(func(b []byte) []byte { b[0]++; return b }), 0),
		"truncated":      mut(func(b []byte) []byte { b = b[:len(b)-1]; b[0]--; return b }),
		"record too big": mut(func(b []byte) []byte { b[8] += 2; return b }),
		"count high":     mut(func(b []byte) []byte { b[4] = 2; return b }),
		"count low":      mut(func(b []byte) []byte { b[4] = 0; return b }),
		"odd header":     {11, 0, 0, 0, 1, 0, 1, 0, 1, 0, '<'},
		"too large":      func() []byte { b := make([]byte, MaxObjectSize+1); b[0], b[1], b[2] = 1, 0, 1; return b }(),
	} {
		o, err := Parse(b)
		require.ErrorIs(t, err, ErrMalformed, name)
		require.Nil(t, o, name)
	}
	// A header record that is not a valid header fails in Header, not Parse.
	o, err := Parse([]byte{12, 0, 0, 0, 1, 0, 1, 0, 2, 0, 'x', 0})
	require.NoError(t, err)
	h, err := o.Header()
	require.ErrorIs(t, err, ErrMalformed)
	require.Nil(t, h)
}

func TestObjectBytesUnencodable(t *testing.T) {
	for name, o := range map[string]*Object{
		"value too long": {Records: []Record{{Type: RecordELS, Value: make([]byte, 1<<16)}}},
		"odd header":     {Records: []Record{{Type: RecordHeader, Value: []byte{'<'}}}},
		"too large":      {Records: []Record{{Type: RecordELS, Value: make([]byte, 60000)}, {Type: RecordELS, Value: make([]byte, 60000)}}},
		"many records":   {Records: make([]Record, 1<<16)},
	} {
		require.Nil(t, o.Bytes(), name)
	}
	// A header too large for one record.
	h := &Header{Version: Version42, CustomAttributes: "<a>" + strings.Repeat("x", 40000) + "</a>"}
	o, err := NewObject(h)
	require.ErrorIs(t, err, ErrMalformed)
	require.Nil(t, o)
}
