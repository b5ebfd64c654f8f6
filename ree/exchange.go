package ree

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Recorder receives every SOAP message a client exchanges with a license
// server, in order: the challenge it sends, then the response or fault it
// receives. kind is "challenge", "response" or "fault" (other message types
// use their own lower-case name). Messages carry no secret in the clear
// (client data is encrypted to the server), so they may be kept on disk.
type Recorder interface {
	Record(kind string, body []byte)
}

// ExchangeDir is a [Recorder] that writes each message to a numbered file in
// a directory: 001-challenge.xml, 002-response.xml, … Every file is one
// whole SOAP envelope that `prsim inspect challenge|response` reads.
type ExchangeDir struct {
	dir string

	mu    sync.Mutex
	n     int
	files []string
	err   error
}

var _ Recorder = (*ExchangeDir)(nil)

// NewExchangeDir creates dir (if needed) and returns a recorder writing to it.
func NewExchangeDir(dir string) (*ExchangeDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ree: exchange directory: %w", err)
	}
	return &ExchangeDir{dir: dir}, nil
}

// Record writes one message. A write failure is kept for [ExchangeDir.Err]:
// saving an exchange never changes the outcome of the exchange itself.
func (d *ExchangeDir) Record(kind string, body []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	name := fmt.Sprintf("%03d-%s.xml", d.n, kind)
	if err := os.WriteFile(filepath.Join(d.dir, name), body, 0o644); err != nil {
		if d.err == nil {
			d.err = fmt.Errorf("ree: saving exchange: %w", err)
		}
		return
	}
	d.files = append(d.files, name)
}

// Dir returns the directory.
func (d *ExchangeDir) Dir() string { return d.dir }

// Files returns the names (relative to Dir) written so far, in order.
func (d *ExchangeDir) Files() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.files...)
}

// Err returns the first write failure, if any.
func (d *ExchangeDir) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}
