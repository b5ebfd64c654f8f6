// Package store is a device's persistent state: its stored (persistent)
// licenses and the license servers' certificates it has fetched, in one
// embedded bbolt file.
//
// bbolt commits with fsync and copy-on-write pages, so a committed record
// survives kill -9 and power loss; an interrupted transaction leaves the last
// committed state. Records are decoded as untrusted bytes (the file can be
// edited) and are fuzzed.
//
// Integrity MAC and TPM-counter rollback detection (docs/architecture.md) are not yet
// applied: today the store trusts its file.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/prsim/prsim/wire/kid"
)

var (
	bucketLicenses = []byte("licenses")
	bucketServers  = []byte("servers")
)

// ErrCorrupt is returned for a record that does not decode.
var ErrCorrupt = errors.New("store: corrupt record")

// Store is an open device store. It is safe for concurrent use; a second
// process opening the same file waits up to the lock timeout.
type Store struct {
	db *bolt.DB
}

// Open opens or creates the store file.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: failed to open: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketLicenses, bucketServers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: failed to initialise: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// License is a stored persistent license: the XMR bytes as received (the
// content key inside stays ElGamal-encrypted to the device key).
type License struct {
	KID    kid.ID
	LID    [16]byte
	Stored time.Time
	XMR    []byte
}

const recordVersion = 1

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
	if len(b) < 41 || b[0] != recordVersion {
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
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLicenses).Put(licenseKey(l.KID, l.LID), l.encode())
	})
}

// DeleteLicense removes a license; deleting a missing one is not an error.
func (s *Store) DeleteLicense(id kid.ID, lid [16]byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLicenses).Delete(licenseKey(id, lid))
	})
}

// Licenses returns every stored license, ordered by KID then LID.
func (s *Store) Licenses() ([]License, error) { return s.scan(nil) }

// LicensesFor returns the stored licenses for one KID.
func (s *Store) LicensesFor(id kid.ID) ([]License, error) { return s.scan(id[:]) }

func (s *Store) scan(prefix []byte) ([]License, error) {
	var out []License
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLicenses).Cursor()
		for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
			l, err := decodeLicense(v)
			if err != nil {
				return err
			}
			out = append(out, *l)
		}
		return nil
	})
	return out, err
}

func hasPrefix(k, p []byte) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == string(p)
}

// PutServerCert caches a license server's certificate chain by origin
// (scheme://host:port).
func (s *Store) PutServerCert(origin string, chain []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketServers).Put([]byte(origin), chain)
	})
}

// ServerCert returns a cached chain, or nil.
func (s *Store) ServerCert(origin string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketServers).Get([]byte(origin)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}
