package xmr

import (
	"errors"
	"fmt"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/keywrap"
)

// SECURESTOP2 (0x5C) body, prsim-defined (docs/formats/xmr.md §5,
// docs/protocol.md §11): version u16 = 1 ‖ the RFC 3394 AES key wrap of the
// 16-byte SecureStop2 key under the license's content integrity key.
const (
	secureStop2Version     = 1
	secureStop2WrappedSize = 16 + keywrap.Overhead
)

// ErrNoSecureStop2 reports a license without a SECURESTOP2 object.
var ErrNoSecureStop2 = errors.New("xmr: license has no SECURESTOP2 key")

// secureStop2 returns the SECURESTOP2 body for t's key wrapped under ci, or
// nil when t has none.
func (t *Template) secureStop2(ci []byte) ([]byte, error) {
	if t.SecureStop2Key == nil {
		return nil, nil
	}
	w, err := keywrap.Wrap(ci, t.SecureStop2Key[:])
	if err != nil {
		return nil, errors.New("xmr: failed to wrap the SecureStop2 key")
	}
	return append(u16(secureStop2Version), w...), nil
}

// SecureStop2Key unwraps the license's SecureStop2 key (XMR 0x5C) with ci,
// its content integrity key: the first 16 bytes of the unwrapped CI‖CK. A
// license without the object returns [ErrNoSecureStop2]; a key that does not
// unwrap (wrong ci, tampered object) wraps keywrap.ErrUnwrap and
// drm.ErrInvalidLicense. The key must be kept secret.
func (l *License) SecureStop2Key(ci []byte) ([16]byte, error) {
	var key [16]byte
	w := l.Policy().SecureStop2
	if w == nil {
		return key, ErrNoSecureStop2
	}
	if len(ci) != 16 {
		return key, errors.New("xmr: content integrity key must be 16 bytes")
	}
	k, err := keywrap.Unwrap(ci, w)
	if err != nil || len(k) != len(key) {
		return key, fmt.Errorf("xmr: SECURESTOP2 key does not unwrap: %w: %w", keywrap.ErrUnwrap, drm.ErrInvalidLicense)
	}
	copy(key[:], k)
	clear(k)
	return key, nil
}
