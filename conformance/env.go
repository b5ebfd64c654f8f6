package conformance

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/store"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// maxBody bounds what the runner reads of a server answer.
const maxBody = 4 << 20

// certPath is where prsim-compatible servers publish their chain.
const certPath = ree.CertPath

// revLists are the lists a prsim device advertises (docs/protocol.md §3).
func revLists() []string {
	return []string{
		"4E9D8C8A-B652-45A7-9791-6925A6B4791F", // PlayReady runtime CRL
		"28082E80-C7A3-40B1-8256-19E5B6D89B27", // PlayReady application CRL
		"52D1FF11-D388-4EDD-82B7-68EA4C20A16C", // RevInfo v2
		"CD75E604-543D-4A9C-9F09-FE6D24E8BF90", // WMDRM-ND
	}
}

// persona describes a device the runner provisions.
type persona struct {
	sl      uint32
	version string
	foreign bool // issued by a PKI the server does not trust
	soft    bool // on the soft backend whatever Options.TPM says
}

func personas() map[string]persona {
	return map[string]persona{
		PersonaSL3000:        {sl: 3000, version: "4.5"},
		PersonaSL2000:        {sl: 2000, version: "4.5"},
		PersonaUntrustedRoot: {sl: 3000, version: "4.5", foreign: true},
		PersonaPR20:          {sl: 2000, version: "2.0"},
		PersonaSL3000v30:     {sl: 3000, version: "3.0"},
		PersonaSL3000Soft:    {sl: 3000, version: "4.5", soft: true},
	}
}

// env is what a scenario runs against. One scenario runs at a time.
type env struct {
	o    Options
	pki  *pki.PKI
	work string

	foreign *pki.PKI          // made on first use
	devDirs map[string]string // provisioned devices by persona

	serverChain []byte
	serverKey   ecc.Point
	serverErr   error
	serverDone  bool

	// Per scenario.
	scenario string
	rec      *ree.ExchangeDir
	open     []*ree.Device
}

func newEnv(o Options, p *pki.PKI, work string) *env {
	return &env{o: o, pki: p, work: work, devDirs: map[string]string{}}
}

func (e *env) close() {
	e.closeDevices()
	// Personas in a temporary work directory live for one run: release
	// what their TEEs hold in a TPM (an NV counter each), which would
	// otherwise fill its NV. A work directory the user chose is kept.
	if e.o.WorkDir == "" {
		for _, dir := range e.devDirs {
			_ = ree.RemoveDevice(dir)
		}
	}
}

func (e *env) closeDevices() {
	for i := len(e.open) - 1; i >= 0; i-- {
		_ = e.open[i].Close()
	}
	e.open = nil
}

// runOne runs a scenario with its recorder and devices, and closes them.
func (e *env) runOne(ctx context.Context, s Scenario) Result {
	start := e.o.Now()
	e.scenario, e.rec = s.ID, nil
	var recErr error
	if e.o.ExchangeDir != "" {
		e.rec, recErr = ree.NewExchangeDir(filepath.Join(e.o.ExchangeDir, s.ID))
	}
	var out outcome
	if recErr != nil {
		out = errored("cannot save exchanges: %v", recErr)
	} else {
		out = e.safeRun(ctx, s)
	}
	e.closeDevices()
	r := Result{ID: s.ID, Family: s.Family, Level: s.Level, Persona: s.Persona, Rule: s.Rule, Title: s.Title,
		Status: out.status, Detail: out.detail(), Expected: out.expected, Seen: out.seen,
		DurationMS: e.o.Now().Sub(start).Milliseconds()}
	if e.rec != nil {
		for _, f := range e.rec.Files() {
			r.Exchange = append(r.Exchange, s.ID+"/"+f)
		}
		if err := e.rec.Err(); err != nil && r.Status == Pass {
			r.Status, r.Detail = Error, fmt.Sprintf("cannot save exchanges: %v", err)
		}
	}
	return r
}

// safeRun turns a runner panic into an error result, so one broken
// scenario does not end the run.
func (e *env) safeRun(ctx context.Context, s Scenario) (out outcome) {
	defer func() {
		if p := recover(); p != nil {
			out = errored("runner panic: %v", p)
		}
	}()
	return s.run(ctx, e)
}

func (e *env) record(kind string, body []byte) {
	if e.rec != nil {
		e.rec.Record(kind, body)
	}
}

// laURL returns the URL to post to: with cfg appended under ProfileCfg. A
// scenario that needs the policy gets ok=false under ProfileNone, and
// under ProfileEntitlement when an entitlement message cannot say it.
// Under ProfileEntitlement the URL carries the cfg after a '#' marker that
// acquire turns into a signed message for the header it sends (the KIDs
// are known only there); the marker never reaches the server.
func (e *env) laURL(cfg string, needed bool) (string, bool) {
	if cfg == "" {
		return e.o.URL, true
	}
	switch e.o.Profile {
	case ProfileNone:
		return e.o.URL, !needed
	case ProfileEntitlement:
		if _, err := cfgAsGrants(cfg); err != nil {
			return e.o.URL, !needed
		}
		if cfgOnlyScenario(e.scenario) {
			return e.o.URL, !needed
		}
		return e.o.URL + entitlementMarker + cfg, true
	}
	sep := "?"
	if strings.Contains(e.o.URL, "?") {
		sep = "&"
	}
	return e.o.URL + sep + "cfg=" + cfg, true
}

func (e *env) cfgProfile() bool { return e.o.Profile == ProfileCfg }

// device opens the persona's device (provisioning it on first use); it is
// closed when the scenario ends.
func (e *env) device(name string) (*ree.Device, error) {
	return e.deviceOn(name, nil)
}

// deviceOn is device opened on platform p (nil: the device's default
// outputs).
func (e *env) deviceOn(name string, p *hal.Platform) (*ree.Device, error) {
	return e.deviceWith(name, ree.OpenOptions{Platform: p})
}

// deviceWith is device opened with o.
func (e *env) deviceWith(name string, o ree.OpenOptions) (*ree.Device, error) {
	dir, err := e.provision(name)
	if err != nil {
		return nil, err
	}
	d, err := ree.OpenDeviceWith(dir, o)
	if err != nil {
		return nil, fmt.Errorf("cannot open the %s device: %w", name, err)
	}
	e.open = append(e.open, d)
	return d, nil
}

// restart closes d and opens its directory again: a device reboot.
func (e *env) restart(d *ree.Device) (*ree.Device, error) {
	for i, x := range e.open {
		if x == d {
			e.open = append(e.open[:i], e.open[i+1:]...)
			break
		}
	}
	if err := d.Close(); err != nil {
		return nil, fmt.Errorf("cannot close the device: %w", err)
	}
	n, err := ree.OpenDevice(d.Dir)
	if err != nil {
		return nil, fmt.Errorf("cannot reopen the device: %w", err)
	}
	e.open = append(e.open, n)
	return n, nil
}

func (e *env) provision(name string) (string, error) {
	if dir, ok := e.devDirs[name]; ok {
		return dir, nil
	}
	p, ok := personas()[name]
	if !ok {
		return "", fmt.Errorf("unknown persona %q", name)
	}
	src := e.pki
	if p.foreign {
		if e.foreign == nil {
			f, err := pki.Generate(e.o.Rand, e.o.Now())
			if err != nil {
				return "", fmt.Errorf("cannot make the untrusted PKI: %w", err)
			}
			e.foreign = f
		}
		src = e.foreign
	}
	model, err := src.Model(p.sl)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(e.work, "devices", name)
	if err := e.makeDevice(dir, model, src.Root, p); err != nil {
		return "", err
	}
	e.devDirs[name] = dir
	return dir, nil
}

// makeDevice provisions a device of persona p into dir under model, trusting
// root, gives it the authority's current revocation lists when it is of
// the server's PKI (preIngest) and the server certificate when one was
// given, and closes it.
func (e *env) makeDevice(dir string, model *pki.Issuer, root ecc.Point, p persona) error {
	backend := e.o.TPM
	if p.soft {
		backend = "soft"
	}
	d, err := ree.NewDevice(dir, ree.NewDeviceOptions{
		Version: p.version, SecurityLevel: p.sl, Backend: backend,
		ModelChain: model.Chain, ModelSigner: pki.KeySigner{Key: model.Key},
		Roots: []ecc.Point{root}, Rand: e.o.Rand, Now: e.o.Now,
	})
	if err != nil {
		return fmt.Errorf("cannot provision the %s device: %w", filepath.Base(dir), err)
	}
	if !p.foreign {
		e.preIngest(d)
	}
	err = d.Close()
	if err == nil && e.o.ServerCert != nil {
		err = seedServerCert(dir, e.origin(), e.o.ServerCert)
	}
	if err != nil {
		return fmt.Errorf("cannot prepare the %s device: %w", filepath.Base(dir), err)
	}
	return nil
}

// seedServerCert puts a server chain in a closed device's store, where the
// REE looks before fetching it (docs/protocol.md §5, bucket servers).
func seedServerCert(dir, origin string, chain []byte) error {
	s, err := store.Open(filepath.Join(dir, "store.db"))
	if err != nil {
		return err
	}
	err = s.PutServerCert(origin, chain)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

func (e *env) origin() string {
	u, _ := url.Parse(e.o.URL) // checked by Options.check
	return u.Scheme + "://" + u.Host
}

// serverEncKey returns the server's challenge encryption key, from
// Options.ServerCert or GET /prsim/server-cert, verified to the PKI root.
func (e *env) serverEncKey(ctx context.Context) (ecc.Point, error) {
	if e.serverDone {
		return e.serverKey, e.serverErr
	}
	e.serverDone = true
	raw := e.o.ServerCert
	if raw == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.origin()+certPath, nil)
		if err != nil {
			e.serverErr = err
			return ecc.Point{}, err
		}
		resp, err := e.o.HTTP.Do(req)
		if err != nil {
			e.serverErr = fmt.Errorf("cannot fetch the server certificate: %w", err)
			return ecc.Point{}, e.serverErr
		}
		defer resp.Body.Close()
		raw, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil || resp.StatusCode != http.StatusOK {
			e.serverErr = fmt.Errorf("the server does not publish its certificate at %s (HTTP %d); pass --server-cert", certPath, resp.StatusCode)
			return ecc.Point{}, e.serverErr
		}
	}
	chain, err := e.rootedChain(raw, 0)
	if err != nil {
		e.serverErr = fmt.Errorf("the server certificate does not verify to the PKI root: %w", err)
		return ecc.Point{}, e.serverErr
	}
	key, ok := chain.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
	if !ok {
		e.serverErr = errors.New("the server certificate has no ENCRYPT_KEY key")
		return ecc.Point{}, e.serverErr
	}
	e.serverChain, e.serverKey = raw, key
	return key, nil
}

// rootedChain parses raw and verifies it to the PKI root at the runner's
// time, with a leaf of type leafType unless it is zero.
func (e *env) rootedChain(raw []byte, leafType uint32) (*bcert.Chain, error) {
	c, err := bcert.ParseChain(raw)
	if err != nil {
		return nil, err
	}
	if err := c.Verify(bcert.VerifyOptions{Roots: []ecc.Point{e.pki.Root}, CurrentTime: e.o.Now(), LeafType: leafType}); err != nil {
		return nil, err
	}
	return c, nil
}

// challengeFor builds the challenge a prsim device of version v sends for h
// (docs/protocol.md §3), with a fresh nonce of d.
func (e *env) challengeFor(d *ree.Device, h *pro.Header) (*soap.Challenge, error) {
	x, err := h.XML()
	if err != nil {
		return nil, err
	}
	n, err := d.TEE.NewNonce()
	if err != nil {
		return nil, err
	}
	ch := &soap.Challenge{
		Version:       laVersion(h.Version),
		ContentHeader: x,
		ClientVersion: d.Version + ".0.0",
		Nonce:         n,
		ClientTime:    e.o.Now().Unix(),
		Data: soap.ClientData{
			CertificateChain: d.TEE.Chain(),
			Features:         []string{"AESCBC"},
			REEFeatures:      []string{"AESCBCS", "InMemoryOnlyLicenses"},
		},
	}
	for _, g := range revLists() {
		ch.RevLists = append(ch.RevLists, soap.RevListInfo{ListID: kid.MustParse(g).GUID()})
	}
	return ch, nil
}

// signedChallenge is the challenge d sends for h, changed by edit (may be
// nil), signed by the device's TEE and encrypted to the server, then
// changed by tamper (may be nil): the TEE signs only challenges it builds,
// so a deliberately broken one is broken after signing.
func (e *env) signedChallenge(ctx context.Context, d *ree.Device, h *pro.Header, edit func(*soap.Challenge), tamper func([]byte) []byte) (*soap.Challenge, []byte, error) {
	key, err := e.serverEncKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	ch, err := e.challengeFor(d, h)
	if err != nil {
		return nil, nil, err
	}
	if edit != nil {
		edit(ch)
	}
	body, err := d.TEE.SignChallenge(ch, key, e.o.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot build the challenge: %w", err)
	}
	if tamper != nil {
		body = tamper(body)
	}
	return ch, body, nil
}

// plainChallenge is the persona's default challenge (WRMHEADER 4.0, one
// new AES-CTR KID), for scenarios that send it by other means than acquire.
func (e *env) plainChallenge(ctx context.Context, persona string) ([]byte, error) {
	// The server's key first: without it the device is not worth opening.
	if _, err := e.serverEncKey(ctx); err != nil {
		return nil, err
	}
	d, err := e.device(persona)
	if err != nil {
		return nil, err
	}
	id, err := e.newKID()
	if err != nil {
		return nil, err
	}
	_, body, err := e.signedChallenge(ctx, d, e.header(pro.Version40, pro.AlgAESCTR, id), nil, nil)
	return body, err
}

func laVersion(v string) int {
	switch v {
	case pro.Version42:
		return 4
	case pro.Version43:
		return 5
	}
	return 1
}

// exchange is one request and what came back, judged leniently: each
// scenario looks at the part it is about.
type exchange struct {
	nonce  [16]byte
	status int
	resp   *soap.ParsedResponse // a response envelope (any HTTP status)
	fault  *soap.Fault          // a fault envelope (any HTTP status)
	bad    error                // neither parses
}

// acquire sends a challenge for h from d, signed by the device after edit
// (may be nil) changes it and then changed by tamper (may be nil). The
// nonce stays outstanding until its licenses bind or the scenario ends
// (the device is closed).
func (e *env) acquire(ctx context.Context, d *ree.Device, h *pro.Header, laURL string, edit func(*soap.Challenge), tamper func([]byte) []byte) (*exchange, error) {
	var hdr http.Header
	if u, cfg, ok := strings.Cut(laURL, entitlementMarker); ok && e.o.Profile == ProfileEntitlement {
		m, err := e.cfgEntitlement(cfg, h)
		if err != nil {
			return nil, err
		}
		laURL, hdr = u, entHeader(m)
	}
	return e.acquireWith(ctx, d, h, laURL, hdr, edit, tamper)
}

// acquireWith is acquire with extra HTTP request headers (an entitlement
// message).
func (e *env) acquireWith(ctx context.Context, d *ree.Device, h *pro.Header, laURL string, hdr http.Header, edit func(*soap.Challenge), tamper func([]byte) []byte) (*exchange, error) {
	ch, body, err := e.signedChallenge(ctx, d, h, edit, tamper)
	if err != nil {
		return nil, err
	}
	x, err := e.postWith(ctx, laURL, hdr, body, "challenge")
	if err != nil {
		return nil, err
	}
	x.nonce = ch.Nonce
	if x.resp != nil {
		// As a client does (ree.Client.Acquire), the lists a response
		// delivers go to the TEE before its licenses bind, so a license
		// demanding the served RIV binds. The TEE keeps only lists that
		// verify and are newer; a refused one is not this scenario's
		// concern.
		for _, l := range x.resp.RevInfo {
			if id, err := kid.FromGUID(l.ListID[:]); err == nil {
				_, _ = d.TEE.IngestRevocation(id, l.Data)
			}
		}
	}
	return x, nil
}

// request is the license request most scenarios start with: the
// persona's device asks, in a header of fresh KIDs, for the policy cfg.
type request struct {
	persona string
	cfg     string // the policy asked for ("" = none)
	needed  bool   // without cfg the scenario means nothing: skip it when the profile cannot send cfg
	version string // the WRMHEADER version ("" = 4.0)
	alg     string // every KID's ALGID ("" = AESCTR)
	kids    int    // how many KIDs (0 = one)

	header func(*pro.Header) error // changes the header (nil: none)
	edit   func(*soap.Challenge)   // changes the challenge before it is signed (nil: none)
	tamper func([]byte) []byte     // changes the signed challenge bytes (nil: none)
	// want, if set, is what the scenario expects: a request that gets no
	// HTTP answer then fails (the server dropped it) instead of being the
	// runner's error.
	want string
}

// acquired is the answer to a request, with the device that sent it and
// the header's KIDs.
type acquired struct {
	*exchange
	d   *ree.Device
	ids []kid.ID
}

// acquireNew sends r. A non-nil outcome ends the scenario: skipped (r
// needs a cfg the profile cannot send) or errored (failed, see
// request.want).
func (e *env) acquireNew(ctx context.Context, r request) (*acquired, *outcome) {
	stop := func(o outcome) (*acquired, *outcome) { return nil, &o }
	u, ok := e.laURL(r.cfg, r.needed)
	if !ok {
		return stop(needsPolicy(r.cfg))
	}
	fail := func(err error) (*acquired, *outcome) {
		if r.want != "" {
			return stop(failedOrErrored(r.want, err))
		}
		return stop(errored("%v", err))
	}
	d, err := e.device(r.persona)
	if err != nil {
		return fail(err)
	}
	ids, err := e.newKIDs(max(r.kids, 1))
	if err != nil {
		return fail(err)
	}
	version, alg := cmp.Or(r.version, pro.Version40), cmp.Or(r.alg, pro.AlgAESCTR)
	h := e.header(version, alg, ids...)
	if r.header != nil {
		if err := r.header(h); err != nil {
			return fail(err)
		}
	}
	x, err := e.acquire(ctx, d, h, u, r.edit, r.tamper)
	if err != nil {
		return fail(err)
	}
	return &acquired{exchange: x, d: d, ids: ids}, nil
}

// newKID draws a random KID.
func (e *env) newKID() (kid.ID, error) {
	var id kid.ID
	if _, err := io.ReadFull(e.o.Rand, id[:]); err != nil {
		return id, err
	}
	id[6] = id[6]&0x0f | 0x40 // a version-4 UUID, as packagers make
	id[8] = id[8]&0x3f | 0x80
	return id, nil
}

func (e *env) newKIDs(n int) ([]kid.ID, error) {
	out := make([]kid.ID, n)
	for i := range out {
		var err error
		if out[i], err = e.newKID(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *env) header(version, alg string, ids ...kid.ID) *pro.Header {
	h := &pro.Header{Version: version, LAURL: e.o.URL}
	for _, id := range ids {
		h.KIDs = append(h.KIDs, pro.KeyInfo{ID: id, AlgID: alg})
	}
	return h
}

// post sends body and classifies the answer. A transport failure is the
// error.
func (e *env) post(ctx context.Context, laURL string, body []byte, kind string) (*exchange, error) {
	return e.postWith(ctx, laURL, nil, body, kind)
}

// postWith is post with extra request headers. Their values are not
// recorded: an entitlement message carries content keys.
func (e *env) postWith(ctx context.Context, laURL string, hdr http.Header, body []byte, kind string) (*exchange, error) {
	status, b, err := e.postSOAP(ctx, laURL, soap.ActionAcquireLicense, hdr, body, kind)
	x := &exchange{status: status}
	if errors.Is(err, errAnswerTooLarge) {
		x.bad = err
		return x, nil
	}
	if err != nil {
		return nil, err
	}
	r, perr := soap.ParseResponse(b)
	var f *soap.Fault
	switch {
	case perr == nil:
		x.resp = r
		e.record("response", b)
	case errors.As(perr, &f):
		x.fault = f
		e.record("fault", b)
	default:
		// Not an envelope the parser knows: a fault parser may still read
		// it (SOAP 1.2), else it is malformed.
		if f, ferr := soap.ParseFault(b); ferr == nil {
			x.fault = f
			e.record("fault", b)
		} else {
			x.bad = perr
			e.record("answer", b)
		}
	}
	return x, nil
}

// errAnswerTooLarge is a server answer over maxBody.
var errAnswerTooLarge = errors.New("answer larger than 4 MiB")

// postSOAP posts body with SOAPAction action and the extra request headers
// hdr (may be nil), records body under kind (unless empty) and returns the
// HTTP status and the answer. A transport failure is a transportError, an
// answer over maxBody errAnswerTooLarge (with the status).
func (e *env) postSOAP(ctx context.Context, laURL, action string, hdr http.Header, body []byte, kind string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, laURL, bytes.NewReader(body))
	if err != nil {
		// Not err: it quotes the URL, whose cfg query may carry content keys.
		return 0, nil, errors.New("cannot build a request for the server URL")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", soap.ContentType)
	req.Header.Set("SOAPAction", action)
	if kind != "" {
		e.record(kind, body)
	}
	resp, err := e.o.HTTP.Do(req)
	if err != nil {
		return 0, nil, &transportError{err}
	}
	defer resp.Body.Close()
	b, tooLarge, err := readAnswer(resp.Body)
	switch {
	case err != nil:
		return resp.StatusCode, nil, fmt.Errorf("answer unreadable: %w", err)
	case tooLarge:
		return resp.StatusCode, nil, errAnswerTooLarge
	}
	return resp.StatusCode, b, nil
}

// readAnswer reads a server answer up to maxBody bytes; tooLarge says it
// was longer.
func readAnswer(r io.Reader) (b []byte, tooLarge bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, maxBody+1))
	return b, len(b) > maxBody, err
}

// transportError is a request that got no HTTP answer.
type transportError struct{ err error }

// Error leaves out the URL, whose cfg query may carry content keys.
func (t *transportError) Error() string {
	err := t.err
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return "no HTTP answer: " + sanitize(err.Error(), 200)
}
func (t *transportError) Unwrap() error { return t.err }

// describe says what came back, for details: HTTP status, fault code and
// reason, or the number of licenses.
func (x *exchange) describe() string {
	switch {
	case x.fault != nil:
		return fmt.Sprintf("HTTP %d fault %s%s", x.status, x.fault.Code, reason(x.fault))
	case x.resp != nil:
		return fmt.Sprintf("HTTP %d response with %d license(s)", x.status, len(x.resp.Licenses))
	default:
		return fmt.Sprintf("HTTP %d answer that is neither a response nor a fault (%s)", x.status, codeText(x.bad))
	}
}

// reason renders a fault's reason for a detail: sanitised and bounded, as
// it is server text.
func reason(f *soap.Fault) string {
	if f.Message == "" {
		return ""
	}
	return fmt.Sprintf(" reason %q", sanitize(f.Message, 160))
}

func sanitize(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = append(r[:n], '…')
	}
	for i, c := range r {
		if c < 0x20 || c == 0x7f {
			r[i] = ' '
		}
	}
	return string(r)
}

// codeText names an error by its DRM code when it has one.
func codeText(err error) string {
	if err == nil {
		return "no error"
	}
	if c, ok := drm.CodeOf(err); ok {
		return c.String()
	}
	return sanitize(err.Error(), 200)
}

// licenses returns the response's licenses, or a failing outcome saying
// what came instead.
func (x *exchange) licenses(expected string) ([][]byte, *outcome) {
	if x.resp == nil {
		o := failed(expected, x.describe())
		return nil, &o
	}
	return x.resp.Licenses, nil
}

// oneLicense returns the response's only license, or a failing outcome
// saying what came instead.
func (x *exchange) oneLicense(expected string) ([]byte, *outcome) {
	lics, bad := x.licenses(expected)
	if bad != nil {
		return nil, bad
	}
	if len(lics) != 1 {
		o := failed(expected, fmt.Sprintf("%d licenses", len(lics)))
		return nil, &o
	}
	return lics[0], nil
}

// oneParsed is oneLicense parsed: a license that does not parse fails.
func (x *exchange) oneParsed(expected string) ([]byte, *xmr.License, *outcome) {
	raw, bad := x.oneLicense(expected)
	if bad != nil {
		return nil, nil, bad
	}
	l, err := xmr.Parse(raw)
	if err != nil {
		o := failed(expected, "a license that does not parse: "+codeText(err))
		return nil, nil, &o
	}
	return raw, l, nil
}

// bindAll binds every license through d's REE (stored if persistent).
func bindAll(d *ree.Device, lics ...[]byte) []ree.LicenseResult {
	out := make([]ree.LicenseResult, len(lics))
	for i, l := range lics {
		out[i] = d.Client.BindLicense(l)
	}
	return out
}

// firstBindError names the first license that did not bind.
func firstBindError(rs []ree.LicenseResult) error {
	for _, r := range rs {
		if !r.Bound {
			return fmt.Errorf("license for %s not bound: %s", r.KID, codeText(r.Err))
		}
		if r.Err != nil {
			return fmt.Errorf("license for %s: %s", r.KID, codeText(r.Err))
		}
	}
	return nil
}

// tempDir makes a fresh directory under the work directory.
func (e *env) tempDir(name string) (string, error) {
	return os.MkdirTemp(e.work, e.scenario+"-"+name+"-")
}
