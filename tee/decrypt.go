package tee

import (
	"crypto/cipher"
	"errors"
	"time"
)

// Subsample is one clear/protected pair of a CENC subsample map.
type Subsample struct {
	Clear     uint32
	Protected uint32
}

// Pattern is the cbcs crypt:skip pattern in 16-byte blocks; {0, 0} means
// whole-sample CBC (audio).
type Pattern struct{ Crypt, Skip uint8 }

var (
	errClosed    = errors.New("tee: key is closed")
	errSubsample = errors.New("tee: subsample map exceeds the sample")
	errIV        = errors.New("tee: IV must be 8 or 16 bytes")
	errScheme    = errors.New("tee: key type does not match the protection scheme")
)

func (k *Key) blockFor(cbc bool) (cipher.Block, error) {
	var now time.Time
	var nowErr error
	if k.realtime {
		now, nowErr = k.d.Now()
	}
	if k.ss.version != 0 {
		k.d.touchSession(k)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errClosed
	}
	if !k.released {
		return nil, errNotReleased
	}
	if k.CBC() != cbc {
		return nil, errScheme
	}
	if k.realtime {
		if err := k.checkRealTimeLocked(now, nowErr); err != nil {
			return nil, err
		}
	}
	return k.block, nil
}

// ranges calls f on each protected range of sample.
func ranges(sample []byte, subs []Subsample, f func([]byte)) error {
	if len(subs) == 0 {
		f(sample)
		return nil
	}
	pos := uint64(0)
	for _, s := range subs {
		pos += uint64(s.Clear)
		end := pos + uint64(s.Protected)
		if end > uint64(len(sample)) {
			return errSubsample
		}
		if s.Protected > 0 {
			f(sample[pos:end])
		}
		pos = end
	}
	return nil
}

// DecryptCENC decrypts a 'cenc' (AES-128-CTR) sample in place. The key
// stream runs across the protected ranges only, starting from the 8- or
// 16-byte IV (ISO/IEC 23001-7 §9.5).
func (k *Key) DecryptCENC(sample, iv []byte, subs []Subsample) error {
	b, err := k.blockFor(false)
	if err != nil {
		return err
	}
	var ctr [16]byte
	if len(iv) != 8 && len(iv) != 16 {
		return errIV
	}
	copy(ctr[:], iv)
	s := cipher.NewCTR(b, ctr[:])
	return ranges(sample, subs, func(p []byte) { s.XORKeyStream(p, p) })
}

// DecryptCBCS decrypts a 'cbcs' (AES-128-CBC with a crypt:skip pattern)
// sample in place. Each protected range restarts the chain from the IV; a
// trailing partial block stays clear (ISO/IEC 23001-7 §9.6).
func (k *Key) DecryptCBCS(sample, iv []byte, subs []Subsample, pat Pattern) error {
	b, err := k.blockFor(true)
	if err != nil {
		return err
	}
	if len(iv) != 16 {
		if len(iv) != 8 {
			return errIV
		}
		iv = append(append([]byte(nil), iv...), make([]byte, 8)...)
	}
	crypt, skip := int(pat.Crypt)*16, int(pat.Skip)*16
	return ranges(sample, subs, func(p []byte) {
		m := cipher.NewCBCDecrypter(b, iv)
		if skip == 0 {
			n := len(p) &^ 15
			m.CryptBlocks(p[:n], p[:n])
			return
		}
		// A short final pattern decrypts its whole blocks only.
		for off := 0; off < len(p); off += crypt + skip {
			n := min(crypt, len(p)-off) &^ 15
			m.CryptBlocks(p[off:off+n], p[off:off+n])
		}
	})
}
