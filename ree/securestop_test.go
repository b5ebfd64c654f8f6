package ree_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/demo"
	"github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/kid"
)

// ssReport is one entry of GET /prsim/securestop/reports.
type ssReport struct {
	Session     string   `json:"session"`
	Device      string   `json:"device"`
	KIDs        []string `json:"kids"`
	Start       string   `json:"start"`
	Stop        string   `json:"stop"`
	VerifiedSS2 string   `json:"verified_ss2"`
}

const emptyGUID = "00000000-0000-0000-0000-000000000000"

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func (e *env) reports(t *testing.T) []ssReport {
	t.Helper()
	var rs []ssReport
	getJSON(t, e.srv.URL+"/prsim/securestop/reports", &rs)
	return rs
}

// ssContent is one-key content (video and audio share the KID, so one
// license and one session) whose LA_URL asks the reference server for
// secure stop; extra cfg entries are appended.
func ssContent(t *testing.T, laURL string, id kid.ID, segments int, cfg string) *testmedia.Content {
	t.Helper()
	k, err := keyseed.Derive(keyseed.TestSeed(), id)
	require.NoError(t, err)
	c, err := testmedia.Generate(testmedia.Options{Dir: t.TempDir(), Scheme: "cenc",
		Video: testmedia.Track{KID: id, Key: k}, Audio: testmedia.Track{KID: id, Key: k},
		LAURL: laURL + "?cfg=(securestop:true" + cfg + ")", Segments: segments, Seed: 3})
	require.NoError(t, err)
	return c
}

func (e *env) deviceVersion(t *testing.T, sl uint32, version string) *ree.Device {
	t.Helper()
	d, err := e.fx.NewDevice(filepath.Join(t.TempDir(), "dev"), fixture.Device{SecurityLevel: sl, Version: version})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

// sendReport records what a play's secure-stop send did.
type sendReport struct {
	called bool
	res    ree.SendResult
	err    error
}

func (s *sendReport) option() ree.PlayOption {
	return ree.WithSecureStopReport(func(r ree.SendResult, err error) { s.called, s.res, s.err = true, r, err })
}

// An SL3000 PlayReady 4.5 device opens one SecureStop2 session for a
// secure-stop license, records the stop when playback ends, and the
// server verifies the record's MAC with the license's key.
func TestSecureStopSS2PlaySend(t *testing.T) {
	e := newEnv(t, nil)
	d := e.deviceVersion(t, 3000, "4.5")
	id := kid.MustParse("55000000-5500-4500-8500-000000000001")
	c := ssContent(t, e.laURL, id, 2, "")
	tracks, err := d.Client.Play(context.Background(), c.MPD, t.TempDir(), "", ree.WithoutSecureStopSend())
	require.NoError(t, err)
	require.Len(t, tracks, 2)
	require.NotNil(t, tracks[0].SecureStopSession)
	require.Equal(t, tracks[0].SecureStopSession, tracks[1].SecureStopSession, "one key, one session")
	session := *tracks[0].SecureStopSession

	ss := d.Client.SecureStopSessions()
	require.Len(t, ss, 1)
	require.Equal(t, session, ss[0].ID)
	require.False(t, ss[0].Active, "the play's end records the stop")
	require.Equal(t, 2, ss[0].Version)
	require.Equal(t, []kid.ID{id}, ss[0].KIDs)
	require.False(t, ss[0].Update.Before(ss[0].Start))

	// The stop wiped the key and the session dropped it: a non-persistent
	// license is gone.
	_, err = d.Client.Key(id)
	require.ErrorIs(t, err, drm.ErrLicenseNotFound)
	require.Empty(t, e.reports(t), "nothing is sent with WithoutSecureStopSend")

	res, err := d.Client.SendSecureStops(context.Background(), e.laURL)
	require.NoError(t, err)
	require.Equal(t, ree.SendResult{Sent: 1, Acknowledged: 1, Pending: 0}, res)
	require.Empty(t, d.Client.SecureStopSessions())

	rs := e.reports(t)
	require.Len(t, rs, 1)
	want := kid.ID(session).String()
	require.Equal(t, want, rs[0].Session)
	require.Equal(t, want, rs[0].VerifiedSS2, "a SecureStop2 record verifies")
	require.Equal(t, []string{id.String()}, rs[0].KIDs)

	// Nothing left: a second send sends nothing.
	res, err = d.Client.SendSecureStops(context.Background(), e.laURL)
	require.NoError(t, err)
	require.Equal(t, ree.SendResult{}, res)
	require.Len(t, e.reports(t), 1)
}

// A PlayReady 3.0 SL3000 device sends SecureStop1: reported with the
// empty GUID. The play sends its stops by itself.
func TestSecureStopSS1SentAtPlayEnd(t *testing.T) {
	e := newEnv(t, nil)
	d := e.deviceVersion(t, 3000, "3.0")
	id := kid.MustParse("55000000-5500-4500-8500-000000000002")
	c := ssContent(t, e.laURL, id, 2, "")
	var sr sendReport
	tracks, err := d.Client.Play(context.Background(), c.MPD, t.TempDir(), "", sr.option())
	require.NoError(t, err)
	require.NotNil(t, tracks[0].SecureStopSession)
	require.True(t, sr.called)
	require.NoError(t, sr.err)
	require.Equal(t, ree.SendResult{Sent: 1, Acknowledged: 1, Pending: 0}, sr.res)
	require.Empty(t, d.Client.SecureStopSessions())
	rs := e.reports(t)
	require.Len(t, rs, 1)
	require.Equal(t, kid.ID(*tracks[0].SecureStopSession).String(), rs[0].Session)
	require.Equal(t, emptyGUID, rs[0].VerifiedSS2, "SecureStop1 is not verifiable")
}

// SL2000 devices send no secure stop; a persistent license never opens a
// session.
func TestSecureStopNoSession(t *testing.T) {
	e := newEnv(t, nil)
	for name, tc := range map[string]struct {
		sl      uint32
		version string
		cfg     string
	}{
		"sl2000":     {2000, "4.5", ""},
		"pr2.0":      {3000, "2.0", ""},
		"persistent": {3000, "4.5", ",persist:true"},
	} {
		t.Run(name, func(t *testing.T) {
			d := e.deviceVersion(t, tc.sl, tc.version)
			id := kid.MustParse("55000000-5500-4500-8500-000000000003")
			var c *testmedia.Content
			if tc.cfg == "" {
				c = ssContent(t, e.laURL, id, 1, "")
			} else {
				// securestop:true contradicts persist:true at the server:
				// a persistent license is asked for without it.
				k, err := keyseed.Derive(keyseed.TestSeed(), id)
				require.NoError(t, err)
				c, err = testmedia.Generate(testmedia.Options{Dir: t.TempDir(), Scheme: "cenc",
					Video: testmedia.Track{KID: id, Key: k}, Audio: testmedia.Track{KID: id, Key: k},
					LAURL: e.laURL + "?cfg=(persist:true)", Segments: 1})
				require.NoError(t, err)
			}
			var sr sendReport
			tracks, err := d.Client.Play(context.Background(), c.MPD, t.TempDir(), "", sr.option())
			require.NoError(t, err)
			for _, tr := range tracks {
				require.Nil(t, tr.SecureStopSession)
			}
			require.False(t, sr.called, "nothing to send")
			require.Empty(t, d.Client.SecureStopSessions())
			res, err := d.Client.SendSecureStops(context.Background(), e.laURL)
			require.NoError(t, err)
			require.Equal(t, ree.SendResult{}, res)
		})
	}
	require.Empty(t, e.reports(t))
}

// WithStopAfter stops mid-way as a user would: the tracks hold the clear
// samples up to the stop, and the session is stopped.
func TestSecureStopStopAfter(t *testing.T) {
	e := newEnv(t, nil)
	d := e.deviceVersion(t, 3000, "4.5")
	id := kid.MustParse("55000000-5500-4500-8500-000000000004")
	c := ssContent(t, e.laURL, id, 3, "")
	out := t.TempDir()
	tracks, err := d.Client.Play(context.Background(), c.MPD, out, "", ree.WithStopAfter(time.Second), ree.WithoutSecureStopSend())
	require.NoError(t, err)
	require.Len(t, tracks, 2)
	for _, tr := range tracks {
		require.True(t, tr.Stopped, tr.Type)
		got, err := demo.SampleData(filepath.Join(out, tr.Out))
		require.NoError(t, err)
		all := c.Clear[tr.Type]
		require.NotEmpty(t, got, tr.Type)
		require.Less(t, len(got), len(all)/2, "%s: about one segment of three", tr.Type)
		require.Equal(t, all[:len(got)], got, "%s: a clear prefix", tr.Type)
		require.Equal(t, len(got), tr.Samples)
	}
	ss := d.Client.SecureStopSessions()
	require.Len(t, ss, 1)
	require.False(t, ss[0].Active)

	// Played to the end, the same content reports no stop.
	tracks, err = d.Client.Play(context.Background(), c.MPD, t.TempDir(), "", ree.WithoutSecureStopSend())
	require.NoError(t, err)
	for _, tr := range tracks {
		require.False(t, tr.Stopped)
		require.Equal(t, len(c.Clear[tr.Type]), tr.Samples)
	}
	require.Len(t, d.Client.SecureStopSessions(), 2, "a second license, a second session")
}

// dropSecureStopResponses lets secure-stop challenges reach the server
// (which stores them) while drop is set but loses the answer.
type dropSecureStopResponses struct {
	drop     atomic.Bool
	replay   atomic.Bool
	mu       sync.Mutex
	lastResp []byte
	dropped  atomic.Int32
}

func (p *dropSecureStopResponses) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !bytes.Contains(body, []byte("<ProcessSecureStopData")) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case p.drop.Load():
			p.dropped.Add(1)
			w.WriteHeader(http.StatusBadGateway) // the answer is lost on the way
			return
		case p.replay.Load() && p.lastResp != nil:
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(p.lastResp) // an old acknowledgement
			return
		}
		p.lastResp = rec.Body.Bytes()
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// A lost answer leaves the record pending; the resend is acknowledged and
// the server still counts the session once.
func TestSecureStopLostAckResend(t *testing.T) {
	p := &dropSecureStopResponses{}
	e := newEnv(t, p.wrap)
	d := e.deviceVersion(t, 3000, "4.5")
	id := kid.MustParse("55000000-5500-4500-8500-000000000005")
	c := ssContent(t, e.laURL, id, 1, "")
	p.drop.Store(true)
	var sr sendReport
	tracks, err := d.Client.Play(context.Background(), c.MPD, t.TempDir(), "", sr.option())
	require.NoError(t, err, "a failed send does not fail the play")
	require.True(t, sr.called)
	require.Error(t, sr.err)
	require.Equal(t, ree.SendResult{Sent: 1, Acknowledged: 0, Pending: 1}, sr.res)
	require.EqualValues(t, 1, p.dropped.Load())
	ss := d.Client.SecureStopSessions()
	require.Len(t, ss, 1)
	require.False(t, ss[0].Active)
	require.Len(t, e.reports(t), 1, "the server stored it before the answer was lost")

	// The device restarts: the pending session survives in the sealed state.
	dir := d.Dir
	require.NoError(t, d.Close())
	d2, err := ree.OpenDevice(dir)
	require.NoError(t, err)
	defer d2.Close()
	require.Len(t, d2.Client.SecureStopSessions(), 1)

	p.drop.Store(false)
	res, err := d2.Client.SendSecureStops(context.Background(), e.laURL)
	require.NoError(t, err)
	require.Equal(t, ree.SendResult{Sent: 1, Acknowledged: 1, Pending: 0}, res)
	require.Empty(t, d2.Client.SecureStopSessions())
	rs := e.reports(t)
	require.Len(t, rs, 1, "a resend is not a second report")
	require.Equal(t, kid.ID(*tracks[0].SecureStopSession).String(), rs[0].Session)
}

// An acknowledgement of an earlier challenge (a replay) deletes nothing.
func TestSecureStopReplayedAckRefused(t *testing.T) {
	p := &dropSecureStopResponses{}
	e := newEnv(t, p.wrap)
	d := e.deviceVersion(t, 3000, "4.5")
	for i, id := range []kid.ID{kid.MustParse("55000000-5500-4500-8500-000000000006"), kid.MustParse("55000000-5500-4500-8500-000000000007")} {
		c := ssContent(t, e.laURL, id, 1, "")
		if i == 1 {
			p.replay.Store(true)
		}
		var sr sendReport
		_, err := d.Client.Play(context.Background(), c.MPD, t.TempDir(), "", sr.option())
		require.NoError(t, err)
		if i == 0 {
			require.NoError(t, sr.err)
			continue
		}
		require.ErrorIs(t, sr.err, drm.ErrSecureStopInvalidResponse)
		require.Equal(t, ree.SendResult{Sent: 1, Acknowledged: 0, Pending: 1}, sr.res)
	}
	require.Len(t, d.Client.SecureStopSessions(), 1, "the replayed ack deleted nothing")
	p.replay.Store(false)
	res, err := d.Client.SendSecureStops(context.Background(), e.laURL)
	require.NoError(t, err)
	require.Equal(t, ree.SendResult{Sent: 1, Acknowledged: 1, Pending: 0}, res)
	require.Len(t, e.reports(t), 2)
}

// A send needs a server: an unreachable one leaves everything pending.
func TestSecureStopSendUnreachable(t *testing.T) {
	e := newEnv(t, nil)
	d := e.deviceVersion(t, 3000, "4.5")
	id := kid.MustParse("55000000-5500-4500-8500-000000000008")
	c := ssContent(t, e.laURL, id, 1, "")
	_, err := d.Client.Play(context.Background(), c.MPD, t.TempDir(), "", ree.WithoutSecureStopSend())
	require.NoError(t, err)
	e.srv.Close()
	res, err := d.Client.SendSecureStops(context.Background(), e.laURL)
	require.Error(t, err)
	require.Equal(t, ree.SendResult{Sent: 1, Acknowledged: 0, Pending: 1}, res)
	_, err = d.Client.SendSecureStops(context.Background(), "ftp://example.test/x")
	require.Error(t, err)
	require.Len(t, d.Client.SecureStopSessions(), 1)
}

// A response with a TransactionID makes the device acknowledge it; the
// server records the acknowledgement.
func TestAcknowledgeLicense(t *testing.T) {
	e := newEnv(t, nil)
	d := e.deviceVersion(t, 2000, "4.5")
	tid := "0a1b2c3d-0000-4000-8000-00000000aaaa"
	audio := kid.MustParse("20000000-2000-2000-2000-200000000002")
	res, err := d.Client.Acquire(context.Background(), header(t, e.laURL, videoKID, audio), e.laURL+"?cfg=(tid:"+tid+")")
	require.NoError(t, err)
	require.Len(t, res, 2)
	for _, r := range res {
		require.True(t, r.Bound)
		require.Equal(t, tid, r.TransactionID)
		require.NoError(t, r.AckErr)
	}
	var acks []struct {
		TransactionID string `json:"transaction_id"`
		Device        string `json:"device"`
		Licenses      []struct {
			KID    string `json:"kid"`
			LID    string `json:"lid"`
			Result any    `json:"result"`
		} `json:"licenses"`
	}
	getJSON(t, e.srv.URL+"/prsim/acks", &acks)
	require.Len(t, acks, 1)
	require.Equal(t, tid, acks[0].TransactionID)
	require.Len(t, acks[0].Licenses, 2)
	got := []string{acks[0].Licenses[0].KID, acks[0].Licenses[1].KID}
	require.ElementsMatch(t, []string{videoKID.String(), audio.String()}, got)

	// Without tid no acknowledgement is sent.
	res, err = d.Client.Acquire(context.Background(), header(t, e.laURL, videoKID), "")
	require.NoError(t, err)
	require.Empty(t, res[0].TransactionID)
	getJSON(t, e.srv.URL+"/prsim/acks", &acks)
	require.Len(t, acks, 1)
}

// A lost acknowledgement answer unbinds nothing but is reported on every
// license of the response.
func TestAcknowledgeLicenseFailureReported(t *testing.T) {
	e := newEnv(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte("<AcknowledgeLicense")) {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	d := e.deviceVersion(t, 2000, "4.5")
	tid := "0a1b2c3d-0000-4000-8000-00000000bbbb"
	res, err := d.Client.Acquire(context.Background(), header(t, e.laURL, videoKID), e.laURL+"?cfg=(tid:"+tid+")")
	require.NoError(t, err, "the licenses are bound: the acquisition succeeded")
	require.Len(t, res, 1)
	require.True(t, res[0].Bound)
	require.Equal(t, tid, res[0].TransactionID)
	require.Error(t, res[0].AckErr)
	_, err = d.Client.Key(videoKID)
	require.NoError(t, err)
}
