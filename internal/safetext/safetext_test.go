package safetext

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestASCII(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\x1b[31mred", "a?[31mred"},
		{"tab\tnl\n", "tab?nl?"},
		{"bidi\u202eev", "bidi???ev"},
		{"0123456789abc", "0123456789…"},
	} {
		require.Equal(t, tc.want, ASCII(tc.in, 10), tc.in)
	}
}
