package bcert

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/prsim/prsim/drm"
)

// Chain is a BCert chain (docs/formats/bcert.md §2), leaf first.
type Chain struct {
	Version, Flags uint32
	Certs          []*Cert
}

// ParseChain decodes a chain. The header must say CHAI version 1, its total
// length must equal len(b), and it must hold 1…6 certificates that exactly
// fill it; each certificate is parsed as by [ParseCert]. ParseChain checks
// form only: use [Chain.Verify] before trusting anything in it.
func ParseChain(b []byte) (*Chain, error) {
	if len(b) < ChainHeaderSize {
		return nil, chainErr("chain header truncated", drm.ErrBCertInvalidChainLength)
	}
	if !bytes.Equal(b[:4], chainMagic[:]) {
		return nil, chainErr("chain magic is not CHAI", drm.ErrBCertInvalidChainHeaderTag)
	}
	if be32(b[4:]) != ChainVersion {
		return nil, chainErr("chain version is not 1", drm.ErrBCertInvalidChainVersion)
	}
	if uint64(be32(b[8:])) != uint64(len(b)) {
		return nil, chainErr("chain length does not match the input", drm.ErrBCertInvalidChainLength)
	}
	count := be32(b[16:])
	if count == 0 {
		return nil, chainErr("chain holds no certificate", drm.ErrBCertInvalidChainLength)
	}
	if count > MaxCerts {
		return nil, chainErr("chain holds more than 6 certificates", drm.ErrBCertChainTooDeep)
	}
	ch := &Chain{Version: ChainVersion, Flags: be32(b[12:]), Certs: make([]*Cert, 0, count)}
	off := ChainHeaderSize
	for range count {
		c, n, err := parseCert(b[off:])
		if err != nil {
			return nil, fmt.Errorf("bcert: certificate %d: %w", len(ch.Certs), err)
		}
		ch.Certs = append(ch.Certs, c)
		off += n
	}
	if off != len(b) {
		return nil, chainErr("certificates do not fill the chain", drm.ErrBCertInvalidChainLength)
	}
	return ch, nil
}

func chainErr(msg string, code drm.Code) error {
	return fmt.Errorf("bcert: %s: %w", msg, code)
}

// NewChain returns a version-1 chain of certs, leaf first.
func NewChain(certs ...*Cert) *Chain {
	return &Chain{Version: ChainVersion, Certs: append([]*Cert(nil), certs...)}
}

// Prepend returns a new chain with leaf in front of c's certificates (§12
// step 5); c is not modified.
func (c *Chain) Prepend(leaf *Cert) *Chain {
	certs := make([]*Cert, 0, len(c.Certs)+1)
	certs = append(append(certs, leaf), c.Certs...)
	return &Chain{Version: c.Version, Flags: c.Flags, Certs: certs}
}

// Leaf returns the first certificate, or nil for an empty chain.
func (c *Chain) Leaf() *Cert {
	if len(c.Certs) == 0 {
		return nil
	}
	return c.Certs[0]
}

// Bytes returns the encoded chain; the total length and count are computed,
// so a parsed Chain re-encodes to its input.
func (c *Chain) Bytes() []byte {
	b := make([]byte, ChainHeaderSize, 1024)
	copy(b, chainMagic[:])
	binary.BigEndian.PutUint32(b[4:], c.Version)
	binary.BigEndian.PutUint32(b[12:], c.Flags)
	binary.BigEndian.PutUint32(b[16:], uint32(len(c.Certs)))
	for _, ct := range c.Certs {
		b, _ = ct.encode(b)
	}
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)))
	return b
}
