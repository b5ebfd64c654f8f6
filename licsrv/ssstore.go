package licsrv

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The server's durable state for secure stop and license acknowledgement
// (docs/protocol.md §11): reports, open streams, pending transaction IDs
// and acknowledgements. With a DataDir it lives in DataDir/securestop.db
// (bbolt: every update is one fsynced transaction, so a report the server
// acknowledged survives a crash); without one, in memory, for tests and
// the demo's throwaway servers.

// ssDBName is the database file in DataDir.
const ssDBName = "securestop.db"

// Buckets. Keys and values are prsim-internal; only the JSON endpoints
// are an interface.
var (
	bktReports     = []byte("reports")      // seq (u64 BE) → report JSON
	bktReportIndex = []byte("report-index") // session ID → seq
	bktStreams     = []byte("streams")      // publisher ID → account
	bktAccount     = []byte("account")      // u16 len ‖ account ‖ publisher ID → issue time (i64 BE, Unix s)
	bktPending     = []byte("pending-tid")  // u16 len ‖ TID ‖ device digest → issue time
	bktAcks        = []byte("acks")         // seq → ack JSON
)

var allBuckets = [][]byte{bktReports, bktReportIndex, bktStreams, bktAccount, bktPending, bktAcks}

// kvTx is one transaction of the state store.
type kvTx interface {
	get(bucket, key []byte) []byte
	put(bucket, key, val []byte) error
	del(bucket, key []byte) error
	// nextSeq returns the bucket's next sequence number (from 1).
	nextSeq(bucket []byte) (uint64, error)
	// each visits the keys with prefix in order; fn must not modify the
	// bucket.
	each(bucket, prefix []byte, fn func(k, v []byte) error) error
}

// kvStore is the state store: bbolt or memory.
type kvStore interface {
	update(fn func(kvTx) error) error
	view(fn func(kvTx) error) error
	close() error
}

// openStore opens DataDir/securestop.db, or a memory store without a
// DataDir.
func openStore(dataDir string) (kvStore, error) {
	if dataDir == "" {
		return newMemStore(), nil
	}
	path := filepath.Join(dataDir, ssDBName)
	// The timeout turns a second server on the same DataDir into an error
	// rather than a hang.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("licsrv: cannot open %s: %w", ssDBName, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("licsrv: cannot initialise %s: %w", ssDBName, err)
	}
	return &boltStore{db: db}, nil
}

type boltStore struct{ db *bolt.DB }

func (s *boltStore) update(fn func(kvTx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}
func (s *boltStore) view(fn func(kvTx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}
func (s *boltStore) close() error { return s.db.Close() }

type boltTx struct{ tx *bolt.Tx }

func (t boltTx) bucket(name []byte) (*bolt.Bucket, error) {
	b := t.tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("licsrv: %s: bucket %s missing", ssDBName, name)
	}
	return b, nil
}

func (t boltTx) get(bucket, key []byte) []byte {
	b, err := t.bucket(bucket)
	if err != nil {
		return nil
	}
	return bytes.Clone(b.Get(key))
}

func (t boltTx) put(bucket, key, val []byte) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	return b.Put(key, val)
}

func (t boltTx) del(bucket, key []byte) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	return b.Delete(key)
}

func (t boltTx) nextSeq(bucket []byte) (uint64, error) {
	b, err := t.bucket(bucket)
	if err != nil {
		return 0, err
	}
	return b.NextSequence()
}

func (t boltTx) each(bucket, prefix []byte, fn func(k, v []byte) error) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// memStore keeps the same buckets in memory. An update writes to copies
// of the buckets it touches, which replace the originals only when fn
// succeeds, as a bbolt transaction commits.
type memStore struct {
	mu   sync.Mutex
	data map[string]map[string][]byte
	seq  map[string]uint64
}

func newMemStore() *memStore {
	m := &memStore{data: map[string]map[string][]byte{}, seq: map[string]uint64{}}
	for _, b := range allBuckets {
		m.data[string(b)] = map[string][]byte{}
	}
	return m
}

type memTx struct {
	base  map[string]map[string][]byte
	dirty map[string]map[string][]byte // copies of the buckets written
	seq   map[string]uint64
	ro    bool
}

var errReadOnly = errors.New("licsrv: write in a read-only transaction")

func (m *memStore) update(fn func(kvTx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{base: m.data, dirty: map[string]map[string][]byte{}, seq: maps.Clone(m.seq)}
	if err := fn(tx); err != nil {
		return err
	}
	maps.Copy(m.data, tx.dirty)
	m.seq = tx.seq
	return nil
}

func (m *memStore) view(fn func(kvTx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fn(&memTx{base: m.data, seq: m.seq, ro: true})
}

func (m *memStore) close() error { return nil }

// bucket returns the bucket to read: the copy when written.
func (t *memTx) bucket(name []byte) map[string][]byte {
	if b, ok := t.dirty[string(name)]; ok {
		return b
	}
	return t.base[string(name)]
}

// writable returns the transaction's copy of a bucket.
func (t *memTx) writable(name []byte) (map[string][]byte, error) {
	if t.ro {
		return nil, errReadOnly
	}
	b, ok := t.dirty[string(name)]
	if !ok {
		b = maps.Clone(t.base[string(name)])
		if b == nil {
			b = map[string][]byte{}
		}
		t.dirty[string(name)] = b
	}
	return b, nil
}

func (t *memTx) get(bucket, key []byte) []byte {
	return bytes.Clone(t.bucket(bucket)[string(key)])
}

func (t *memTx) put(bucket, key, val []byte) error {
	b, err := t.writable(bucket)
	if err != nil {
		return err
	}
	b[string(key)] = bytes.Clone(val)
	return nil
}

func (t *memTx) del(bucket, key []byte) error {
	b, err := t.writable(bucket)
	if err != nil {
		return err
	}
	delete(b, string(key))
	return nil
}

func (t *memTx) nextSeq(bucket []byte) (uint64, error) {
	if t.ro {
		return 0, errReadOnly
	}
	t.seq[string(bucket)]++
	return t.seq[string(bucket)], nil
}

func (t *memTx) each(bucket, prefix []byte, fn func(k, v []byte) error) error {
	b := t.bucket(bucket)
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if !strings.HasPrefix(k, string(prefix)) {
			continue
		}
		if err := fn([]byte(k), b[k]); err != nil {
			return err
		}
	}
	return nil
}

// u64 is a sequence key: big-endian, so keys sort in arrival order.
func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// lenPrefixed is u16 len ‖ s: a key prefix that no longer string with the
// same start can match.
func lenPrefixed(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// unixBytes and bytesUnix store a time as i64 BE Unix seconds.
func unixBytes(t time.Time) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t.Unix())) }

func bytesUnix(b []byte) (time.Time, bool) {
	if len(b) != 8 {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b)), 0), true
}

// appendJSON stores js under the bucket's next sequence number, so that a
// bucket read in key order is in arrival order, and returns that number.
func appendJSON(tx kvTx, bucket, js []byte) (uint64, error) {
	seq, err := tx.nextSeq(bucket)
	if err != nil {
		return 0, err
	}
	return seq, tx.put(bucket, u64(seq), js)
}

// readJSON decodes every value of bucket, in key (arrival) order; what names
// a record in the error for one that does not decode.
func readJSON[T any](db kvStore, bucket []byte, what string) ([]T, error) {
	out := []T{}
	err := db.view(func(tx kvTx) error {
		return tx.each(bucket, nil, func(_, v []byte) error {
			var r T
			if err := json.Unmarshal(v, &r); err != nil {
				return errors.New("licsrv: stored " + what + " is corrupt")
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
