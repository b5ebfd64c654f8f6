package drm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseHex(t *testing.T) {
	for _, s := range []string{"0x8004c065", "0X8004C065", "8004C065", " 0x8004c065 "} {
		c, err := ParseHex(s)
		require.NoError(t, err, s)
		require.Equal(t, ErrDevCertRevoked, c)
	}
	for _, s := range []string{"", "0x", "zz", "0x1FFFFFFFF"} {
		_, err := ParseHex(s)
		require.Error(t, err, s)
	}
}

func TestNamesAndWrapping(t *testing.T) {
	require.Equal(t, "DRM_E_SERVER_INTERNAL_ERROR (0x8004C600)", ErrServerInternalError.Error())
	require.Equal(t, "DRM_E_UNKNOWN (0x8004C6FF)", Code(0x8004C6FF).String())
	require.True(t, ErrLicenseExpired.Failed())
	err := fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", ErrLicSignatureFailure))
	c, ok := CodeOf(err)
	require.True(t, ok)
	require.Equal(t, ErrLicSignatureFailure, c)
	_, ok = CodeOf(errors.New("plain"))
	require.False(t, ok)
	// Every named code has a distinct value and a DRM_E_ name.
	seen := map[string]bool{}
	for c, n := range names {
		require.Regexp(t, `^DRM_E_[A-Z0-9_]+$`, n)
		require.False(t, seen[n], n)
		seen[n] = true
		require.True(t, c.Failed(), n)
	}
}
