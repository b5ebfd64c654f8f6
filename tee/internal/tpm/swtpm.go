package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// maxResponse bounds a TPM response read from the network.
const maxResponse = 1 << 16

// streamTPM speaks raw TPM 2.0 commands over a byte stream, such as swtpm's
// data port. It reads the 10-byte response header and then the rest, since
// one Read on a stream can be short (spec/tpm.md §3).
type streamTPM struct {
	mu sync.Mutex
	c  net.Conn
}

// DialSwtpm connects to swtpm's data port at addr (HOST:PORT).
func DialSwtpm(addr string) (*TPM, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("tpm: failed to reach swtpm: %w", err)
	}
	s := &streamTPM{c: c}
	tp, err := Open(s, c.Close)
	if err != nil {
		c.Close()
		return nil, err
	}
	return tp, nil
}

func (s *streamTPM) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.c.Write(cmd); err != nil {
		return nil, fmt.Errorf("tpm: write: %w", err)
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(s.c, hdr); err != nil {
		return nil, fmt.Errorf("tpm: read: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[2:6])
	if n < 10 || n > maxResponse {
		return nil, errors.New("tpm: bad response size")
	}
	rsp := make([]byte, n)
	copy(rsp, hdr)
	if _, err := io.ReadFull(s.c, rsp[10:]); err != nil {
		return nil, fmt.Errorf("tpm: read: %w", err)
	}
	return rsp, nil
}
