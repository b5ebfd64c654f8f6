package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
)

// File names of the directory layout (see the package doc).
const (
	rootPubFile    = "root.pub"
	rootKeyFile    = "root.key"
	rootChainFile  = "root.chai"
	serverSignFile = "server-sign.key"
	serverEncFile  = "server-enc.key"
	serverChain    = "server.chai"
	crlKeyFile     = "crl-signer.key"
	crlChainFile   = "crl-signer.chai"
	timeKeyFile    = "time-server.key"
	timeChainFile  = "time-server.chai"
	modelPrefix    = "model-"
	keySuffix      = ".key"
	chainSuffix    = ".chai"
	pemType        = "PRIVATE KEY"
)

// Save writes the PKI into dir (created if needed, and set to mode 0700)
// in the layout of the package doc; existing files are replaced atomically
// one by one.
func (p *PKI) Save(dir string) error {
	if err := p.Verify(time.Time{}); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: failed to create directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("pki: failed to restrict directory: %w", err)
	}
	type file struct {
		name string
		data []byte
		perm os.FileMode
	}
	var files []file
	addKey := func(name string, k *ecdsa.PrivateKey) error {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return fmt.Errorf("pki: %s: failed to encode key", name)
		}
		files = append(files, file{name, pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), 0o600})
		clear(der)
		return nil
	}
	addChain := func(name string, c *bcert.Chain) {
		files = append(files, file{name, c.Bytes(), 0o644})
	}
	if err := addKey(rootKeyFile, p.RootIssuer.Key); err != nil {
		return err
	}
	addChain(rootChainFile, p.RootIssuer.Chain)
	for sl, m := range p.Models {
		base := modelPrefix + strconv.FormatUint(uint64(sl), 10)
		if err := addKey(base+keySuffix, m.Key); err != nil {
			return err
		}
		addChain(base+chainSuffix, m.Chain)
	}
	if err := addKey(serverSignFile, p.Server.SignKey); err != nil {
		return err
	}
	if err := addKey(serverEncFile, p.Server.EncKey); err != nil {
		return err
	}
	addChain(serverChain, p.Server.Chain)
	if err := addKey(crlKeyFile, p.CRLSigner.Key); err != nil {
		return err
	}
	addChain(crlChainFile, p.CRLSigner.Chain)
	if p.TimeServer != nil {
		if err := addKey(timeKeyFile, p.TimeServer.Key); err != nil {
			return err
		}
		addChain(timeChainFile, p.TimeServer.Chain)
	}
	files = append(files, file{rootPubFile, append([]byte(nil), p.Root[:]...), 0o644})

	defer func() {
		for _, f := range files {
			clear(f.data) // best effort: do not leave PEM copies in memory
		}
	}()
	for _, f := range files {
		if err := writeAtomic(dir, f.name, f.data, f.perm); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// writeAtomic writes data to a temporary file in dir, syncs it and renames
// it over name.
func writeAtomic(dir, name string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("pki: %s: failed to create file: %w", name, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("pki: %s: failed to set mode: %w", name, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("pki: %s: failed to write: %w", name, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("pki: %s: failed to sync: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("pki: %s: failed to close: %w", name, err)
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("pki: %s: failed to rename: %w", name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("pki: failed to open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("pki: failed to sync directory: %w", err)
	}
	return nil
}

// Load reads a PKI written by [PKI.Save]: every model-<SL> pair present
// becomes a model issuer. It checks that each key matches its certificate
// and that every chain verifies against root.pub at the current time.
func Load(dir string) (*PKI, error) {
	pubBytes, err := readFile(dir, rootPubFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Dir: dir}
	}
	if err != nil {
		return nil, err
	}
	root, err := ecc.ParsePoint(pubBytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: not a 64-byte P-256 point", rootPubFile)
	}
	issuer := func(keyName, chainName string) (*Issuer, error) {
		k, err := loadKey(dir, keyName)
		if err != nil {
			return nil, err
		}
		c, err := loadChain(dir, chainName)
		if err != nil {
			return nil, err
		}
		return &Issuer{Chain: c, Key: k}, nil
	}
	p := &PKI{Root: root, Models: make(map[uint32]*Issuer)}
	if p.RootIssuer, err = issuer(rootKeyFile, rootChainFile); err != nil {
		return nil, err
	}
	if p.CRLSigner, err = issuer(crlKeyFile, crlChainFile); err != nil {
		return nil, err
	}
	srv := &Server{}
	if srv.SignKey, err = loadKey(dir, serverSignFile); err != nil {
		return nil, err
	}
	if srv.EncKey, err = loadKey(dir, serverEncFile); err != nil {
		return nil, err
	}
	if srv.Chain, err = loadChain(dir, serverChain); err != nil {
		return nil, err
	}
	p.Server = srv
	// The time server is optional: a PKI made before it existed has none
	// (License Server Time is then unavailable).
	if _, err := os.Lstat(filepath.Join(dir, timeChainFile)); err == nil {
		if p.TimeServer, err = issuer(timeKeyFile, timeChainFile); err != nil {
			return nil, err
		}
	}

	names, err := filepath.Glob(filepath.Join(dir, modelPrefix+"*"+chainSuffix))
	if err != nil {
		return nil, fmt.Errorf("pki: listing models: %w", err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(filepath.Base(n), chainSuffix)
		sl, err := strconv.ParseUint(strings.TrimPrefix(base, modelPrefix), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("pki: %s: name does not end in a security level", filepath.Base(n))
		}
		if p.Models[uint32(sl)], err = issuer(base+keySuffix, base+chainSuffix); err != nil {
			return nil, err
		}
	}
	if err := p.Verify(time.Time{}); err != nil {
		return nil, err
	}
	return p, nil
}

func loadChain(dir, name string) (*bcert.Chain, error) {
	b, err := readFile(dir, name)
	if err != nil {
		return nil, err
	}
	c, err := bcert.ParseChain(b)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", name, err)
	}
	return c, nil
}

// readFile reads dir/name; errors name the file once and keep the cause
// (errors.Is(err, fs.ErrNotExist) works).
func readFile(dir, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("pki: %s: %w", name, err)
	}
	return b, nil
}

// errKeyFile deliberately drops the parser's error: it may quote key bytes.
func errKeyFile(name string) error {
	return fmt.Errorf("pki: %s: not a PKCS#8 PEM P-256 private key", name)
}

func loadKey(dir, name string) (*ecdsa.PrivateKey, error) {
	b, err := readFile(dir, name)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != pemType {
		return nil, errKeyFile(name)
	}
	defer clear(blk.Bytes)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, errKeyFile(name)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errKeyFile(name)
	}
	return ek, nil
}

// NotFoundError is returned by [Load] when dir holds no PKI (no root.pub).
// It matches fs.ErrNotExist.
type NotFoundError struct {
	Dir string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("pki: no test PKI in %s (%s is missing)", e.Dir, rootPubFile)
}

// Is makes errors.Is(err, fs.ErrNotExist) hold.
func (e *NotFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// Exists reports whether dir already holds (part of) a PKI: any file of the
// layout in the package doc. [PKI.Save] replaces such files, so callers that
// must not destroy an existing PKI ask first.
func Exists(dir string) (bool, error) {
	names := []string{rootPubFile, rootKeyFile, rootChainFile, serverSignFile, serverEncFile, serverChain, crlKeyFile, crlChainFile, timeKeyFile, timeChainFile,
		revStateFile, revInfoFile, runtimeCRLFile, appCRLFile}
	for _, n := range names {
		_, err := os.Lstat(filepath.Join(dir, n))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("pki: %s: %w", n, err)
		}
	}
	models, err := filepath.Glob(filepath.Join(dir, modelPrefix+"*"))
	if err != nil {
		return false, fmt.Errorf("pki: listing models: %w", err)
	}
	return len(models) > 0, nil
}
