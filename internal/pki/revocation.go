package pki

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/revocation"
)

// Revocation files of the PKI directory (docs/formats/revocation.md §8).
// revocation.json is the authority's state; the blobs are derived from it
// and re-signed by the CRL signer on every change.
const (
	revStateFile   = "revocation.json"
	revInfoFile    = "revinfo2.bin"
	runtimeCRLFile = "runtime.crl"
	appCRLFile     = "app.crl"
)

// revState is revocation.json.
type revState struct {
	RIV     uint32    `json:"riv"`
	Issued  time.Time `json:"issued"`
	Runtime struct {
		Version uint32       `json:"version"`
		Entries []digestJSON `json:"entries"` // BASIC digests
	} `json:"runtime"`
	App struct {
		Version uint32 `json:"version"`
	} `json:"app"`
}

// digestJSON is a digest written as a base64 string (encoding/json would
// write [32]byte as an array of numbers).
type digestJSON [32]byte

func (d digestJSON) MarshalText() ([]byte, error) {
	return []byte(base64.StdEncoding.EncodeToString(d[:])), nil
}

func (d *digestJSON) UnmarshalText(b []byte) error {
	v, err := ParseDigest(string(b))
	*d = digestJSON(v)
	return err
}

// ParseDigest decodes a certificate digest given in base64 (standard or
// URL alphabet, padded or not): 32 bytes, as revocation lists and
// RevAllowInfo hold them.
func ParseDigest(s string) ([32]byte, error) {
	var d [32]byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != len(d) {
				return d, fmt.Errorf("pki: digest is %d bytes, not 32 (a SHA-256 BASIC digest)", len(b))
			}
			copy(d[:], b)
			return d, nil
		}
	}
	return d, errors.New("pki: digest is not base64")
}

// RevLists is the authority's current revocation data
// (docs/formats/revocation.md): the parsed lists, the signed blobs exactly
// as they are served, and the root key their signer chain ends at.
type RevLists struct {
	RevInfo     *revocation.RevInfo
	Runtime     *revocation.CRL
	App         *revocation.CRL
	RevInfoBlob []byte
	RuntimeBlob []byte
	AppBlob     []byte
	Root        ecc.Point
}

// Blob returns the signed blob of list id, or nil for a list the authority
// does not issue (WMDRMNET, unknown IDs).
func (l *RevLists) Blob(id kid.ID) []byte {
	switch id {
	case revocation.ListRevInfo2:
		return l.RevInfoBlob
	case revocation.ListRuntime:
		return l.RuntimeBlob
	case revocation.ListApp:
		return l.AppBlob
	}
	return nil
}

// Version returns the version a client advertises for list id (the RIV for
// RevInfo v2, the CRL version otherwise) and whether the authority issues it.
func (l *RevLists) Version(id kid.ID) (uint64, bool) {
	switch id {
	case revocation.ListRevInfo2:
		return uint64(l.RevInfo.RIV), true
	case revocation.ListRuntime:
		return uint64(l.Runtime.Version), true
	case revocation.ListApp:
		return uint64(l.App.Version), true
	}
	return 0, false
}

// Lists loads and verifies the revocation lists of the PKI in dir. A PKI
// made before lists existed gets the initial ones (RIV 1, CRLs version 1,
// no entries), issued at root.pub's modification time (when the PKI was
// made), so no caller has to migrate it. Lists fails when the blobs do not
// verify to the PKI root, or when the RevInfo does not name the CRLs'
// versions (a `pki revoke` is writing them: retry).
// (The type is RevLists: Go does not allow a function and a type to share a name.)
func Lists(dir string) (*RevLists, error) {
	if _, err := os.Lstat(filepath.Join(dir, revStateFile)); errors.Is(err, fs.ErrNotExist) {
		p, err := Load(dir)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(filepath.Join(dir, rootPubFile))
		if err != nil {
			return nil, fmt.Errorf("pki: %s: %w", rootPubFile, err)
		}
		if err := p.InitLists(dir, fi.ModTime()); err != nil {
			return nil, err
		}
	}
	pub, err := readFile(dir, rootPubFile)
	if err != nil {
		return nil, err
	}
	root, err := ecc.ParsePoint(pub)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: not a 64-byte P-256 point", rootPubFile)
	}
	l := &RevLists{}
	if l.RevInfoBlob, err = readFile(dir, revInfoFile); err != nil {
		return nil, err
	}
	if l.RuntimeBlob, err = readFile(dir, runtimeCRLFile); err != nil {
		return nil, err
	}
	if l.AppBlob, err = readFile(dir, appCRLFile); err != nil {
		return nil, err
	}
	if l.RevInfo, err = revocation.ParseRevInfo(l.RevInfoBlob); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", revInfoFile, err)
	}
	if l.Runtime, err = revocation.ParseCRL(l.RuntimeBlob); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", runtimeCRLFile, err)
	}
	if l.App, err = revocation.ParseCRL(l.AppBlob); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", appCRLFile, err)
	}
	// The chain is checked at the RevInfo's issue time: prsim's
	// certificates never expire, and this keeps Lists free of a clock.
	at := l.RevInfo.Issued
	roots := []ecc.Point{root}
	if l.Root, err = l.RevInfo.Verify(roots, at); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", revInfoFile, err)
	}
	for _, c := range []struct {
		name string
		crl  *revocation.CRL
		id   kid.ID
	}{{runtimeCRLFile, l.Runtime, revocation.ListRuntime}, {appCRLFile, l.App, revocation.ListApp}} {
		if c.crl.ID != c.id {
			return nil, fmt.Errorf("pki: %s: list ID is not the %s list: %w", c.name, revocation.ListName(c.id), drm.ErrInvalidRevocationList)
		}
		if _, err := c.crl.Verify(roots, at); err != nil {
			return nil, fmt.Errorf("pki: %s: %w", c.name, err)
		}
		if v, ok := l.RevInfo.Version(c.id); !ok || v != uint64(c.crl.Version) {
			return nil, fmt.Errorf("pki: %s: version %d is not the one %s names (a revocation is being written; retry): %w",
				c.name, c.crl.Version, revInfoFile, drm.ErrInvalidRevocationList)
		}
	}
	return l, nil
}

// InitLists writes the initial revocation lists into the PKI directory dir:
// RIV 1 and runtime and application CRLs at version 1 without entries,
// issued at now. It replaces existing lists.
func (p *PKI) InitLists(dir string, now time.Time) error {
	s := &revState{RIV: 1, Issued: now}
	s.Runtime.Version, s.App.Version = 1, 1
	s.Runtime.Entries = []digestJSON{}
	return p.writeLists(dir, s)
}

// Revoke adds digest (a certificate's BASIC digest) to the runtime CRL of
// the PKI in dir, bumps the CRL version and the RIV by one and re-signs the
// lists, issued at now. Revoking a digest that is already listed changes
// nothing and returns the current versions: a new version would make every
// device fetch a list that says nothing new.
func Revoke(dir string, digest [32]byte, now time.Time) (crlVersion uint32, riv uint32, err error) {
	p, err := Load(dir)
	if err != nil {
		return 0, 0, err
	}
	if _, err := Lists(dir); err != nil { // creates the initial lists, checks the current ones
		return 0, 0, err
	}
	s, err := readRevState(dir)
	if err != nil {
		return 0, 0, err
	}
	if slices.Contains(s.Runtime.Entries, digestJSON(digest)) {
		return s.Runtime.Version, s.RIV, nil
	}
	if s.Runtime.Version == ^uint32(0) || s.RIV == ^uint32(0) {
		return 0, 0, errors.New("pki: revocation versions are exhausted")
	}
	s.Runtime.Entries = append(s.Runtime.Entries, digestJSON(digest))
	s.Runtime.Version++
	s.RIV++
	s.Issued = now
	if err := p.writeLists(dir, s); err != nil {
		return 0, 0, err
	}
	return s.Runtime.Version, s.RIV, nil
}

func readRevState(dir string) (*revState, error) {
	b, err := readFile(dir, revStateFile)
	if err != nil {
		return nil, err
	}
	s := &revState{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("pki: %s does not parse", revStateFile)
	}
	return s, nil
}

// writeLists signs the lists of s and writes them: CRLs first, then the
// RevInfo naming their versions, then the state, each atomically, so a
// reader sees either matching lists or a RevInfo that does not name the
// CRLs' versions (which Lists refuses).
func (p *PKI) writeLists(dir string, s *revState) error {
	// Whole seconds: FILETIME holds 100 ns ticks and JSON readers like
	// round numbers; sub-second precision says nothing here.
	s.Issued = s.Issued.UTC().Truncate(time.Second)
	signer, chain := p.CRLSigner.Signer(), p.CRLSigner.Chain.Bytes()
	rt := &revocation.CRL{ID: revocation.ListRuntime, Version: s.Runtime.Version}
	for _, e := range s.Runtime.Entries {
		rt.Entries = append(rt.Entries, e)
	}
	rtBlob, err := rt.Sign(signer, chain)
	if err != nil {
		return fmt.Errorf("pki: signing the runtime CRL: %w", err)
	}
	app := &revocation.CRL{ID: revocation.ListApp, Version: s.App.Version}
	appBlob, err := app.Sign(signer, chain)
	if err != nil {
		return fmt.Errorf("pki: signing the application CRL: %w", err)
	}
	ri := &revocation.RevInfo{RIV: s.RIV, Issued: s.Issued, Lists: []revocation.ListVersion{
		{ID: revocation.ListRuntime, Version: uint64(s.Runtime.Version)},
		{ID: revocation.ListApp, Version: uint64(s.App.Version)},
	}}
	riBlob, err := ri.Sign(signer, chain)
	if err != nil {
		return fmt.Errorf("pki: signing the RevInfo: %w", err)
	}
	st, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("pki: encoding %s: %w", revStateFile, err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{runtimeCRLFile, rtBlob}, {appCRLFile, appBlob}, {revInfoFile, riBlob}, {revStateFile, append(st, '\n')}} {
		if old, err := os.ReadFile(filepath.Join(dir, f.name)); err == nil && bytes.Equal(old, f.data) {
			continue
		}
		if err := writeAtomic(dir, f.name, f.data, 0o644); err != nil {
			return err
		}
	}
	return syncDir(dir)
}
