package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/wire/kid"
)

// JSON shapes of the secure-stop contract.
type ssSendOut struct {
	Sent         int     `json:"sent"`
	Acknowledged int     `json:"acknowledged"`
	Pending      int     `json:"pending"`
	Error        *string `json:"error"`
}

type ssListOut struct {
	Sessions []struct {
		ID      string   `json:"id"`
		KIDs    []string `json:"kids"`
		State   string   `json:"state"`
		Version int      `json:"version"`
		Start   string   `json:"start"`
		Update  string   `json:"update"`
	} `json:"sessions"`
}

type ssPlayOut struct {
	Tracks []struct {
		Type              string  `json:"type"`
		Samples           int     `json:"samples"`
		SecureStopSession *string `json:"secure_stop_session"`
		Stopped           bool    `json:"stopped"`
	} `json:"tracks"`
	SecureStopSession *string    `json:"secure_stop_session"`
	SecureStop        *ssSendOut `json:"secure_stop"`
	SecureStopError   *string    `json:"secure_stop_error"`
	Error             *string    `json:"error"`
}

type ssReportOut struct {
	Session     string   `json:"session"`
	Device      string   `json:"device"`
	KIDs        []string `json:"kids"`
	Start       string   `json:"start"`
	Stop        string   `json:"stop"`
	VerifiedSS2 string   `json:"verified_ss2"`
}

const emptyGUID = "00000000-0000-0000-0000-000000000000"

func getServerJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func ssReports(t *testing.T, base string) []ssReportOut {
	t.Helper()
	var rs []ssReportOut
	getServerJSON(t, base+"/prsim/securestop/reports", &rs)
	return rs
}

// oneKeyContent is content whose video and audio share one KID (one
// license, one secure-stop session), LA_URL laURL with cfg.
func oneKeyContent(t *testing.T, id kid.ID, laURL, cfg string, segments int) string {
	t.Helper()
	k, err := keyseed.Derive(keyseed.TestSeed(), id)
	require.NoError(t, err)
	c, err := testmedia.Generate(testmedia.Options{Dir: filepath.Join(t.TempDir(), "c"), Scheme: "cenc",
		Video: testmedia.Track{KID: id, Key: k}, Audio: testmedia.Track{KID: id, Key: k},
		LAURL: laURL + "?cfg=" + url.QueryEscape(cfg), Segments: segments, Seed: 5})
	require.NoError(t, err)
	return c.MPD
}

// lossyProxy forwards to the server but, while drop is set, loses the
// answer to ProcessSecureStopData after the server has handled it.
type lossyProxy struct {
	drop    atomic.Bool
	dropped atomic.Int32
	srv     *httptest.Server
}

func newLossyProxy(t *testing.T, base string) *lossyProxy {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &lossyProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !p.drop.Load() || !bytes.Contains(body, []byte("<ProcessSecureStopData")) {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		p.dropped.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// The secure-stop CLI end to end on an SL3000 PlayReady 4.5 device: the
// play opens and stops a SecureStop2 session; its answer is lost, so the
// session stays pending across processes; securestop send (no --url: the
// only server the device knows) resends it; the server reports it once,
// verified.
func TestSecureStopCLISS2(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	proxy := newLossyProxy(t, base)
	dev := filepath.Join(t.TempDir(), "dev")
	ok(t, "device", "new", "--pki", pkiDir, "--dir", dev, "--sl", "3000", "--version", "4.5", "--tpm", "sim")
	id := kid.MustParse("5c000000-5c00-4c00-8c00-000000000001")
	mpd := oneKeyContent(t, id, proxy.srv.URL+"/rightsmanager.asmx", "(securestop:true)", 2)

	proxy.drop.Store(true)
	var play ssPlayOut
	okJSON(t, &play, "play", "--dev", dev, "--mpd", mpd, "--out", filepath.Join(t.TempDir(), "out"), "--json")
	require.Nil(t, play.Error)
	require.NotNil(t, play.SecureStopSession)
	session := *play.SecureStopSession
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, session)
	require.Len(t, play.Tracks, 2)
	for _, tr := range play.Tracks {
		require.NotNil(t, tr.SecureStopSession)
		require.Equal(t, session, *tr.SecureStopSession)
		require.False(t, tr.Stopped)
	}
	require.NotNil(t, play.SecureStop)
	require.Equal(t, ssSendOut{Sent: 1, Acknowledged: 0, Pending: 1}, *play.SecureStop)
	require.NotNil(t, play.SecureStopError, "the lost answer is reported")
	require.EqualValues(t, 1, proxy.dropped.Load())

	var list ssListOut
	okJSON(t, &list, "securestop", "list", "--dev", dev, "--json")
	require.Len(t, list.Sessions, 1)
	s := list.Sessions[0]
	require.Equal(t, session, s.ID)
	require.Equal(t, "stopped", s.State)
	require.Equal(t, 2, s.Version)
	require.Equal(t, []string{id.String()}, s.KIDs)
	require.NotEmpty(t, s.Start)
	require.LessOrEqual(t, s.Start, s.Update)
	require.Len(t, ssReports(t, base), 1, "stored before the answer was lost")

	proxy.drop.Store(false)
	var sent ssSendOut
	okJSON(t, &sent, "securestop", "send", "--dev", dev, "--json")
	require.Equal(t, ssSendOut{Sent: 1, Acknowledged: 1, Pending: 0}, sent)
	okJSON(t, &list, "securestop", "list", "--dev", dev, "--json")
	require.Empty(t, list.Sessions)
	rs := ssReports(t, base)
	require.Len(t, rs, 1, "a resend is counted once")
	require.Equal(t, session, rs[0].Session)
	require.Equal(t, session, rs[0].VerifiedSS2)
	require.Equal(t, []string{id.String()}, rs[0].KIDs)

	// Nothing pending: nothing sent, no server needed.
	okJSON(t, &sent, "securestop", "send", "--dev", dev, "--json")
	require.Equal(t, ssSendOut{}, sent)
}

// SecureStop1 from a PlayReady 3.0 SL3000 device, sent by the play itself;
// an SL2000 device sends nothing; --stop-after stops mid-way.
func TestSecureStopCLIPersonas(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"

	t.Run("ss1", func(t *testing.T) {
		dev := filepath.Join(t.TempDir(), "dev")
		ok(t, "device", "new", "--pki", pkiDir, "--dir", dev, "--sl", "3000", "--version", "3.0", "--tpm", "soft")
		mpd := oneKeyContent(t, kid.MustParse("5c000000-5c00-4c00-8c00-000000000002"), laURL, "(securestop:true)", 1)
		var play ssPlayOut
		okJSON(t, &play, "play", "--dev", dev, "--mpd", mpd, "--out", filepath.Join(t.TempDir(), "out"), "--json")
		require.NotNil(t, play.SecureStopSession)
		require.Equal(t, ssSendOut{Sent: 1, Acknowledged: 1, Pending: 0}, *play.SecureStop)
		require.Nil(t, play.SecureStopError)
		var found bool
		for _, r := range ssReports(t, base) {
			if r.Session == *play.SecureStopSession {
				require.False(t, found, "reported once")
				found = true
				require.Equal(t, emptyGUID, r.VerifiedSS2, "SecureStop1")
			}
		}
		require.True(t, found)
	})

	t.Run("sl2000", func(t *testing.T) {
		dev := filepath.Join(t.TempDir(), "dev")
		ok(t, "device", "new", "--pki", pkiDir, "--dir", dev, "--sl", "2000", "--tpm", "soft")
		mpd := oneKeyContent(t, kid.MustParse("5c000000-5c00-4c00-8c00-000000000003"), laURL, "(securestop:true)", 1)
		before := len(ssReports(t, base))
		var play ssPlayOut
		okJSON(t, &play, "play", "--dev", dev, "--mpd", mpd, "--out", filepath.Join(t.TempDir(), "out"), "--json")
		require.Nil(t, play.Error)
		require.Nil(t, play.SecureStopSession)
		require.Nil(t, play.SecureStop)
		for _, tr := range play.Tracks {
			require.Nil(t, tr.SecureStopSession)
		}
		var list ssListOut
		okJSON(t, &list, "securestop", "list", "--dev", dev, "--json")
		require.Empty(t, list.Sessions)
		var sent ssSendOut
		okJSON(t, &sent, "securestop", "send", "--dev", dev, "--url", laURL, "--json")
		require.Equal(t, ssSendOut{}, sent)
		require.Len(t, ssReports(t, base), before, "an SL2000 device sends nothing")
	})

	t.Run("stop-after", func(t *testing.T) {
		dev := filepath.Join(t.TempDir(), "dev")
		ok(t, "device", "new", "--pki", pkiDir, "--dir", dev, "--sl", "3000", "--tpm", "soft")
		mpd := oneKeyContent(t, kid.MustParse("5c000000-5c00-4c00-8c00-000000000004"), laURL, "(securestop:true)", 3)
		var full, part ssPlayOut
		okJSON(t, &full, "play", "--dev", dev, "--mpd", mpd, "--out", filepath.Join(t.TempDir(), "full"), "--json")
		okJSON(t, &part, "play", "--dev", dev, "--mpd", mpd, "--out", filepath.Join(t.TempDir(), "part"), "--stop-after", "1s", "--json")
		require.Len(t, part.Tracks, 2)
		for i, tr := range part.Tracks {
			require.True(t, tr.Stopped, tr.Type)
			require.False(t, full.Tracks[i].Stopped)
			require.Positive(t, tr.Samples)
			require.Less(t, tr.Samples, full.Tracks[i].Samples/2, "%s: one segment of three", tr.Type)
		}
		require.NotNil(t, part.SecureStopSession)
		require.NotEqual(t, *full.SecureStopSession, *part.SecureStopSession)
		require.Equal(t, ssSendOut{Sent: 1, Acknowledged: 1, Pending: 0}, *part.SecureStop)
		n := 0
		for _, r := range ssReports(t, base) {
			if r.Session == *part.SecureStopSession || r.Session == *full.SecureStopSession {
				n++
				require.Equal(t, r.Session, r.VerifiedSS2)
			}
		}
		require.Equal(t, 2, n)
	})

	t.Run("usage", func(t *testing.T) {
		r := run(t, "play", "--dev", "x", "--mpd", "y", "--out", "z", "--stop-after", "-1s", "--json")
		require.Equal(t, 1, r.code, "%s", r)
		r = run(t, "securestop", "bogus")
		require.Equal(t, 1, r.code, "%s", r)
	})
}

// A response with a TransactionID is acknowledged; the server lists it.
func TestAcknowledgeLicenseCLI(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	dev := newDevice(t, pkiDir, 2000, "soft")
	id := kid.MustParse("5c000000-5c00-4c00-8c00-000000000005")
	tid := "7d000000-0000-4000-8000-000000000001"
	mpd := oneKeyContent(t, id, base+"/rightsmanager.asmx", "(tid:"+tid+")", 1)
	var acq struct {
		Licenses []struct {
			KID           string  `json:"kid"`
			Bound         bool    `json:"bound"`
			TransactionID *string `json:"transaction_id"`
			AckError      *string `json:"ack_error"`
		} `json:"licenses"`
	}
	okJSON(t, &acq, "license", "acquire", "--dev", dev, "--mpd", mpd, "--json")
	require.Len(t, acq.Licenses, 1)
	l := acq.Licenses[0]
	require.True(t, l.Bound)
	require.NotNil(t, l.TransactionID)
	require.Equal(t, tid, *l.TransactionID)
	require.Nil(t, l.AckError)
	var acks []struct {
		TransactionID string `json:"transaction_id"`
		Device        string `json:"device"`
		Licenses      []struct {
			KID string `json:"kid"`
		} `json:"licenses"`
		Time string `json:"time"`
	}
	getServerJSON(t, base+"/prsim/acks", &acks)
	require.Len(t, acks, 1)
	require.Equal(t, tid, acks[0].TransactionID)
	require.NotEmpty(t, acks[0].Device)
	require.Len(t, acks[0].Licenses, 1)
	require.Equal(t, id.String(), acks[0].Licenses[0].KID)
}
