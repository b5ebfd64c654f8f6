package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-tpm/tpm2"
)

// NV indices prsim picks its counters from: a block of the TCG
// owner-allocated range (TCG Handle Registry, 0x01000000–0x013FFFFF).
const (
	CounterFirst uint32 = 0x01310000
	CounterLast  uint32 = 0x0131FFFF
)

// ErrNoCounter reports an NV index that holds no prsim counter: never
// defined, undefined since, or defined as something else.
var ErrNoCounter = errors.New("tpm: no such NV counter")

// errNoFreeIndex: every index drawn was taken.
var errNoFreeIndex = errors.New("tpm: no free NV index for a counter")

// counterAttrs: a TPM_NT_COUNTER anyone may read and increment with the
// empty password (it only ever grows, so write access gives no rollback),
// NoDA so no failed authorization locks the TPM (docs/formats/tpm.md §8.6).
// Not ORDERLY: after a power loss an orderly counter may jump ahead, and
// the store compares the generation exactly.
var counterAttrs = tpm2.TPMANV{
	NT:         tpm2.TPMNTCounter,
	AuthWrite:  true,
	AuthRead:   true,
	OwnerWrite: true,
	OwnerRead:  true,
	NoDA:       true,
}

// DefineCounter defines a monotonic NV counter at a free index drawn from
// rand in [CounterFirst, CounterLast], increments it once (a new counter
// reads TPM_RC_NV_UNINITIALIZED until then) and returns its index and
// value. The first value is the TPM's highest counter value ever, not 1
// (docs/formats/tpm.md §8.4): compare values relatively.
func (tp *TPM) DefineCounter(rand io.Reader) (index uint32, value uint64, err error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for range 32 {
		var b [2]byte
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return 0, 0, fmt.Errorf("tpm: failed to draw an NV index: %w", err)
		}
		idx := CounterFirst + uint32(binary.BigEndian.Uint16(b[:]))%(CounterLast-CounterFirst+1)
		_, err := tpm2.NVDefineSpace{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
				NVIndex:    tpm2.TPMHandle(idx),
				NameAlg:    tpm2.TPMAlgSHA256,
				Attributes: counterAttrs,
				DataSize:   8,
			}),
		}.Execute(tp.t)
		if errors.Is(err, tpm2.TPMRCNVDefined) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("tpm: failed to define NV counter: %w", err)
		}
		v, err := tp.increment(idx)
		if err != nil {
			if h, herr := tp.counter(idx); herr == nil {
				_ = tp.undefine(h)
			}
			return 0, 0, err
		}
		return idx, v, nil
	}
	return 0, 0, errNoFreeIndex
}

// ReadCounter returns the counter's value; an index without a prsim
// counter gives [ErrNoCounter].
func (tp *TPM) ReadCounter(index uint32) (uint64, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	h, err := tp.counter(index)
	if err != nil {
		return 0, err
	}
	return tp.read(h)
}

// IncrementCounter adds one to the counter and returns the new value.
func (tp *TPM) IncrementCounter(index uint32) (uint64, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.increment(index)
}

// UndefineCounter deletes the counter (owner authorization).
func (tp *TPM) UndefineCounter(index uint32) error {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	h, err := tp.counter(index)
	if err != nil {
		return err
	}
	return tp.undefine(h)
}

func (tp *TPM) undefine(h tpm2.AuthHandle) error {
	_, err := tpm2.NVUndefineSpace{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    tpm2.NamedHandle{Handle: h.Handle, Name: h.Name},
	}.Execute(tp.t)
	if err != nil {
		return fmt.Errorf("tpm: failed to undefine NV counter: %w", err)
	}
	return nil
}

// counter checks that index holds a counter with prsim's attributes and
// returns a handle authorized by the index itself (empty password). Its
// name comes from the TPM, so it is right before and after the first
// write (docs/formats/tpm.md §8.3).
func (tp *TPM) counter(index uint32) (tpm2.AuthHandle, error) {
	if index < CounterFirst || index > CounterLast {
		return tpm2.AuthHandle{}, fmt.Errorf("%w (index outside prsim's range)", ErrNoCounter)
	}
	rsp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(tp.t)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return tpm2.AuthHandle{}, ErrNoCounter
	}
	if err != nil {
		return tpm2.AuthHandle{}, fmt.Errorf("tpm: failed to read NV counter's public area: %w", err)
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return tpm2.AuthHandle{}, fmt.Errorf("tpm: bad NV public area: %w", err)
	}
	a := pub.Attributes
	a.Written = false
	if a != counterAttrs || pub.DataSize != 8 {
		return tpm2.AuthHandle{}, fmt.Errorf("%w (index holds another kind of NV area)", ErrNoCounter)
	}
	return tpm2.AuthHandle{Handle: tpm2.TPMHandle(index), Name: rsp.NVName, Auth: tpm2.PasswordAuth(nil)}, nil
}

func (tp *TPM) increment(index uint32) (uint64, error) {
	h, err := tp.counter(index)
	if err != nil {
		return 0, err
	}
	if _, err := (tpm2.NVIncrement{AuthHandle: h, NVIndex: tpm2.NamedHandle{Handle: h.Handle, Name: h.Name}}).Execute(tp.t); err != nil {
		return 0, fmt.Errorf("tpm: failed to increment NV counter: %w", err)
	}
	// The name changes with the first write (TPMA_NV_WRITTEN): re-read it.
	if h, err = tp.counter(index); err != nil {
		return 0, err
	}
	return tp.read(h)
}

func (tp *TPM) read(h tpm2.AuthHandle) (uint64, error) {
	rsp, err := tpm2.NVRead{AuthHandle: h, NVIndex: tpm2.NamedHandle{Handle: h.Handle, Name: h.Name}, Size: 8}.Execute(tp.t)
	if err != nil {
		return 0, fmt.Errorf("tpm: failed to read NV counter: %w", err)
	}
	if len(rsp.Data.Buffer) != 8 {
		return 0, errors.New("tpm: NV counter read returned a bad size")
	}
	return binary.BigEndian.Uint64(rsp.Data.Buffer), nil
}
