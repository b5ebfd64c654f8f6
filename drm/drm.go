// Package drm defines the PlayReady DRM_RESULT codes prsim reports and the
// sentinel errors callers branch on.
//
// A [Code] is itself an error, so a package reports a DRM failure by
// wrapping a code: fmt.Errorf("tee: license MAC does not verify: %w",
// drm.ErrLicSignatureFailure). Callers use errors.Is for one condition and
// [CodeOf] to recover the code for an exit status, a SOAP fault StatusCode or
// JSON output.
//
// Names and values follow the public tables collected in docs/formats/errors.md
// (pyplayready misc/drmresults.py and the Microsoft PlayReady docs).
package drm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Code is a PlayReady DRM_RESULT (an HRESULT, 0x8004xxxx for failures).
type Code uint32

// Error returns the name and the value, e.g. "DRM_E_LICENSE_EXPIRED (0x8004C009)".
func (c Code) Error() string { return c.String() }

// String is the same as Error.
func (c Code) String() string {
	return fmt.Sprintf("%s (0x%08X)", c.Name(), uint32(c))
}

// Name returns the symbolic name, or "DRM_E_UNKNOWN" for a value prsim has no
// name for.
func (c Code) Name() string {
	if n, ok := names[c]; ok {
		return n
	}
	return "DRM_E_UNKNOWN"
}

// Hex returns the wire form used in SOAP fault StatusCode, e.g. "0x8004c065".
func (c Code) Hex() string { return fmt.Sprintf("0x%08x", uint32(c)) }

// Failed reports whether the severity bit is set.
func (c Code) Failed() bool { return c&0x80000000 != 0 }

// ParseHex parses a StatusCode such as "0x8004C065" (case-insensitive, the
// 0x prefix optional). It accepts any 32-bit value, named or not.
func ParseHex(s string) (Code, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	v, err := strconv.ParseUint(t, 16, 32)
	if err != nil || t == "" {
		return 0, errors.New("drm: status code is not a 32-bit hex value")
	}
	return Code(v), nil
}

// CodeOf returns the first Code in err's chain.
func CodeOf(err error) (Code, bool) {
	var c Code
	if errors.As(err, &c) {
		return c, true
	}
	return 0, false
}
