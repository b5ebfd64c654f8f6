package ree

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpandTemplate(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"seg_$Number$.m4s", "seg_7.m4s"},
		{"seg_$Number%05d$.m4s", "seg_00007.m4s"},
		{"$RepresentationID$/$Time$.m4s", "v1/90000.m4s"},
		{"$Bandwidth$-$$.m4s", "500000-$.m4s"},
	} {
		got, err := expandTemplate(c.in, "v1", 500000, 7, 90000)
		require.NoError(t, err)
		require.Equal(t, c.want, got)
	}
	_, err := expandTemplate("$RepresentationID%05d$", "v1", 1, 1, 1)
	require.ErrorIs(t, err, ErrMedia)
}
