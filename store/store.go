// Package store is a device's persistent state: its stored (persistent)
// licenses, the license servers' certificates it has fetched, and the
// TEE's sealed state blob, in one embedded bbolt file.
//
// bbolt commits with fsync and copy-on-write pages, so a committed record
// survives kill -9 and power loss; an interrupted transaction leaves the last
// committed state. Records are decoded as untrusted bytes (the file can be
// edited) and are fuzzed.
//
// The store does not judge the TEE's blob: the TEE encrypts and MACs it
// and checks its generation against a TPM NV counter, so a file copied
// back is refused by the TEE when the counter lives outside the device
// directory (package tee). Licenses carry their own MAC (checked at bind).
//
// # Damaged files
//
// bbolt maps the file and follows its page ids and offsets without bounds
// checks, so a truncated or edited file could crash the process. Open first
// checks the whole structure bbolt will follow (validate.go) with ordinary
// bounds-checked reads, then every operation runs with faults turned into
// panics (runtime/debug.SetPanicOnFault) and panics recovered. Any of these
// failures is a [DamagedError] (errors.Is [ErrDamaged]) naming the file; the
// store is closed and refuses further use, since a panic inside a bbolt
// transaction can leave its locks held.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/prsim/prsim/wire/kid"
)

var (
	bucketLicenses = []byte("licenses")
	bucketServers  = []byte("servers")
	bucketTEE      = []byte("tee")
	keyTEEState    = []byte("state")
)

var (
	// ErrCorrupt is returned (inside a [DamagedError]) for a record that
	// does not decode.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrDamaged is returned (as a [DamagedError]) when the store file is
	// damaged; the store is then closed.
	ErrDamaged = errors.New("store: damaged")
	// ErrClosed is returned by operations on a closed store.
	ErrClosed = errors.New("store: closed")
)

// DamagedError reports a damaged store file: its path, why, and what to do.
// It matches [ErrDamaged] and its cause with errors.Is.
type DamagedError struct {
	Path   string
	Reason error // structural; never the file's bytes
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s is damaged (%v): move it away and re-acquire persistent licenses; "+
		"the device keys are in device.json and are not affected", e.Path, e.Reason)
}

// Unwrap returns ErrDamaged and the reason.
func (e *DamagedError) Unwrap() []error { return []error{ErrDamaged, e.Reason} }

// Store is an open device store. It is safe for concurrent use; a second
// process opening the same file waits up to the lock timeout.
type Store struct {
	path string

	mu      sync.RWMutex // write-held only to record damage or close
	db      *bolt.DB     // nil once closed
	damaged error        // set once: every later call returns it
}

// Open opens or creates the store file. A damaged file gives a
// [DamagedError].
func Open(path string) (*Store, error) {
	if err := validateFile(path); err != nil {
		return nil, &DamagedError{Path: path, Reason: err}
	}
	var db *bolt.DB
	err := guard(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
		if err != nil {
			if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
				return errDamagedCause{err}
			}
			return fmt.Errorf("store: failed to open %s: %w", path, err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketLicenses, bucketServers, bucketTEE} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return errDamagedCause{err}
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			db = nil
			var dc errDamagedCause
			if !errors.As(err, &dc) {
				return fmt.Errorf("store: failed to initialise %s: %w", path, err)
			}
		}
		return err
	})
	var dc errDamagedCause
	if errors.As(err, &dc) {
		if db != nil {
			// A panic may have left bbolt's locks held: close without
			// waiting for them.
			go db.Close() //nolint:errcheck // best effort on a damaged file
		}
		return nil, &DamagedError{Path: path, Reason: dc.error}
	}
	if err != nil {
		return nil, err
	}
	return &Store{path: path, db: db}, nil
}

// Close closes the file. Closing a damaged store (already closed) returns
// nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// errDamagedCause marks an error from inside a guarded operation as damage.
type errDamagedCause struct{ error }

// guard runs fn with memory faults turned into panics and panics into
// damage: bbolt reads the mapped file without bounds checks and asserts its
// invariants with panics. The panic value is not kept: it may quote bytes of
// the file.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); ok {
				err = errDamagedCause{errors.New("a read outside the file")}
			} else {
				err = errDamagedCause{errors.New("the database engine found it inconsistent")}
			}
		}
	}()
	return fn()
}

// do runs one store operation: refused after damage or close; damage found
// now closes the store.
func (s *Store) do(fn func(db *bolt.DB) error) error {
	s.mu.RLock()
	db, damaged := s.db, s.damaged
	var err error
	switch {
	case damaged != nil:
		err = damaged
	case db == nil:
		err = ErrClosed
	default:
		err = guard(func() error { return fn(db) })
	}
	s.mu.RUnlock()
	var dc errDamagedCause
	if !errors.As(err, &dc) {
		return err
	}
	derr := &DamagedError{Path: s.path, Reason: dc.error}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.damaged == nil {
		s.damaged = derr
		if s.db != nil {
			go s.db.Close() //nolint:errcheck // may block on locks a panic left held
			s.db = nil
		}
	}
	return s.damaged
}

// License is a stored persistent license: the XMR bytes as received (the
// content key inside stays ElGamal-encrypted to the device key).
type License struct {
	KID    kid.ID
	LID    [16]byte
	Stored time.Time
	XMR    []byte
}

const (
	recordVersion = 1
	// maxXMR bounds a stored license (an XMR license is a few kilobytes),
	// so that decoding an edited record allocates a bounded amount.
	maxXMR = 1 << 20
)

// encode: version u8 | KID 16 | LID 16 | stored unix-nanos i64 BE | XMR.
func (l *License) encode() []byte {
	b := make([]byte, 0, 41+len(l.XMR))
	b = append(b, recordVersion)
	b = append(b, l.KID[:]...)
	b = append(b, l.LID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Stored.UnixNano()))
	return append(b, l.XMR...)
}

func decodeLicense(b []byte) (*License, error) {
	if len(b) < 41 || len(b) > 41+maxXMR || b[0] != recordVersion {
		return nil, ErrCorrupt
	}
	l := &License{
		KID:    kid.ID(b[1:17]),
		LID:    [16]byte(b[17:33]),
		Stored: time.Unix(0, int64(binary.BigEndian.Uint64(b[33:41]))).UTC(),
		XMR:    append([]byte(nil), b[41:]...),
	}
	return l, nil
}

func licenseKey(id kid.ID, lid [16]byte) []byte {
	return append(append([]byte(nil), id[:]...), lid[:]...)
}

// PutLicense stores (or replaces) a license; it is durable when PutLicense
// returns.
func (s *Store) PutLicense(l License) error {
	if len(l.XMR) > maxXMR {
		return fmt.Errorf("store: a license of %d bytes is larger than the %d a store keeps", len(l.XMR), maxXMR)
	}
	return s.do(func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error {
			return bucket(tx, bucketLicenses).Put(licenseKey(l.KID, l.LID), l.encode())
		})
	})
}

// DeleteLicense removes a license; deleting a missing one is not an error.
func (s *Store) DeleteLicense(id kid.ID, lid [16]byte) error {
	return s.do(func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error {
			return bucket(tx, bucketLicenses).Delete(licenseKey(id, lid))
		})
	})
}

// Licenses returns every stored license, ordered by KID then LID.
func (s *Store) Licenses() ([]License, error) { return s.scan(nil) }

// LicensesFor returns the stored licenses for one KID.
func (s *Store) LicensesFor(id kid.ID) ([]License, error) { return s.scan(id[:]) }

func (s *Store) scan(prefix []byte) ([]License, error) {
	var out []License
	err := s.do(func(db *bolt.DB) error {
		out = nil
		return db.View(func(tx *bolt.Tx) error {
			c := bucket(tx, bucketLicenses).Cursor()
			for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
				l, err := decodeLicense(v)
				if err != nil {
					return errDamagedCause{err}
				}
				// An edited file could file a record under another KID.
				if string(k) != string(licenseKey(l.KID, l.LID)) {
					return errDamagedCause{fmt.Errorf("%w: filed under another key", ErrCorrupt)}
				}
				out = append(out, *l)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func hasPrefix(k, p []byte) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == string(p)
}

// PutServerCert caches a license server's certificate chain by origin
// (scheme://host:port).
func (s *Store) PutServerCert(origin string, chain []byte) error {
	return s.do(func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error {
			return bucket(tx, bucketServers).Put([]byte(origin), chain)
		})
	})
}

// ServerCert returns a cached chain, or nil.
func (s *Store) ServerCert(origin string) ([]byte, error) {
	var out []byte
	err := s.do(func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error {
			if v := bucket(tx, bucketServers).Get([]byte(origin)); v != nil {
				out = append([]byte(nil), v...)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// bucket returns one of the buckets Open created; one missing since (the
// file was edited under an open store) is damage, via guard.
func bucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	if b == nil {
		panic("store: bucket missing")
	}
	return b
}

// maxSealed bounds the TEE state blob the store hands back.
const maxSealed = 4 << 20

// ReadSealed returns the TEE's sealed state blob, or nil when none was
// written. The store cannot read it: the TEE encrypts and MACs it under a
// key sealed in the TPM, and checks its generation against a TPM counter
// (package tee, docs/protocol.md "TEE state").
func (s *Store) ReadSealed() ([]byte, error) {
	var out []byte
	err := s.do(func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error {
			v := bucket(tx, bucketTEE).Get(keyTEEState)
			if len(v) > maxSealed {
				return errDamagedCause{fmt.Errorf("%w: TEE state of %d bytes", ErrCorrupt, len(v))}
			}
			if v != nil {
				out = append([]byte(nil), v...)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WriteSealed replaces the TEE's sealed state blob; it is durable when
// WriteSealed returns (bbolt commits with fsync).
func (s *Store) WriteSealed(blob []byte) error {
	if len(blob) > maxSealed {
		return fmt.Errorf("store: a TEE state of %d bytes is larger than the %d a store keeps", len(blob), maxSealed)
	}
	return s.do(func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error {
			return bucket(tx, bucketTEE).Put(keyTEEState, blob)
		})
	})
}
