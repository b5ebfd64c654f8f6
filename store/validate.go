package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's on-disk layout, from its source (go.etcd.io/bbolt
// internal/common/page.go, meta.go, bucket.go): every page starts with a
// 16-byte header (id u64, flags u16, count u16, overflow u32); pages 0 and 1
// are meta pages; branch and leaf pages hold count 16-byte elements whose
// keys and values sit at offsets relative to the element; a bucket value is
// a 16-byte header (root page u64, sequence u64), followed by an inline leaf
// page when root is 0. All integers are little-endian on the machines prsim
// supports.
const (
	pageHeaderSize = 16
	elementSize    = 16
	bucketHdrSize  = 16
	metaSize       = 64

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10
	leafBucket   = 0x01

	boltMagic   = 0xED0CDAED
	boltVersion = 2
	noFreelist  = ^uint64(0)

	minPageSize = 512
	maxPageSize = 64 << 10
	// maxDepth bounds the B+tree walk; a real store is a few levels deep.
	maxDepth = 64
	// maxValidate is the largest file read whole for validation. A store
	// holds a device's licenses (kilobytes each); a bigger file is refused
	// rather than read into memory.
	maxValidate = 256 << 20
)

type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// parseMeta decodes the meta page at b (page header included); ok is false
// for a page bbolt itself would reject (magic, version, checksum).
func parseMeta(b []byte) (meta, bool) {
	if len(b) < pageHeaderSize+metaSize {
		return meta{}, false
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	h := fnv.New64a()
	h.Write(m[:56])
	if binary.LittleEndian.Uint32(m[0:]) != boltMagic || binary.LittleEndian.Uint32(m[4:]) != boltVersion ||
		binary.LittleEndian.Uint64(m[56:]) != h.Sum64() {
		return meta{}, false
	}
	return meta{
		pageSize: binary.LittleEndian.Uint32(m[8:]),
		root:     binary.LittleEndian.Uint64(m[16:]),
		freelist: binary.LittleEndian.Uint64(m[32:]),
		pgid:     binary.LittleEndian.Uint64(m[40:]),
		txid:     binary.LittleEndian.Uint64(m[48:]),
	}, true
}

// validateFile checks the whole file before bbolt maps it: bbolt trusts its
// pages (a page id past the end of the file is a fault on the mapping, a bad
// element offset a wild read), so every structure it will follow is checked
// here with bounds-checked reads. A missing or empty file is valid (bbolt
// creates it). The returned error is a reason for DamagedError.
func validateFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() == 0 {
		return nil
	}
	if st.Size() > maxValidate {
		return fmt.Errorf("%d bytes, more than a store can hold", st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return fmt.Errorf("failed to read: %w", err)
	}
	return validateBytes(b)
}

func validateBytes(b []byte) error {
	m, err := chooseMeta(b)
	if err != nil {
		return err
	}
	v := &validator{b: b, ps: uint64(m.pageSize), hwm: m.pgid, used: map[uint64]bool{0: true, 1: true}}
	if err := v.bucketRoot(m.root, nil, 0); err != nil {
		return err
	}
	return v.freelistPage(m.freelist)
}

// chooseMeta picks the meta page as bbolt does (the valid one with the
// higher transaction id) and checks it against the file.
func chooseMeta(b []byte) (meta, error) {
	// bbolt takes the page size from meta 0 or, when that is invalid, from
	// the first valid meta page it finds at 1 KiB << i.
	m0, ok0 := parseMeta(b)
	ps := uint64(m0.pageSize)
	if !ok0 {
		for i := range 15 {
			pos := uint64(1024) << i
			if pos+1024 >= uint64(len(b)) {
				break
			}
			if m, ok := parseMeta(b[pos:]); ok {
				ps = uint64(m.pageSize)
				break
			}
		}
	}
	if ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0 {
		return meta{}, errors.New("no valid meta page")
	}
	var m1 meta
	ok1 := false
	if uint64(len(b)) >= 2*ps {
		m1, ok1 = parseMeta(b[ps:])
	}
	var m meta
	switch {
	case ok0 && ok1 && m1.txid > m0.txid:
		m = m1
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return meta{}, errors.New("no valid meta page")
	}
	switch {
	case uint64(m.pageSize) != ps:
		return meta{}, errors.New("meta pages disagree on the page size")
	case m.pgid < 2 || m.pgid > uint64(len(b))/ps:
		return meta{}, fmt.Errorf("%d bytes, shorter than its %d pages of %d bytes (truncated?)", len(b), m.pgid, ps)
	case m.root >= m.pgid:
		return meta{}, errors.New("root page past the end")
	case m.freelist != noFreelist && m.freelist >= m.pgid:
		return meta{}, errors.New("freelist page past the end")
	}
	return m, nil
}

type validator struct {
	b    []byte
	ps   uint64
	hwm  uint64 // pages in use: ids must be below
	used map[uint64]bool
}

// page returns the bytes of page id and its overflow pages, checking they
// are in the file and not reached twice (a loop in the tree).
func (v *validator) page(id uint64) ([]byte, error) {
	if id < 2 || id >= v.hwm {
		return nil, fmt.Errorf("page %d out of range", id)
	}
	hdr := v.b[id*v.ps:]
	if binary.LittleEndian.Uint64(hdr) != id {
		return nil, fmt.Errorf("page %d: wrong page id", id)
	}
	n := uint64(binary.LittleEndian.Uint32(hdr[12:])) + 1
	if n > v.hwm-id {
		return nil, fmt.Errorf("page %d: overflow past the end", id)
	}
	for i := id; i < id+n; i++ {
		if v.used[i] {
			return nil, fmt.Errorf("page %d: reached twice", i)
		}
		v.used[i] = true
	}
	return v.b[id*v.ps : (id+n)*v.ps], nil
}

// bucketRoot walks the tree of the bucket rooted at page id, or the inline
// page when id is 0.
func (v *validator) bucketRoot(id uint64, inline []byte, depth int) error {
	if depth > maxDepth {
		return errors.New("buckets nested too deep")
	}
	if id == 0 {
		return v.node(inline, true, depth)
	}
	p, err := v.page(id)
	if err != nil {
		return err
	}
	return v.node(p, false, depth)
}

// node checks one branch or leaf page held in p (its bounds) and recurses.
func (v *validator) node(p []byte, inline bool, depth int) error {
	if depth > maxDepth {
		return errors.New("tree too deep")
	}
	if len(p) < pageHeaderSize {
		return errors.New("short page")
	}
	flags := binary.LittleEndian.Uint16(p[8:])
	count := int(binary.LittleEndian.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return errors.New("page elements past the page")
	}
	switch {
	case flags == flagBranch && !inline:
		if count == 0 {
			return errors.New("empty branch page")
		}
		for i := range count {
			e := p[pageHeaderSize+i*elementSize:]
			if _, err := slice(p, pageHeaderSize+i*elementSize, binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:])); err != nil {
				return err
			}
			child, err := v.page(binary.LittleEndian.Uint64(e[8:]))
			if err != nil {
				return err
			}
			if err := v.node(child, false, depth+1); err != nil {
				return err
			}
		}
		return nil
	case flags == flagLeaf:
		for i := range count {
			off := pageHeaderSize + i*elementSize
			e := p[off:]
			eflags := binary.LittleEndian.Uint32(e)
			pos, ksz, vsz := binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
			kv, err := slice(p, off, pos, uint64(ksz)+uint64(vsz))
			if err != nil {
				return err
			}
			if eflags&leafBucket == 0 {
				continue
			}
			val := kv[ksz:]
			if len(val) < bucketHdrSize {
				return errors.New("short bucket header")
			}
			if err := v.bucketRoot(binary.LittleEndian.Uint64(val), val[bucketHdrSize:], depth+1); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("unexpected page flags %#x", flags)
	}
}

// slice returns p[off+pos : off+pos+n], or an error when it is not inside p.
func slice[N uint32 | uint64](p []byte, off int, pos uint32, n N) ([]byte, error) {
	start := uint64(off) + uint64(pos)
	end := start + uint64(n)
	if end > uint64(len(p)) {
		return nil, errors.New("key or value past the page")
	}
	return p[start:end], nil
}

// freelistPage checks the freelist: in range, every id below the high-water
// mark and none of them a page in use.
func (v *validator) freelistPage(id uint64) error {
	if id == noFreelist {
		return nil
	}
	p, err := v.page(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if binary.LittleEndian.Uint16(p[8:]) != flagFreelist {
		return errors.New("freelist: not a freelist page")
	}
	n := uint64(binary.LittleEndian.Uint16(p[10:]))
	ids := p[pageHeaderSize:]
	if n == 0xFFFF {
		n = binary.LittleEndian.Uint64(ids)
		ids = ids[8:]
	}
	if n > uint64(len(ids))/8 {
		return errors.New("freelist: more ids than fit its pages")
	}
	for i := range n {
		f := binary.LittleEndian.Uint64(ids[i*8:])
		if f < 2 || f >= v.hwm {
			return errors.New("freelist: page id out of range")
		}
		if v.used[f] {
			return fmt.Errorf("freelist: page %d is both free and in use", f)
		}
	}
	return nil
}
