package tee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/prsim/prsim/wire/kid"
)

// Storage keeps a device's sealed TEE state: one opaque blob that the TEE
// encrypts and MACs itself, so the storage sees ciphertext only (the
// device's store.db implements it). WriteSealed must replace the blob
// atomically and be durable when it returns; ReadSealed returns nil, nil
// when no state was ever written.
type Storage interface {
	ReadSealed() ([]byte, error)
	WriteSealed(blob []byte) error
}

// MemoryStorage returns a Storage kept in memory: for devices that live
// for one process (tests, benchmarks, conformance personas).
func MemoryStorage() Storage { return &memStorage{} }

type memStorage struct {
	mu   sync.Mutex
	blob []byte
}

func (m *memStorage) ReadSealed() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.blob...), nil
}

func (m *memStorage) WriteSealed(b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blob = append([]byte(nil), b...)
	return nil
}

// ErrRollback is matched (errors.Is) by the error [OpenWith] returns when
// the sealed TEE state is older than the TPM's generation counter says it
// must be (a store file copied back), or is missing although the counter
// says it was written. That error is a [*RollbackError] saying which. It
// carries no DRM code: the device's own files were tampered with.
var ErrRollback = errors.New("tee: the TEE state was rolled back")

// RollbackError says why the sealed state was refused. It quotes
// generation numbers only.
type RollbackError struct {
	Stored  uint64 // the generation the state carries (0 = none found)
	Counter uint64 // the TPM counter's
	Reason  string
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("tee: TEE state refused: %s (state generation %d, TPM counter %d)", e.Reason, e.Stored, e.Counter)
}

// Is makes errors.Is(err, ErrRollback) hold.
func (e *RollbackError) Is(target error) bool { return target == ErrRollback }

// Sealed blob layout (docs/protocol.md "TEE state"):
//
//	magic "PRTS" | version u8 | counter index u32 | generation u64 | GCM nonce 12 | AES-256-GCM(JSON records)
//
// The header is the GCM additional data, so the generation cannot be
// edited without the MAC failing.
const (
	sealedMagic   = "PRTS"
	sealedVersion = 1
	sealedHeader  = 4 + 1 + 4 + 8
	// maxSealed bounds the blob a storage may hand back (the records are
	// kilobytes; secure-stop sessions and revocation lists will add tens).
	maxSealed = 4 << 20
	rootSize  = 32
)

var errSealedForm = errors.New("tee: sealed TEE state is malformed")

// sealedBlob is a parsed blob header and its encrypted body.
type sealedBlob struct {
	index uint32
	gen   uint64
	nonce [12]byte
	ct    []byte
}

func parseSealed(b []byte) (*sealedBlob, error) {
	if len(b) < sealedHeader+12+16 || len(b) > maxSealed || string(b[:4]) != sealedMagic || b[4] != sealedVersion {
		return nil, errSealedForm
	}
	s := &sealedBlob{
		index: binary.BigEndian.Uint32(b[5:9]),
		gen:   binary.BigEndian.Uint64(b[9:17]),
		ct:    b[sealedHeader+12:],
	}
	copy(s.nonce[:], b[sealedHeader:sealedHeader+12])
	return s, nil
}

func (s *sealedBlob) header() []byte {
	h := make([]byte, 0, sealedHeader)
	h = append(h, sealedMagic...)
	h = append(h, sealedVersion)
	h = binary.BigEndian.AppendUint32(h, s.index)
	return binary.BigEndian.AppendUint64(h, s.gen)
}

// stateAEAD derives the state key from the storage root: HKDF-SHA256 with
// a label and the device's signing key, so a root copied to another
// device's file opens nothing there.
func stateAEAD(root []byte, d *Device) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, root, nil, "prsim tee state v1 "+string(d.signPub[:]), 32)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// records is the plaintext of the sealed state: everything the TEE
// decides on that must outlive a process. JSON keeps it readable in a
// debugger and extensible; it is only ever parsed after the MAC verifies.
type records struct {
	Nonces []nonceRecord `json:"nonces"`
	// Time holds the clocks' state and the per-license time records (time.go).
	Time timeRecords `json:"time"`
	// SecureStop holds the secure-stop sessions (securestop.go).
	SecureStop []ssRecord `json:"secure_stop,omitempty"`
	// Revocation holds the newest revocation lists verified (revocation.go).
	Revocation []revRecord `json:"revocation,omitempty"`
}

// nonceRecord is one outstanding nonce and the KIDs bound under it, as
// byte strings (base64 in JSON: a [16]byte would encode as 16 numbers).
type nonceRecord struct {
	Nonce []byte   `json:"n"`
	Bound [][]byte `json:"b,omitempty"`
}

// sealed is the TEE's state handle: the derived key, the storage and the
// generation counter.
type sealed struct {
	storage Storage
	aead    cipher.AEAD
	index   uint32 // NV counter index; 0 = the backend keeps no counter
	gen     uint64 // generation of the state last written (= counter value)
}

// openState unseals the storage root, checks the sealed state against the
// generation counter and loads it into d. It may set fields of d.st
// (a new root or counter for a device that had none); d.stateChanged then
// tells the REE to save device.json again.
func (d *Device) openState(storage Storage, rnd io.Reader) error {
	ks := d.b.ks
	raw, err := storage.ReadSealed()
	if err != nil {
		return fmt.Errorf("tee: failed to read the TEE state: %w", err)
	}
	var root []byte
	hadRoot := len(d.st.StorageRoot) > 0
	if !hadRoot && len(raw) > 0 {
		// Dropping the root from device.json must not reset the state.
		return fmt.Errorf("tee: %w", &StateMismatchError{Field: "storage_root",
			Reason: "the device state has no storage root but the store holds a TEE state (device.json edited, or a store of another device)"})
	}
	if hadRoot {
		r, err := ks.unseal(d.st.StorageRoot)
		if err != nil {
			if kerr := keysLost(err); kerr != nil {
				return kerr
			}
			return fmt.Errorf("tee: %w", &StateMismatchError{Field: "storage_root", Reason: "the sealed storage root does not unseal (" + err.Error() + ")"})
		}
		root = r
	} else {
		root = make([]byte, rootSize)
		if _, err := rand.Read(root); err != nil {
			return err
		}
		blob, err := ks.seal(root)
		if err != nil {
			return fmt.Errorf("tee: failed to seal the storage root: %w", err)
		}
		d.st.StorageRoot = blob
		d.stateChanged = true
	}
	defer clear(root)
	aead, err := stateAEAD(root, d)
	if err != nil {
		return err
	}
	s := &sealed{storage: storage, aead: aead}
	hadCounter := d.st.Counter != 0
	var counter uint64
	if ks.persistentNV() {
		if !hadCounter {
			idx, v, err := ks.defineCounter(rnd)
			if err != nil {
				return fmt.Errorf("tee: failed to define the state generation counter: %w", err)
			}
			d.st.Counter, counter = idx, v
			d.stateChanged = true
		} else if counter, err = ks.readCounter(d.st.Counter); err != nil {
			return fmt.Errorf("tee: failed to read the state generation counter (NV index 0x%08x): %w", d.st.Counter, err)
		}
		s.index = d.st.Counter
		s.gen = counter
	}
	d.sealed = s
	if len(raw) == 0 {
		if hadCounter && hadRoot {
			return &RollbackError{Counter: counter, Reason: "the TEE state is missing from the store although the TPM counter shows it was written (the store was replaced or deleted)"}
		}
		d.rec = records{}
		if err := d.openClocks(); err != nil {
			return err
		}
		return d.commitLocked()
	}
	b, err := parseSealed(raw)
	if err != nil {
		return fmt.Errorf("tee: %w", &StateMismatchError{Field: "tee_state", Reason: "the sealed TEE state is malformed"})
	}
	if b.index != s.index {
		return fmt.Errorf("tee: %w", &StateMismatchError{Field: "tee_state", Reason: "the sealed TEE state names another generation counter than the device"})
	}
	pt, err := aead.Open(nil, b.nonce[:], b.ct, b.header())
	if err != nil {
		return fmt.Errorf("tee: %w", &StateMismatchError{Field: "tee_state", Reason: "the sealed TEE state does not authenticate (edited, or from another device)"})
	}
	defer clear(pt)
	var rec records
	if err := json.Unmarshal(pt, &rec); err != nil {
		return fmt.Errorf("tee: %w", &StateMismatchError{Field: "tee_state", Reason: "the sealed TEE state does not decode"})
	}
	if s.index != 0 {
		switch {
		case b.gen == counter:
		case b.gen == counter+1:
			// The last commit wrote the store and died before the
			// counter moved: finish it.
			v, err := ks.incrementCounter(s.index)
			if err != nil {
				return fmt.Errorf("tee: failed to finish an interrupted state commit: %w", err)
			}
			if v != b.gen {
				return &RollbackError{Stored: b.gen, Counter: v, Reason: "the TPM counter moved past the interrupted commit"}
			}
			d.recovered = true
		case b.gen < counter:
			return &RollbackError{Stored: b.gen, Counter: counter, Reason: "the store holds an older TEE state than the TPM counter (a store file copied back?)"}
		default:
			return &RollbackError{Stored: b.gen, Counter: counter, Reason: "the TPM counter is behind the TEE state (the TPM was cleared or replaced?)"}
		}
	}
	s.gen = b.gen
	d.rec = rec
	d.loadNonces()
	d.recoverSessions()
	return d.openClocks()
}

// openClocks sets up the TPM Clock the trusted clocks run on: a backend
// whose NV dies with the process or the device directory gets the
// emulated clock carried in the state (time.go).
func (d *Device) openClocks() error {
	if d.b.ks.persistentNV() {
		return nil
	}
	return d.openEmu()
}

// commitLocked seals d.rec and writes it, then moves the counter. A crash
// between the two leaves a state one generation ahead, which the next
// open finishes (openState); a crash before the write leaves the previous
// state. d.mu is held (or d is not shared yet).
func (d *Device) commitLocked() error {
	s := d.sealed
	if s == nil {
		return nil
	}
	d.saveNonces()
	d.saveEmu()
	pt, err := json.Marshal(d.rec)
	if err != nil {
		return err
	}
	defer clear(pt)
	b := &sealedBlob{index: s.index, gen: s.gen + 1}
	if _, err := rand.Read(b.nonce[:]); err != nil {
		return err
	}
	h := b.header()
	out := append(h, b.nonce[:]...)
	out = s.aead.Seal(out, b.nonce[:], pt, h)
	if err := s.storage.WriteSealed(out); err != nil {
		return fmt.Errorf("tee: failed to write the TEE state: %w", err)
	}
	if s.index != 0 {
		v, err := d.b.ks.incrementCounter(s.index)
		if err != nil {
			return fmt.Errorf("tee: failed to move the state generation counter: %w", err)
		}
		if v != b.gen {
			return &RollbackError{Stored: b.gen, Counter: v, Reason: "the TPM counter moved by someone else"}
		}
	}
	s.gen = b.gen
	d.timeDirty = false
	return nil
}

func (d *Device) loadNonces() {
	d.nonces = d.nonces[:0]
	for _, r := range d.rec.Nonces {
		if len(r.Nonce) != 16 {
			continue // authenticated, so never; skip rather than panic
		}
		e := nonceEntry{n: [16]byte(r.Nonce)}
		for _, b := range r.Bound {
			if len(b) == kid.Size {
				e.bound = append(e.bound, kid.ID(b))
			}
		}
		d.nonces = append(d.nonces, e)
	}
	if len(d.nonces) > MaxNonces {
		d.nonces = d.nonces[len(d.nonces)-MaxNonces:]
	}
}

func (d *Device) saveNonces() {
	d.rec.Nonces = d.rec.Nonces[:0]
	for _, e := range d.nonces {
		r := nonceRecord{Nonce: e.n[:]}
		for _, b := range e.bound {
			r.Bound = append(r.Bound, b[:])
		}
		d.rec.Nonces = append(d.rec.Nonces, r)
	}
}

// RollbackProtected reports whether restoring an older copy of the store
// is detected: the backend keeps the generation counter in TPM NV that
// lives outside the device's files (swtpm, a TPM device). For "soft" and
// "sim" everything lives in the device directory, so a copy of the whole
// directory cannot be told from the original (docs/protocol.md "TEE state").
func (d *Device) RollbackProtected() bool { return d.sealed != nil && d.sealed.index != 0 }

// StateChanged reports whether Open added to the persistent state (a
// storage root or counter for a device made before them): the owner of
// device.json must save [Device.State] again.
func (d *Device) StateChanged() bool { return d.stateChanged }

// Recovered reports whether Open finished a state commit that a crash
// interrupted (the store was written, the counter not yet moved).
func (d *Device) Recovered() bool { return d.recovered }

// Generation returns the sealed state's generation (the TPM counter's
// value when [Device.RollbackProtected]).
func (d *Device) Generation() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sealed == nil {
		return 0
	}
	return d.sealed.gen
}

// Close commits what only moved in memory (the anti-rollback clock's
// last-known-good time, the emulated TPM Clock). The device's keys stay
// usable; the backend and storage are closed by their owners.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sealed == nil || (!d.timeDirty && d.emu == nil) {
		return nil
	}
	return d.commitLocked()
}

// Destroy releases what the device holds in the TPM beyond its key blobs:
// the state generation counter's NV index (NV is small: swtpm holds about
// a thousand counters). The device cannot be opened afterwards. Devices
// made for one run (a conformance run's personas) are destroyed at its end.
func (d *Device) Destroy() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sealed == nil || d.sealed.index == 0 {
		return nil
	}
	if err := d.b.ks.undefineCounter(d.sealed.index); err != nil {
		return fmt.Errorf("tee: failed to release the state generation counter: %w", err)
	}
	d.sealed = nil
	return nil
}
