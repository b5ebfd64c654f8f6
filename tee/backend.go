package tee

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prsim/prsim/tee/internal/tpm"
	"github.com/prsim/prsim/tee/internal/tpm/sim"
)

// ErrBackend is returned for a backend URI prsim does not understand.
var ErrBackend = errors.New("tee: unknown key backend (want soft, sim, sim:SEED, swtpm:DIR, swtpm:HOST:PORT or a TPM device path)")

// Backend is an open key store: pure Go, or a TPM shared by every device
// opened on it. Close it after the devices.
type Backend struct {
	uri string
	ks  keyStore // chosen once, in OpenBackend
}

// ResolveBackend turns a backend URI into the concrete one a device records:
// "sim" becomes "sim:SEED" with a fresh random seed, so that a device's
// simulator (and so its key blobs) can be re-created in a later process, and
// "swtpm:DIR" gets an absolute DIR, so a later process started elsewhere
// restarts swtpm on the same state.
func ResolveBackend(uri string, rand io.Reader) (string, error) {
	switch {
	case uri == "" || uri == "soft":
		return "soft", nil
	case uri == "sim":
		var b [8]byte
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return "", err
		}
		return "sim:" + strconv.FormatInt(int64(binary.BigEndian.Uint64(b[:])>>1), 10), nil
	case strings.HasPrefix(uri, "sim:"):
		if _, err := strconv.ParseInt(uri[4:], 10, 64); err != nil {
			return "", ErrBackend
		}
		return uri, nil
	case strings.HasPrefix(uri, "swtpm:"):
		rest := uri[len("swtpm:"):]
		if rest == "" {
			return "", ErrBackend
		}
		if isHostPort(rest) {
			return uri, nil
		}
		dir, err := filepath.Abs(rest)
		if err != nil {
			return "", ErrBackend
		}
		return "swtpm:" + dir, nil
	case strings.HasPrefix(uri, "/"):
		return uri, nil
	}
	return "", ErrBackend
}

// isHostPort tells "swtpm:HOST:PORT" (an swtpm the user runs) from
// "swtpm:DIR" (one prsim starts on a state directory): a non-empty host
// without a path separator and a port number. A directory whose name looks
// like HOST:PORT is written with a "./" prefix (docs/swtpm.md).
func isHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || strings.ContainsAny(host, `/\`) {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}

// OpenBackend opens a concrete backend URI (see [ResolveBackend]). Only one
// simulator can be open per process; a second "sim:" Open waits for the
// first Close. "swtpm:DIR" starts swtpm on DIR and Close stops it; swtpm
// serves one process at a time, so a second Open of the same DIR (in any
// process) waits up to 30 s for the first Close.
func OpenBackend(uri string) (*Backend, error) {
	switch {
	case uri == "soft":
		return &Backend{uri: uri, ks: softStore{}}, nil
	case strings.HasPrefix(uri, "sim:"):
		seed, err := strconv.ParseInt(uri[4:], 10, 64)
		if err != nil {
			return nil, ErrBackend
		}
		t, err := sim.Open(seed)
		if err != nil {
			return nil, fmt.Errorf("tee: %w", err)
		}
		return &Backend{uri: uri, ks: &tpmStore{t: t}}, nil
	case strings.HasPrefix(uri, "swtpm:"):
		rest := uri[len("swtpm:"):]
		if rest == "" {
			return nil, ErrBackend
		}
		open := tpm.LaunchSwtpm
		if isHostPort(rest) {
			open = tpm.DialSwtpm
		}
		t, err := open(rest)
		if err != nil {
			return nil, fmt.Errorf("tee: %w", err)
		}
		return &Backend{uri: uri, ks: &tpmStore{t: t}}, nil
	case strings.HasPrefix(uri, "/"):
		t, err := tpm.OpenDevice(uri)
		if err != nil {
			return nil, fmt.Errorf("tee: %w", err)
		}
		return &Backend{uri: uri, ks: &tpmStore{t: t}}, nil
	}
	return nil, ErrBackend
}

// URI returns the concrete backend URI.
func (b *Backend) URI() string { return b.uri }

// IsTPM reports whether keys live in a TPM.
func (b *Backend) IsTPM() bool { return b.ks.hardware() }

// Close releases the TPM, if any.
func (b *Backend) Close() error { return b.ks.close() }
