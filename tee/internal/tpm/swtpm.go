package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/prsim/prsim/internal/swtpm"
)

// maxResponse bounds a TPM response read from the network.
const maxResponse = 1 << 16

// streamTPM speaks raw TPM 2.0 commands over a byte stream, such as swtpm's
// data port. It reads the 10-byte response header and then the rest, since
// one Read on a stream can be short (docs/formats/tpm.md §3).
type streamTPM struct {
	mu sync.Mutex
	c  net.Conn
}

// DialSwtpm connects to the data port at addr (HOST:PORT) of an swtpm the
// user started and manages; Close only disconnects.
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

// LaunchSwtpm starts swtpm on the state directory dir (see package
// internal/swtpm) and opens it. Close runs TPM2_Shutdown(CLEAR), so the TPM
// saves its state in order, and stops swtpm, waiting for it to exit: a later
// LaunchSwtpm on dir finds the same seeds, so blobs made now load then.
func LaunchSwtpm(dir string) (*TPM, error) {
	// swtpm's errors say "swtpm: …" already.
	p, err := swtpm.Start(swtpm.Options{StateDir: dir})
	if err != nil {
		return nil, err
	}
	c, err := p.Dial()
	if err != nil {
		_ = p.Stop()
		return nil, err
	}
	s := &streamTPM{c: c}
	tp, err := Open(s, func() error {
		_, serr := tpm2.Shutdown{ShutdownType: tpm2.TPMSUClear}.Execute(s)
		c.Close()
		if err := p.Stop(); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("tpm: TPM2_Shutdown: %w", serr)
		}
		return nil
	})
	if err != nil {
		c.Close()
		_ = p.Stop()
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
