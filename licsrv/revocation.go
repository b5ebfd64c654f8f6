package licsrv

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/revocation"
	"github.com/prsim/prsim/wire/soap"
)

// DefaultRevocationReload is how often the revocation lists and the allow
// list are reloaded when [Config].RevocationReload is 0.
const DefaultRevocationReload = 24 * time.Hour

// MaxRevocationReload is the longest accepted reload interval: the
// PlayReady compliance rules ask a server to refresh its revocation data at
// least once a week (docs/formats/revocation.md §6).
const MaxRevocationReload = 7 * 24 * time.Hour

// RevocationLists are the signed revocation blobs a server serves
// (docs/formats/revocation.md §2, §3), exactly as delivered to clients.
type RevocationLists struct {
	RevInfo []byte   // the RevInfo v2 blob; required
	CRLs    [][]byte // runtime and application CRLs, each at most once
}

// RevocationSource returns the current lists. The server calls it in New
// and again whenever [Config].RevocationReload has passed, on the request
// path, so a reload follows the injected clock.
type RevocationSource func() (*RevocationLists, error)

// RevocationStatus is what the server currently serves and enforces.
type RevocationStatus struct {
	// RIV is the served RevInfo's RIV (0 without lists): what licenses
	// carry in REVOCATION_INFORMATION_VERSION_2.
	RIV uint32
	// Lists are the served lists: RevInfo v2 (version = RIV) and each CRL.
	Lists []revocation.ListVersion
	// Allowed is the number of digests on the allow list.
	Allowed int
	// Loaded is when the lists and allow list were last (re)loaded
	// successfully or kept after a failure; zero without revocation.
	Loaded time.Time
}

// servedList is one verified list and its blob.
type servedList struct {
	version uint64
	blob    []byte
	crl     *revocation.CRL // nil for RevInfo v2
}

// revLists is an immutable snapshot of verified lists, by list ID.
type revLists struct {
	riv   uint32
	lists map[kid.ID]servedList
}

// revState holds the lists and allow list and reloads them lazily.
type revState struct {
	src       RevocationSource // nil = no lists
	allowFile string           // "" = no allow list
	every     time.Duration

	mu    sync.Mutex
	next  time.Time // reload when now reaches it
	at    time.Time
	lists *revLists
	allow map[[32]byte]bool
}

// newRevState loads the lists and the allow list once; a failure here is a
// configuration error (the server does not start on lists it cannot trust).
func (s *Server) newRevState(now time.Time) (*revState, error) {
	c := s.cfg
	if c.RevocationReload < 0 || c.RevocationReload > MaxRevocationReload {
		return nil, fmt.Errorf("licsrv: RevocationReload %s: want a positive duration of at most %s (weekly)", c.RevocationReload, MaxRevocationReload)
	}
	if c.Revocation == nil && c.RevAllowFile == "" {
		return nil, nil
	}
	rs := &revState{src: c.Revocation, allowFile: c.RevAllowFile, every: c.RevocationReload}
	if rs.every == 0 {
		rs.every = DefaultRevocationReload
	}
	if rs.src != nil {
		l, err := s.loadLists(rs.src, now)
		if err != nil {
			return nil, fmt.Errorf("licsrv: revocation lists: %w", err)
		}
		rs.lists = l
	}
	if rs.allowFile != "" {
		a, err := loadRevAllow(rs.allowFile)
		if err != nil {
			return nil, fmt.Errorf("licsrv: %w", err)
		}
		rs.allow = a
	}
	rs.at, rs.next = now, now.Add(rs.every)
	return rs, nil
}

// current returns the lists and allow list in force at now, reloading both
// when the interval has passed. A list or allow file that fails to load,
// parse or verify keeps the previous one, and the log says why.
func (s *Server) current(now time.Time) (*revLists, map[[32]byte]bool) {
	rs := s.rev
	if rs == nil {
		return nil, nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if now.Before(rs.next) {
		return rs.lists, rs.allow
	}
	rs.at, rs.next = now, now.Add(rs.every)
	if rs.src != nil {
		l, err := s.loadLists(rs.src, now)
		if err == nil {
			err = notOlder(rs.lists, l)
		}
		switch {
		case err != nil:
			s.cfg.Log.Warn("revocation reload", "what", "lists", "outcome", "kept previous", "reason", libReason(err))
		case l.riv != rs.lists.riv || !sameVersions(rs.lists, l):
			s.cfg.Log.Info("revocation reload", "what", "lists", "outcome", "updated", "riv", l.riv, "lists", l.describe())
			rs.lists = l
		default:
			rs.lists = l
		}
	}
	if rs.allowFile != "" {
		a, err := loadRevAllow(rs.allowFile)
		if err != nil {
			s.cfg.Log.Warn("revocation reload", "what", "allow list", "outcome", "kept previous", "allowed", len(rs.allow),
				"reason", libReason(err))
		} else {
			if !maps.Equal(a, rs.allow) {
				s.cfg.Log.Info("revocation reload", "what", "allow list", "outcome", "updated", "allowed", len(a))
			}
			rs.allow = a
		}
	}
	return rs.lists, rs.allow
}

// RevocationStatus returns what the server serves and enforces now (it
// may reload first, like a request).
func (s *Server) RevocationStatus() RevocationStatus {
	l, allow := s.current(s.cfg.Now())
	st := RevocationStatus{Allowed: len(allow)}
	if s.rev != nil {
		s.rev.mu.Lock()
		st.Loaded = s.rev.at
		s.rev.mu.Unlock()
	}
	if l != nil {
		st.RIV = l.riv
		st.Lists = l.versions()
	}
	return st
}

// loadLists reads, parses and verifies the lists: each must be signed by a
// CRL_SIGNER chained to one of the server's roots, as a device checks them,
// so that the server never sends a list devices would refuse.
func (s *Server) loadLists(src RevocationSource, now time.Time) (*revLists, error) {
	raw, err := src()
	if err != nil {
		return nil, fmt.Errorf("cannot read them: %w", err)
	}
	if raw == nil || len(raw.RevInfo) == 0 {
		return nil, errors.New("no RevInfo v2 blob")
	}
	ri, err := revocation.ParseRevInfo(raw.RevInfo)
	if err != nil {
		return nil, fmt.Errorf("RevInfo v2 malformed: %s", libReason(err))
	}
	if _, err := ri.Verify(s.cfg.Roots, now); err != nil {
		return nil, fmt.Errorf("RevInfo v2 (RIV %d) does not verify: %s", ri.RIV, libReason(err))
	}
	l := &revLists{riv: ri.RIV, lists: map[kid.ID]servedList{
		revocation.ListRevInfo2: {version: uint64(ri.RIV), blob: slices.Clone(raw.RevInfo)},
	}}
	for i, b := range raw.CRLs {
		c, err := revocation.ParseCRL(b)
		if err != nil {
			return nil, fmt.Errorf("CRL %d malformed: %s", i, libReason(err))
		}
		name := listName(c.ID)
		if _, err := c.Verify(s.cfg.Roots, now); err != nil {
			return nil, fmt.Errorf("%s CRL version %d does not verify: %s", name, c.Version, libReason(err))
		}
		if _, dup := l.lists[c.ID]; dup {
			return nil, fmt.Errorf("%s list given twice", name)
		}
		l.lists[c.ID] = servedList{version: uint64(c.Version), blob: slices.Clone(b), crl: c}
	}
	return l, nil
}

// notOlder refuses a reload that would move a list back: lists only move
// forward, on the server as on the device, so a stale or replayed copy of
// the authority's files cannot un-revoke anyone.
func notOlder(old, l *revLists) error {
	if old == nil {
		return nil
	}
	for id, o := range old.lists {
		n, ok := l.lists[id]
		switch {
		case !ok:
			return fmt.Errorf("the %s list (version %d) is missing", listName(id), o.version)
		case n.version < o.version:
			return fmt.Errorf("the %s list went back from version %d to %d", listName(id), o.version, n.version)
		}
	}
	return nil
}

func sameVersions(a, b *revLists) bool {
	if len(a.lists) != len(b.lists) {
		return false
	}
	for id, x := range a.lists {
		if y, ok := b.lists[id]; !ok || y.version != x.version {
			return false
		}
	}
	return true
}

// versions lists the served versions, RevInfo v2 first, then by ID.
func (l *revLists) versions() []revocation.ListVersion {
	out := []revocation.ListVersion{{ID: revocation.ListRevInfo2, Version: uint64(l.riv)}}
	for id, sl := range l.lists {
		if id != revocation.ListRevInfo2 {
			out = append(out, revocation.ListVersion{ID: id, Version: sl.version})
		}
	}
	slices.SortFunc(out[1:], func(a, b revocation.ListVersion) int { return slices.Compare(a.ID[:], b.ID[:]) })
	return out
}

// describe renders the versions for a log line.
func (l *revLists) describe() string {
	var b []byte
	for i, v := range l.versions() {
		if i > 0 {
			b = append(b, ' ')
		}
		b = fmt.Appendf(b, "%s=%d", listName(v.ID), v.Version)
	}
	return string(b)
}

// listName names a list for reasons and logs: its name, else its GUID.
func listName(id kid.ID) string {
	if n := revocation.ListName(id); n != "" {
		return n
	}
	return id.String()
}

// runtimeCRL returns the served runtime CRL, nil without one.
func (l *revLists) runtimeCRL() *revocation.CRL {
	if l == nil {
		return nil
	}
	return l.lists[revocation.ListRuntime].crl
}

// checkRevoked refuses a device chain with a certificate on the runtime
// CRL (each certificate's BASIC digest is matched, so a revoked model
// revokes every device under it), unless the allow list excuses it. One
// check for license, secure-stop and acknowledgement challenges.
//
// An allow-listed digest excuses that certificate and every certificate
// below it in the chain: the operator who serves a revoked model or
// company certificate serves the devices it issued (docs/protocol.md §12).
func (s *Server) checkRevoked(chain *bcert.Chain, now time.Time) error {
	lists, allow := s.current(now)
	crl := lists.runtimeCRL()
	if crl == nil || s.defects[DefectAcceptRevoked] {
		return nil
	}
	certs := chain.Certs
	for i, c := range certs {
		d := c.Basic().Digest
		if !crl.Revoked(d) || (!s.defects[DefectIgnoreAllowList] && allowedBy(certs[i:], allow)) {
			continue
		}
		return fault(drm.ErrDevCertRevoked, fmt.Sprintf("device certificate revoked: the %s certificate (digest %s) is on the runtime CRL version %d",
			certRole(i, len(certs)), base64.StdEncoding.EncodeToString(d[:]), crl.Version))
	}
	return nil
}

// allowedBy reports whether any of certs is on the allow list.
func allowedBy(certs []*bcert.Cert, allow map[[32]byte]bool) bool {
	for _, c := range certs {
		if allow[c.Basic().Digest] {
			return true
		}
	}
	return false
}

// certRole names certificate i of an n-certificate device chain (leaf,
// model, …, root) for a reason.
func certRole(i, n int) string {
	switch {
	case i == 0:
		return "leaf"
	case i == n-1 && i >= 2:
		return "root"
	case i == 1:
		return "model"
	}
	return fmt.Sprintf("issuer (certificate %d)", i)
}

// deliver returns the lists to put in a license response: each list the
// challenge advertises at an older version than the served one, once. A
// list the challenge does not name is not sent (docs/formats/revocation.md
// §4).
func (s *Server) deliver(lists *revLists, adv []soap.RevListInfo) []soap.Revocation {
	if lists == nil || s.defects[DefectStaleRevInfo] {
		return nil
	}
	var out []soap.Revocation
	sent := map[kid.ID]bool{}
	for _, a := range adv {
		id, err := kid.FromGUID(a.ListID[:])
		if err != nil || sent[id] {
			continue
		}
		sl, ok := lists.lists[id]
		if !ok || a.Version >= sl.version {
			continue
		}
		sent[id] = true
		out = append(out, soap.Revocation{ListID: a.ListID, Data: sl.blob})
	}
	return out
}

// riv is the RIV licenses carry: the served RevInfo's, 0 without lists.
func (s *Server) riv(lists *revLists) uint32 {
	if lists == nil || s.defects[DefectRIVZero] {
		return 0
	}
	return lists.riv
}
