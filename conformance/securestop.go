package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/securestop"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// Secure stop and license acknowledgement (docs/protocol.md §11): the
// server side of the device's reports. Paths of prsim-compatible servers:
// a server without them is judged on the acknowledgements alone.
const (
	reportsPath = "/prsim/securestop/reports"
	acksPath    = "/prsim/acks"
)

// ssCfg asks for a secure-stop license (a prsim cfg key).
const ssCfg = "(securestop:true)"

// ssStreamTries bounds the acquisitions SS6 makes looking for a limit.
const ssStreamTries = 20

// emptyGUIDText is verified_ss2 of an unverified report.
const emptyGUIDText = "00000000-0000-0000-0000-000000000000"

// ssTamperShift is how far SS3 moves a signed record's stop time: a
// device that claims to have played an hour longer.
const ssTamperShift = 3600

func secureStopScenarios() []Scenario {
	return family(FamilySecureStop, []row{
		{"SS1", Must, PersonaSL3000v30,
			"docs/formats/policies-and-outputs.md §10 (SL3000 PlayReady 3.0+ devices send SecureStop1); docs/protocol.md §11 (ProcessSecureStopData, signed acknowledgement)",
			"A PlayReady 3.0 SL3000 device's SecureStop1 report of a played cfg securestop:true license gets a signed acknowledgement naming its session, and is reported once, unverified (empty GUID).",
			ssPlayAndSend(PersonaSL3000v30, false)},
		{"SS2", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §10 (SL3000 4.3+ devices sign SecureStop2 with the license's key; the server reports the verified session); docs/protocol.md §11",
			"A PlayReady 4.5 SL3000 device's SecureStop2 report gets a signed acknowledgement naming its session, and is reported once, verified (verified_ss2 = the session).",
			ssPlayAndSend(PersonaSL3000, true)},
		{"SS3", Must, PersonaSL3000Soft,
			"docs/formats/policies-and-outputs.md §10 (SecureStop2VerifiedSession); docs/protocol.md §11 (a record whose MAC fails is reported unverified)",
			"A SecureStop2 record changed after its MAC was computed is acknowledged but reported unverified (empty GUID), while an intact record of the same message is verified.",
			runSS3},
		{"SS4", Must, PersonaSL3000,
			"docs/protocol.md §11 (a lost acknowledgement means a resend, never a loss; the server stores a session once)",
			"The same ProcessSecureStopData challenge sent twice is acknowledged twice, naming its session each time, and the session is reported once.",
			runSS4},
		{"SS5", Must, PersonaSL3000,
			"docs/formats/soap.md §7 (AcknowledgeLicense); docs/protocol.md §11 (AcknowledgeLicense, cfg tid)",
			"A cfg tid: response carries the TransactionID; the device's signed AcknowledgeLicense is answered without a fault and recorded once, and one with a broken signature gets a fault.",
			runSS5},
		{"SS6", Should, PersonaSL3000,
			"docs/protocol.md §11 (streams per account: DRM_E_SERVER_DEVICE_LIMIT_REACHED until a secure stop reports a stream)",
			"An account at its stream limit is refused with DRM_E_SERVER_DEVICE_LIMIT_REACHED, and one stream stopped and reported frees a place for the next license.",
			runSS6},
	})
}

// ssDevice opens the persona's device with its wall clock on Options.Now,
// so that the ClientTime of the secure-stop challenge its TEE builds is the
// runner's time, as the license challenges' is.
func (e *env) ssDevice(name string) (*ree.Device, error) {
	return e.deviceWith(name, ree.OpenOptions{Now: e.o.Now})
}

// ssLicense asks d for a license of a fresh KID with cfg (and CustomData
// when account is set). It returns the KID and the exchange; a non-nil
// outcome ends the scenario (skipped when the profile cannot send cfg).
func (e *env) ssLicense(ctx context.Context, d *ree.Device, cfg, account, want string) (kid.ID, *exchange, *outcome) {
	stop := func(o outcome) (kid.ID, *exchange, *outcome) { return kid.ID{}, nil, &o }
	u, ok := e.laURL(cfg, true)
	if !ok {
		return stop(needsPolicy(cfg))
	}
	id, err := e.newKID()
	if err != nil {
		return stop(errored("%v", err))
	}
	var edit func(*soap.Challenge)
	if account != "" {
		edit = func(c *soap.Challenge) { c.CustomData = account }
	}
	x, err := e.acquire(ctx, d, e.header(pro.Version40, pro.AlgAESCTR, id), u, edit, nil)
	if err != nil {
		return stop(failedOrErrored(want, err))
	}
	return id, x, nil
}

// ssLicensed is a secure-stop license the server issued, parsed.
type ssLicensed struct {
	raw []byte
	lic *xmr.License
	pub [16]byte // its SECURE_STOP ID
}

// ssOneLicense takes the exchange's only license, which must carry
// SECURE_STOP (and SECURESTOP2 when ss2).
func ssOneLicense(x *exchange, want string, ss2 bool) (*ssLicensed, *outcome) {
	raw, lic, bad := x.oneParsed(want)
	if bad != nil {
		return nil, bad
	}
	p := lic.Policy()
	switch {
	case lic.Persistent():
		o := failed(want, "a persistent license (secure stop is for non-persistent licenses)")
		return nil, &o
	case p.SecureStopID == nil:
		o := failed(want, "a license without a SECURE_STOP object")
		return nil, &o
	case ss2 && len(p.SecureStop2) == 0:
		o := failed(want, "a license without a SECURESTOP2 object")
		return nil, &o
	}
	return &ssLicensed{raw: raw, lic: lic, pub: *p.SecureStopID}, nil
}

// ssPlay binds l in d's TEE, enables it, decrypts one sample and closes
// the key: one played and stopped session, whose ID it returns.
func ssPlay(d *ree.Device, l *ssLicensed, want string) ([16]byte, *outcome) {
	stop := func(o outcome) ([16]byte, *outcome) { return [16]byte{}, &o }
	r := d.Client.BindLicense(l.raw)
	if err := firstBindError([]ree.LicenseResult{r}); err != nil {
		return stop(failed(want, err.Error()))
	}
	k, err := d.Client.Key(r.KID)
	if err != nil {
		return stop(errored("the bound key is not in the session: %v", err))
	}
	if _, err := k.Enable(policy.AllStreams, policy.StrategyBlock); err != nil {
		return stop(errored("the device refuses to play the license: %s", codeText(err)))
	}
	sample, iv := make([]byte, 64), make([]byte, 8)
	if err := k.DecryptCENC(sample, iv, nil); err != nil {
		return stop(errored("the device cannot decrypt a sample: %s", codeText(err)))
	}
	session, ok := k.SecureStopSession()
	if !ok {
		return stop(errored("the device opened no secure-stop session for the license"))
	}
	if err := k.Close(); err != nil {
		return stop(errored("the device could not record the stop: %s", codeText(err)))
	}
	return session, nil
}

// ssPlayed opens the persona's device, has it acquire a secure-stop license
// (with SECURESTOP2 when ss2) and plays it: the device and its stopped
// session.
func (e *env) ssPlayed(ctx context.Context, persona string, ss2 bool, want string) (*ree.Device, [16]byte, *outcome) {
	stop := func(o outcome) (*ree.Device, [16]byte, *outcome) { return nil, [16]byte{}, &o }
	d, err := e.ssDevice(persona)
	if err != nil {
		return stop(errored("%v", err))
	}
	_, x, o := e.ssLicense(ctx, d, ssCfg, "", want)
	if o != nil {
		return stop(*o)
	}
	l, bad := ssOneLicense(x, want, ss2)
	if bad != nil {
		return stop(*bad)
	}
	session, bad := ssPlay(d, l, want)
	if bad != nil {
		return stop(*bad)
	}
	return d, session, nil
}

// ssChallenge is the TEE's ProcessSecureStopData challenge of d's
// stopped sessions, which must include want. It carries every stopped
// session: also those an earlier scenario could not have acknowledged,
// which the judgement ignores.
func (e *env) ssChallenge(ctx context.Context, d *ree.Device, want [][16]byte) ([]byte, [16]byte, *outcome) {
	stop := func(o outcome) ([]byte, [16]byte, *outcome) { return nil, [16]byte{}, &o }
	key, err := e.serverEncKey(ctx)
	if err != nil {
		return stop(errored("%v", err))
	}
	var stopped [][16]byte
	for _, s := range d.Client.SecureStopSessions() {
		if !s.Active {
			stopped = append(stopped, s.ID)
		}
	}
	for _, w := range want {
		if !slices.Contains(stopped, w) {
			return stop(errored("the device's session %s is not stopped", kid.ID(w)))
		}
	}
	body, nonce, n, err := d.TEE.SecureStopChallenge(key, d.Version+".0.0", e.o.Rand)
	if err != nil {
		return stop(errored("the device cannot build its secure-stop challenge: %s", codeText(err)))
	}
	if n != len(stopped) {
		return stop(errored("the device's challenge carries %d sessions, not its %d stopped ones", n, len(stopped)))
	}
	return body, nonce, nil
}

// ssAnswer is what a ProcessSecureStopData or AcknowledgeLicense request
// got: the HTTP status and body.
type ssAnswer struct {
	status int
	body   []byte
}

// postAction posts body with SOAPAction action and returns the answer,
// recorded under kind (its answer as kind+"-answer"); a transport failure
// is the error.
func (e *env) postAction(ctx context.Context, laURL, action string, body []byte, kind string) (*ssAnswer, error) {
	status, b, err := e.postSOAP(ctx, laURL, action, nil, body, kind)
	if err != nil {
		return nil, err
	}
	e.record(kind+"-answer", b)
	return &ssAnswer{status: status, body: b}, nil
}

// sendSecureStop posts a ProcessSecureStopData challenge and returns the
// acknowledgement it got. A fault or an answer that is no acknowledgement
// fails with want.
func (e *env) sendSecureStop(ctx context.Context, body []byte, want string) ([]byte, *outcome) {
	a, err := e.postAction(ctx, e.o.URL, soap.ActionProcessSecureStopData, body, "securestop")
	if err != nil {
		o := failedOrErrored(want, err)
		return nil, &o
	}
	ack, err := soap.ParseSecureStopResponse(a.body)
	if err != nil {
		o := failed(want, a.notA("ProcessSecureStopDataResponse", err))
		return nil, &o
	}
	return ack, nil
}

// notA says what a came as when it did not parse as name (err): a fault,
// with its code and reason, or something else.
func (a *ssAnswer) notA(name string, err error) string {
	var f *soap.Fault
	if errors.As(err, &f) {
		return fmt.Sprintf("HTTP %d fault %s%s", a.status, f.Code, reason(f))
	}
	return fmt.Sprintf("HTTP %d answer that is no %s (%s)", a.status, name, codeText(err))
}

// checkAck verifies an acknowledgement as a device does: its chain to the
// PKI root with a SIGN_RESPONSE leaf key, its signature with that key,
// the challenge's nonce; and it must name every session of sessions.
func (e *env) checkAck(raw []byte, nonce [16]byte, sessions ...[16]byte) error {
	a, err := securestop.ParseAck(raw)
	if err != nil {
		return fmt.Errorf("an acknowledgement that does not parse (%s)", codeText(err))
	}
	chain, err := e.rootedChain(a.Chain, 0)
	if err != nil {
		return fmt.Errorf("an acknowledgement whose chain does not verify to the root (%s)", codeText(err))
	}
	key, ok := chain.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse)
	if !ok {
		return errors.New("an acknowledgement whose signer has no SIGN_RESPONSE key")
	}
	if err := a.Verify(key); err != nil {
		return errors.New("an acknowledgement whose signature does not verify with the SIGN_RESPONSE key")
	}
	if a.Nonce != nonce {
		return errors.New("an acknowledgement with another nonce than the challenge's")
	}
	for _, s := range sessions {
		if !slices.Contains(a.Sessions, s) {
			return fmt.Errorf("an acknowledgement naming %d session(s), not session %s", len(a.Sessions), kid.ID(s))
		}
	}
	return nil
}

// ssReport is one entry of GET /prsim/securestop/reports.
type ssReport struct {
	Session     string   `json:"session"`
	Device      string   `json:"device"`
	KIDs        []string `json:"kids"`
	Start       string   `json:"start"`
	Stop        string   `json:"stop"`
	VerifiedSS2 string   `json:"verified_ss2"`
}

// getJSON fetches a JSON endpoint of the server's origin into v; found is
// false when the server does not serve it (HTTP 404 or 405).
func (e *env) getJSON(ctx context.Context, path string, v any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.origin()+path, nil)
	if err != nil {
		return false, err
	}
	resp, err := e.o.HTTP.Do(req)
	if err != nil {
		return false, &transportError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		return false, nil
	}
	b, tooLarge, err := readAnswer(resp.Body)
	switch {
	case err != nil:
		return true, fmt.Errorf("GET %s unreadable: %w", path, err)
	case resp.StatusCode != http.StatusOK:
		return true, fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	case tooLarge:
		return true, fmt.Errorf("GET %s: larger than 4 MiB", path)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("GET %s is not the JSON expected", path)
	}
	return true, nil
}

// reportsOf returns the reports of session (found=false: the server has
// no reports endpoint).
func (e *env) reportsOf(ctx context.Context, session [16]byte) (rs []ssReport, found bool, err error) {
	var all []ssReport
	if found, err = e.getJSON(ctx, reportsPath, &all); !found || err != nil {
		return nil, found, err
	}
	id := kid.ID(session).String()
	for _, r := range all {
		if strings.EqualFold(r.Session, id) {
			rs = append(rs, r)
		}
	}
	return rs, true, nil
}

// checkReported checks that session is reported exactly once with
// verified_ss2 = verified.
func (e *env) checkReported(ctx context.Context, session [16]byte, verified string, want string) (bool, *outcome) {
	rs, found, err := e.reportsOf(ctx, session)
	if err != nil {
		o := failedOrErrored(want, err)
		return false, &o
	}
	if !found {
		return false, nil
	}
	id := kid.ID(session).String()
	switch {
	case len(rs) != 1:
		o := failed(want, fmt.Sprintf("session %s reported %d times at %s", id, len(rs), reportsPath))
		return true, &o
	case !strings.EqualFold(rs[0].VerifiedSS2, verified):
		o := failed(want, fmt.Sprintf("session %s reported with verified_ss2 %q", id, sanitize(rs[0].VerifiedSS2, 40)))
		return true, &o
	}
	return true, nil
}

// ssPlayAndSend is SS1 (SecureStop1, 3.0 persona) and SS2 (SecureStop2,
// 4.5 persona): play, send the TEE's challenge, have the TEE accept the
// acknowledgement, look at the report.
func ssPlayAndSend(persona string, ss2 bool) func(context.Context, *env) outcome {
	return func(ctx context.Context, e *env) outcome {
		verified, version := "the empty GUID", 1
		if ss2 {
			verified, version = "the session ID", 2
		}
		want := "a signed acknowledgement naming the session, accepted by the device, and the session reported once with verified_ss2 " + verified
		d, session, bad := e.ssPlayed(ctx, persona, ss2, want)
		if bad != nil {
			return *bad
		}
		for _, s := range d.Client.SecureStopSessions() {
			if s.ID == session && s.Version != version {
				return errored("the device opened a SecureStop%d session, not SecureStop%d", s.Version, version)
			}
		}
		body, nonce, bad := e.ssChallenge(ctx, d, [][16]byte{session})
		if bad != nil {
			return *bad
		}
		ack, bad := e.sendSecureStop(ctx, body, want)
		if bad != nil {
			return *bad
		}
		if err := e.checkAck(ack, nonce, session); err != nil {
			return failed(want, err.Error())
		}
		if _, err := d.TEE.AcceptSecureStopAck(ack, nonce); err != nil {
			return failed(want, "the device refuses the acknowledgement: "+codeText(err))
		}
		for _, s := range d.Client.SecureStopSessions() {
			if s.ID == session {
				return failed(want, "the session still pending after the device accepted the acknowledgement")
			}
		}
		want2 := emptyGUIDText
		if ss2 {
			want2 = kid.ID(session).String()
		}
		found, bad := e.checkReported(ctx, session, want2, want)
		if bad != nil {
			return *bad
		}
		if !found {
			return passed("acknowledged and deleted (the server does not serve " + reportsPath + ")")
		}
		return passed("acknowledged, deleted, reported once with verified_ss2 " + verified)
	}
}

// softKeys reads the private scalars of a soft device (device.json
// tee.sign_key and tee.enc_key): the runner's way to sign what the
// device's TEE would refuse to. They must be kept secret.
func softKeys(dir string) (sign *ecdsa.PrivateKey, enc []byte, chain []byte, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "device.json"))
	if err != nil {
		return nil, nil, nil, err
	}
	defer clear(b)
	var dj struct {
		TEE tee.State `json:"tee"`
	}
	if err := json.Unmarshal(b, &dj); err != nil {
		return nil, nil, nil, errors.New("device.json does not parse")
	}
	if dj.TEE.Backend != "soft" {
		return nil, nil, nil, errors.New("the device is not on the soft backend")
	}
	sign, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), dj.TEE.SignKey)
	clear(dj.TEE.SignKey)
	if err != nil || len(dj.TEE.EncKey) != 32 {
		return nil, nil, nil, errors.New("device.json holds no soft P-256 keys")
	}
	return sign, dj.TEE.EncKey, dj.TEE.Chain, nil
}

// runSS3 builds, with the soft device's own keys, a challenge carrying two
// SecureStop2 records MACed with the license's SecureStop2 key (unwrapped
// as the TEE does): one intact, one whose stop time moved after the MAC.
func runSS3(ctx context.Context, e *env) outcome {
	const want = "both records acknowledged, the intact one reported verified, the changed one unverified (empty GUID)"
	if _, o := e.ssReportsServed(ctx, want); o != nil {
		return *o
	}
	d, err := e.ssDevice(PersonaSL3000Soft)
	if err != nil {
		return errored("%v", err)
	}
	id, x, o := e.ssLicense(ctx, d, ssCfg, "", want)
	if o != nil {
		return *o
	}
	l, bad := ssOneLicense(x, want, true)
	if bad != nil {
		return *bad
	}
	sign, enc, chain, err := softKeys(d.Dir)
	if err != nil {
		return errored("cannot read the soft device's keys: %v", err)
	}
	defer clear(enc)
	key, bad := ss2KeyOf(l, enc, want)
	if bad != nil {
		return *bad
	}
	defer clear(key[:])
	now := e.o.Now().Unix()
	recs := make([]securestop.Record, 2)
	for i := range recs {
		recs[i] = securestop.Record{Publisher: l.pub, KIDs: []kid.ID{id}, Start: now - 60, Update: now, Stopped: true}
		if _, err := io.ReadFull(e.o.Rand, recs[i].Session[:]); err != nil {
			return errored("%v", err)
		}
		recs[i].SignSS2(key)
	}
	intact, changed := recs[0].Session, recs[1].Session
	recs[1].Update += ssTamperShift
	serverKey, err := e.serverEncKey(ctx)
	if err != nil {
		return errored("%v", err)
	}
	signer, err := soap.NewSigner(sign, e.o.Rand)
	if err != nil {
		return errored("%v", err)
	}
	var nonce [16]byte
	if _, err := io.ReadFull(e.o.Rand, nonce[:]); err != nil {
		return errored("%v", err)
	}
	body, err := soap.BuildSecureStopChallenge(&soap.SecureStopChallenge{Nonce: nonce, ClientTime: now, ClientVersion: d.Version + ".0.0",
		CertificateChain: chain, Records: securestop.EncodeRecords(recs)}, serverKey, signer, e.o.Rand)
	if err != nil {
		return errored("cannot build the secure-stop challenge: %v", err)
	}
	ack, bad := e.sendSecureStop(ctx, body, want)
	if bad != nil {
		return *bad
	}
	if err := e.checkAck(ack, nonce, intact, changed); err != nil {
		return failed(want, err.Error())
	}
	if _, bad := e.checkReported(ctx, intact, kid.ID(intact).String(), want); bad != nil {
		bad.seen = "intact record: " + bad.seen
		return *bad
	}
	if _, bad := e.checkReported(ctx, changed, emptyGUIDText, want); bad != nil {
		bad.seen = "changed record: " + bad.seen
		return *bad
	}
	return passed("both acknowledged; the intact record verified, the changed one reported with the empty GUID")
}

// ssReportsServed skips a scenario whose judgement is the reports when
// the server does not serve them.
func (e *env) ssReportsServed(ctx context.Context, want string) (bool, *outcome) {
	var all []ssReport
	found, err := e.getJSON(ctx, reportsPath, &all)
	if err != nil {
		o := failedOrErrored(want, err)
		return false, &o
	}
	if !found {
		o := skipped("the server does not serve " + reportsPath + ", where verification is reported")
		return false, &o
	}
	return true, nil
}

// ss2KeyOf unwraps l's SecureStop2 key as the TEE does: the content key
// decrypted with the device's encryption scalar gives CI, which verifies
// the license and unwraps the key (docs/protocol.md §11).
func ss2KeyOf(l *ssLicensed, enc []byte, want string) ([16]byte, *outcome) {
	stop := func(o outcome) ([16]byte, *outcome) { return [16]byte{}, &o }
	ck, err := l.lic.ContentKey()
	if err != nil || len(ck.EncKey) != ecc.CiphertextSize {
		return stop(failed(want, "a license without an ECC-256 content key"))
	}
	m, err := ecc.Decrypt(enc, ecc.Ciphertext(ck.EncKey))
	if err != nil {
		return stop(failed(want, "a content key that does not decrypt with the device key"))
	}
	x := m.X()
	defer clear(x[:])
	if err := l.lic.VerifySignature(x[:16]); err != nil {
		return stop(failed(want, "a license whose signature does not verify with its CI"))
	}
	key, err := l.lic.SecureStop2Key(x[:16])
	if err != nil {
		return stop(failed(want, "a SECURESTOP2 key that does not unwrap under the license's CI"))
	}
	return key, nil
}

// runSS4 sends the TEE's challenge twice, as a device whose first answer
// was lost does.
func runSS4(ctx context.Context, e *env) outcome {
	const want = "two signed acknowledgements naming the session, the session reported once"
	d, session, bad := e.ssPlayed(ctx, PersonaSL3000, false, want)
	if bad != nil {
		return *bad
	}
	body, nonce, bad := e.ssChallenge(ctx, d, [][16]byte{session})
	if bad != nil {
		return *bad
	}
	var ack []byte
	for i := 1; i <= 2; i++ {
		if ack, bad = e.sendSecureStop(ctx, body, want); bad != nil {
			bad.seen = fmt.Sprintf("send %d: %s", i, bad.seen)
			return *bad
		}
		if err := e.checkAck(ack, nonce, session); err != nil {
			return failed(want, fmt.Sprintf("send %d: %v", i, err))
		}
	}
	if _, err := d.TEE.AcceptSecureStopAck(ack, nonce); err != nil {
		return failed(want, "the device refuses the second acknowledgement: "+codeText(err))
	}
	rs, found, err := e.reportsOf(ctx, session)
	switch {
	case err != nil:
		return failedOrErrored(want, err)
	case !found:
		return passed("acknowledged twice (the server does not serve " + reportsPath + ")")
	case len(rs) != 1:
		return failed(want, fmt.Sprintf("the session reported %d times", len(rs)))
	}
	return passed("acknowledged twice, reported once")
}

// ssAck is one entry of GET /prsim/acks.
type ssAck struct {
	TransactionID string `json:"transaction_id"`
	Licenses      []struct {
		KID string `json:"kid"`
	} `json:"licenses"`
}

// runSS5 asks for a response with a TransactionID and acknowledges it:
// first with a broken signature (a fault), then as the device does.
func runSS5(ctx context.Context, e *env) outcome {
	const want = "the TransactionID in the response; a fault for a broken acknowledgement signature; AcknowledgeLicenseResponse for the device's acknowledgement"
	tid, err := e.newKID()
	if err != nil {
		return errored("%v", err)
	}
	d, err := e.ssDevice(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	id, x, o := e.ssLicense(ctx, d, "(tid:"+tid.String()+")", "", want)
	if o != nil {
		return *o
	}
	raw, bad := x.oneLicense(want)
	if bad != nil {
		return *bad
	}
	if !strings.EqualFold(x.resp.TransactionID, tid.String()) {
		return failed(want, fmt.Sprintf("a response with TransactionID %q", sanitize(x.resp.TransactionID, 60)))
	}
	r := d.Client.BindLicense(raw)
	if err := firstBindError([]ree.LicenseResult{r}); err != nil {
		return failed(want, err.Error())
	}
	l, err := xmr.Parse(raw)
	if err != nil {
		return failed(want, "a license that does not parse: "+codeText(err))
	}
	serverKey, err := e.serverEncKey(ctx)
	if err != nil {
		return errored("%v", err)
	}
	a := &soap.LicenseAck{TransactionID: x.resp.TransactionID, ClientVersion: d.Version + ".0.0",
		Results: []soap.LicenseStorageResult{{KID: id, LID: l.RightsID}}}
	sign := func() ([]byte, *outcome) {
		body, err := d.TEE.SignLicenseAck(a, serverKey, e.o.Rand)
		if err != nil {
			o := errored("the device cannot sign the acknowledgement: %s", codeText(err))
			return nil, &o
		}
		return body, nil
	}
	body, bad := sign()
	if bad != nil {
		return *bad
	}
	ans, err := e.postAction(ctx, e.o.URL, soap.ActionAcknowledgeLicense, spoilSignature(body), "ack")
	if err != nil {
		return failedOrErrored(want, err)
	}
	if _, ferr := soap.ParseFault(ans.body); ferr != nil {
		return failed(want, fmt.Sprintf("a broken acknowledgement signature answered with HTTP %d and no fault", ans.status))
	}
	if body, bad = sign(); bad != nil {
		return *bad
	}
	ans, err = e.postAction(ctx, e.o.URL, soap.ActionAcknowledgeLicense, body, "ack")
	if err != nil {
		return failedOrErrored(want, err)
	}
	if err := soap.ParseLicenseAckResponse(ans.body); err != nil {
		return failed(want, ans.notA("AcknowledgeLicenseResponse", err))
	}
	var acks []ssAck
	found, err := e.getJSON(ctx, acksPath, &acks)
	if err != nil {
		return failedOrErrored(want, err)
	}
	if !found {
		return passed("acknowledged (the server does not serve " + acksPath + ")")
	}
	n := 0
	for _, ak := range acks {
		if strings.EqualFold(ak.TransactionID, tid.String()) {
			n++
			if len(ak.Licenses) != 1 || !strings.EqualFold(ak.Licenses[0].KID, id.String()) {
				return failed(want, fmt.Sprintf("TransactionID %s recorded with %d license(s), not the one KID acknowledged", tid, len(ak.Licenses)))
			}
		}
	}
	if n != 1 {
		return failed(want, fmt.Sprintf("TransactionID %s recorded %d times at %s", tid, n, acksPath))
	}
	return passed("broken signature refused; acknowledged and recorded once")
}

// runSS6 fills a fresh account's streams, stops one and asks again.
func runSS6(ctx context.Context, e *env) outcome {
	const want = "DRM_E_SERVER_DEVICE_LIMIT_REACHED at the limit, then a license once a stream is stopped and reported"
	d, err := e.ssDevice(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	var acct [8]byte
	if _, err := io.ReadFull(e.o.Rand, acct[:]); err != nil {
		return errored("%v", err)
	}
	account := fmt.Sprintf("prsim-conformance-%x", acct)
	var first *ssLicensed
	limited := 0
	for i := 1; i <= ssStreamTries && limited == 0; i++ {
		_, x, o := e.ssLicense(ctx, d, ssCfg, account, want)
		if o != nil {
			return *o
		}
		switch {
		case x.fault != nil && x.fault.Code == drm.ErrServerDeviceLimitReached:
			limited = i
		case x.fault != nil || x.resp == nil:
			return failed(want, fmt.Sprintf("request %d: %s", i, x.describe()))
		case first == nil:
			l, bad := ssOneLicense(x, want, false)
			if bad != nil {
				return *bad
			}
			first = l
		}
	}
	if limited == 0 {
		return skipped(fmt.Sprintf("no stream limit: %d secure-stop licenses issued to one account", ssStreamTries))
	}
	if first == nil {
		return failed(want, "DRM_E_SERVER_DEVICE_LIMIT_REACHED for the account's first license")
	}
	session, bad := ssPlay(d, first, want)
	if bad != nil {
		return *bad
	}
	body, nonce, bad := e.ssChallenge(ctx, d, [][16]byte{session})
	if bad != nil {
		return *bad
	}
	ack, bad := e.sendSecureStop(ctx, body, want)
	if bad != nil {
		return *bad
	}
	// Deleting the session is SS1–SS4's business: here only the stream
	// counts, and the answer may be any acknowledgement.
	_, _ = d.TEE.AcceptSecureStopAck(ack, nonce)
	_, x, o := e.ssLicense(ctx, d, ssCfg, account, want)
	if o != nil {
		return *o
	}
	if x.resp == nil || len(x.resp.Licenses) == 0 {
		return failed(want, fmt.Sprintf("after the stop (limit reached at request %d): %s", limited, x.describe()))
	}
	return passed(fmt.Sprintf("limit reached at request %d; a license again once a stream was reported", limited))
}
