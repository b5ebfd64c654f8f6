package conformance

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// timePath is the secure time endpoint of prsim-compatible servers: a
// server that answers it advertises License Server Time.
const timePath = "/prsim/time"

// The ClientTime offsets of C1: outside and inside the one-hour window of
// docs/formats/policies-and-outputs.md §8.
const (
	clientTimeFar  = 2 * time.Hour
	clientTimeNear = 30 * time.Minute
)

// serverTimeTolerance is how far a signed server time may be from the
// runner's clock: servers must keep synchronised clocks
// (docs/formats/policies-and-outputs.md §9); a few minutes absorb the gap
// between the runner's and the server's hosts.
const serverTimeTolerance = 5 * time.Minute

func clockScenarios() []Scenario {
	return family(FamilyClock, []row{
		{"C1", Should, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §8 (servers refuse a ClientTime more than about an hour from theirs)",
			"A challenge whose ClientTime is 2 h ahead of or behind the server's is refused with DRM_E_CLIENTTIMEINVALID; one 30 min ahead gets its license.",
			runC1},
		{"C2", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §9 (License Server Time); docs/protocol.md (prsim's signed time element)",
			"A server that serves /prsim/time signs its current time, with the challenge's nonce, into license responses and at /prsim/time, verifiable with a SECURETIMESERVER chain to the root.",
			runC2},
		{"C3", Must, PersonaSL3000,
			`docs/formats/policies-and-outputs.md §9 (a WRMHEADER 4.3 with LICENSEREQUESTED="false" is a time-only request)`,
			`A clock-sync request (WRMHEADER 4.3, LICENSEREQUESTED="false") gets a response with no license and no fault, carrying the signed time when the server serves /prsim/time.`,
			runC3},
		{"C4", Must, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §5 and §6 (begindate, enddate, firstexp, realtime)",
			"cfg begindate, enddate, firstexp and realtime arrive as the EXPIRATION, EXPIRE_AFTER_FIRST_PLAY and REAL_TIME_EXPIRATION objects asked for.",
			runC4},
		{"C5", Should, PersonaSL3000,
			"docs/formats/policies-and-outputs.md §8 (pair EndDate with BeginDate; use ClientTime as BeginDate)",
			"A license asked with an end date and no begin date gets the challenge's ClientTime as its begin date.",
			runC5},
	})
}

func runC1(ctx context.Context, e *env) outcome {
	const want = "DRM_E_CLIENTTIMEINVALID for ClientTime ±2 h, a license for +30 min"
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	// One device sends all three: a device's store is opened once.
	send := func(off time.Duration) (*exchange, *outcome) {
		id, err := e.newKID()
		if err != nil {
			o := errored("%v", err)
			return nil, &o
		}
		x, err := e.acquire(ctx, d, e.header(pro.Version40, pro.AlgAESCTR, id), e.o.URL,
			func(c *soap.Challenge) { c.ClientTime = e.o.Now().Add(off).Unix() }, nil)
		if err != nil {
			o := failedOrErrored(want, err)
			return nil, &o
		}
		return x, nil
	}
	for _, off := range []time.Duration{clientTimeFar, -clientTimeFar} {
		x, o := send(off)
		if o != nil {
			return *o
		}
		if x.fault == nil || x.fault.Code != drm.ErrClientTimeInvalid {
			return failed(want, fmt.Sprintf("ClientTime %+v: %s", off, x.describe()))
		}
	}
	x, o := send(clientTimeNear)
	if o != nil {
		return *o
	}
	if _, bad := x.oneLicense(want); bad != nil {
		bad.seen = "ClientTime +30m: " + bad.seen
		return *bad
	}
	return passed("±2 h refused with DRM_E_CLIENTTIMEINVALID, +30 min licensed")
}

// fetchServerTime fetches GET /prsim/time with nonce: the blob, or nil when the
// server does not serve it (it does not advertise License Server Time).
func (e *env) fetchServerTime(ctx context.Context, nonce [16]byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.origin()+timePath+"?nonce="+hex.EncodeToString(nonce[:]), nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := e.o.HTTP.Do(req)
	if err != nil {
		return nil, 0, &transportError{err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, soap.MaxServerTimeChain+256))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%s unreadable: %w", timePath, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, nil
	}
	// Not recorded: exchanges are XML files, and the same blob is in the
	// recorded responses.
	return b, resp.StatusCode, nil
}

// checkServerTime verifies a License Server Time blob: its chain to the
// PKI root (leaf SECURETIMESERVER), the signature with the leaf's
// secure-time key, the nonce, and the time against the runner's clock.
func (e *env) checkServerTime(blob []byte, nonce [16]byte) error {
	st, err := soap.ParseServerTime(blob)
	if err != nil {
		return fmt.Errorf("a time element that does not parse (%s)", codeText(err))
	}
	chain, err := e.rootedChain(st.Chain, bcert.CertTypeSecureTimeServer)
	if err != nil {
		return fmt.Errorf("a time-server chain that does not verify to the root (%s)", codeText(err))
	}
	key, ok := chain.Leaf().KeyWithUsage(pki.KeyUsageSignSecureTime)
	if !ok {
		return errors.New("a time-server certificate without a secure-time key")
	}
	if err := st.Verify(key); err != nil {
		return errors.New("a time element whose signature does not verify with the secure-time key")
	}
	if st.Nonce != nonce {
		return errors.New("a time element with another nonce than the request's")
	}
	t, now := time.Unix(st.Time, 0), e.o.Now()
	if t.Before(now.Add(-serverTimeTolerance)) || t.After(now.Add(serverTimeTolerance)) {
		return fmt.Errorf("a signed time %s, %s from the runner's clock %s (tolerance %s)", t.UTC().Format(time.RFC3339),
			now.Sub(t).Abs().Truncate(time.Second), now.UTC().Format(time.RFC3339), serverTimeTolerance)
	}
	return nil
}

// timeNonce draws the nonce of a /prsim/time request.
func (e *env) timeNonce() ([16]byte, error) {
	var n [16]byte
	_, err := io.ReadFull(e.o.Rand, n[:])
	return n, err
}

func runC2(ctx context.Context, e *env) outcome {
	const want = "a valid signed time in the license response and at " + timePath
	n, err := e.timeNonce()
	if err != nil {
		return errored("%v", err)
	}
	blob, status, err := e.fetchServerTime(ctx, n)
	if err != nil {
		return failedOrErrored(want, err)
	}
	if blob == nil {
		return skipped(fmt.Sprintf("the server does not advertise License Server Time (GET %s: HTTP %d)", timePath, status))
	}
	if err := e.checkServerTime(blob, n); err != nil {
		return failed(want, timePath+": "+err.Error())
	}
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, want: want})
	if o != nil {
		return *o
	}
	if x.resp == nil {
		return failed(want, x.describe())
	}
	if len(x.resp.ServerTime) == 0 {
		return failed(want, "a license response without LicenseServerTime")
	}
	if err := e.checkServerTime(x.resp.ServerTime, x.nonce); err != nil {
		return failed(want, "license response: "+err.Error())
	}
	return passed("signed time verified in the response and at " + timePath)
}

func runC3(ctx context.Context, e *env) outcome {
	const want = "a response with no license, no fault, and a valid signed time when the server serves " + timePath
	n, err := e.timeNonce()
	if err != nil {
		return errored("%v", err)
	}
	blob, _, err := e.fetchServerTime(ctx, n)
	if err != nil {
		return failedOrErrored(want, err)
	}
	lst := blob != nil
	notRequested := func(h *pro.Header) error {
		no := false
		h.LicenseRequested = &no
		return nil
	}
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, version: pro.Version43, header: notRequested, want: want})
	if o != nil {
		return *o
	}
	switch {
	case x.resp == nil:
		return failed(want, x.describe())
	case len(x.resp.Licenses) != 0:
		return failed(want, fmt.Sprintf("a response with %d license(s)", len(x.resp.Licenses)))
	case !lst:
		return passed("no license, no fault (the server does not advertise License Server Time)")
	case len(x.resp.ServerTime) == 0:
		return failed(want, "a response without LicenseServerTime")
	}
	if err := e.checkServerTime(x.resp.ServerTime, x.nonce); err != nil {
		return failed(want, err.Error())
	}
	return passed("no license, no fault, signed time verified")
}

// The dates of C4: fixed, whole seconds, within XMR's 32-bit range.
var (
	c4Begin = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	c4End   = time.Date(2038, 1, 1, 12, 0, 0, 0, time.UTC)
)

const c4FirstPlay = 3600

func runC4(ctx context.Context, e *env) outcome {
	cfg := fmt.Sprintf("(begindate:%s,enddate:%s,firstexp:%d,realtime:true)", c4Begin.Format("20060102"),
		c4End.Format("20060102150405"), c4FirstPlay)
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, cfg: cfg, needed: true})
	if o != nil {
		return *o
	}
	want := fmt.Sprintf("EXPIRATION %d..%d, EXPIRE_AFTER_FIRST_PLAY %d, REAL_TIME_EXPIRATION", c4Begin.Unix(), c4End.Unix(), c4FirstPlay)
	p, bad := onePolicy(x, want)
	if bad != nil {
		return *bad
	}
	switch {
	case p.Expiration == nil:
		return failed(want, "no EXPIRATION object")
	case int64(p.Expiration.Begin) != c4Begin.Unix() || int64(p.Expiration.End) != c4End.Unix():
		return failed(want, fmt.Sprintf("EXPIRATION %d..%d", p.Expiration.Begin, p.Expiration.End))
	case p.ExpireAfterFirstPlay == nil || *p.ExpireAfterFirstPlay != c4FirstPlay:
		return failed(want, "EXPIRE_AFTER_FIRST_PLAY "+optU32(p.ExpireAfterFirstPlay))
	case !p.RealTimeExpiration:
		return failed(want, "no REAL_TIME_EXPIRATION object")
	}
	return passed("begin, end, first-play and real-time objects as asked")
}

func runC5(ctx context.Context, e *env) outcome {
	// A ClientTime 10 minutes behind the server's tells it apart from the
	// server's own time.
	ct := e.o.Now().Add(-10 * time.Minute).Unix()
	end := e.o.Now().AddDate(0, 0, 30).UTC()
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, cfg: "(enddate:" + end.Format("20060102") + ")", needed: true,
		edit: func(c *soap.Challenge) { c.ClientTime = ct }})
	if o != nil {
		return *o
	}
	want := fmt.Sprintf("EXPIRATION begin %d (the ClientTime)", ct)
	p, bad := onePolicy(x, want)
	if bad != nil {
		return *bad
	}
	if p.Expiration == nil {
		return failed(want, "no EXPIRATION object")
	}
	if int64(p.Expiration.Begin) != ct {
		return failed(want, fmt.Sprintf("EXPIRATION begin %d", p.Expiration.Begin))
	}
	return passed("the end date is paired with the ClientTime as begin date")
}

// onePolicy parses the response's only license.
func onePolicy(x *acquired, want string) (*xmr.Policy, *outcome) {
	_, l, bad := x.oneParsed(want)
	if bad != nil {
		return nil, bad
	}
	p := l.Policy()
	return &p, nil
}

func optU32(v *uint32) string {
	if v == nil {
		return "absent"
	}
	return fmt.Sprint(*v)
}
