package licsrv_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

func faultOf(t *testing.T, w *httptest.ResponseRecorder, body []byte) *soap.Fault {
	t.Helper()
	require.Equal(t, http.StatusInternalServerError, w.Code)
	f, err := soap.ParseFault(body)
	require.NoError(t, err)
	return f
}

// Every cfg fault names the key and, unless it is secret, the value.
func TestCfgFaultReasons(t *testing.T) {
	f := newFixture(t, 2000)
	nonce, _ := f.dev.NewNonce()
	ch := f.challenge(t, nonce, f.now, kidA)
	const secret = "c2VjcmV0c2VjcmV0c2VjcmU=" // not 16 bytes: rejected, never echoed
	long := strings.Repeat("9", 200)
	cases := []struct{ query, want string }{
		{"?cfg=(sl:12345)", `cfg sl: "12345" is not 150, 2000 or 3000`},
		{"?cfg=(bogus:1)", `cfg key "bogus" is not supported (supported: kid, `},
		{"?cfg=(sl:3000", "unbalanced brackets: missing ')'"},
		{"?cfg=(sl:3000))", "unbalanced brackets: unexpected ')'"},
		{"?cfg=sl:3000", "cfg syntax error at offset 0: unexpected \"s\"; want '(' to open a group"},
		{"?cfg=(persist:yes)", `cfg persist: "yes" is not true or false`},
		{"?cfg=(kid:zz)", `cfg kid: "zz" is not a GUID or base64 KID`},
		{"?cfg=(contentkey:" + secret + ")", "cfg contentkey: value is not base64 of 16 bytes (value withheld)"},
		{"?cfg=(keyseed:" + secret + ")", "cfg keyseed: value is not base64 of at least 30 bytes (value withheld)"},
		{"?cfg=(sl:" + long + ")", `cfg sl: "` + long[:64] + `"… is not 150, 2000 or 3000`},
		{"?cfg=(tid:%01%02)", `cfg tid: "??" is not a GUID`},
		{"?cfg=(sl:(3000))", "cfg sl: value is a bracket group; want a single value"},
		{"?cfg=(dvop:(data:AA==))", "cfg dvop: needs guid:GUID"},
		{"?cfg=%zz", "cfg is not valid percent-encoding"},
	}
	for _, c := range cases {
		w, body := f.post(t, c.query, ch)
		fault := faultOf(t, w, body)
		require.Equal(t, drm.ErrServerInvalidMessage, fault.Code, c.query)
		require.Contains(t, fault.Message, c.want, c.query)
		require.NotContains(t, string(body), secret, c.query)
	}
}

func TestVerifyFaultReasons(t *testing.T) {
	f := newFixture(t, 2000)
	nonce, _ := f.dev.NewNonce()
	good := f.challenge(t, nonce, f.now, kidA)
	la := bytes.Index(good, []byte("<Version>"))
	flipped := append([]byte(nil), good...)
	flipped[la+len("<Version>")] = '5'
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "request body is empty"},
		{"garbage", []byte("\x00\x01 not xml"), "request is not a SOAP envelope: malformed XML"},
		{"non-soap", []byte("<a><b/></a>"), "request is not a SOAP envelope: root is not a SOAP envelope"},
		{"other-action", []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><JoinDomain xmlns="http://schemas.microsoft.com/DRM/2007/03/protocols"/></soap:Body></soap:Envelope>`),
			`unsupported SOAP operation "JoinDomain" (AcquireLicense, ProcessSecureStopData and AcknowledgeLicense are)`},
		{"flipped-la", flipped, "challenge LA element does not match its signed digest"},
		{"truncated", good[:len(good)/2], "request is not a SOAP envelope: malformed XML"},
	}
	for _, c := range cases {
		w, body := f.post(t, "", c.body)
		require.Contains(t, faultOf(t, w, body).Message, c.want, c.name)
	}
	// Client time: how far, which way, and the window.
	w, body := f.post(t, "", f.challenge(t, nonce, f.now.Add(-3*time.Hour-2*time.Minute), kidA))
	msg := faultOf(t, w, body).Message
	require.Contains(t, msg, "is 3h2m0s behind server time")
	require.Contains(t, msg, "(window 1h0m0s)")
	w, body = f.post(t, "", f.challenge(t, nonce, f.now.Add(2*time.Hour), kidA))
	require.Contains(t, faultOf(t, w, body).Message, "is 2h0m0s ahead of server time")
	// Centuries away (a difference that saturates time.Duration) is refused too.
	for _, ct := range []time.Time{time.Unix(1<<62, 0), time.Unix(-1<<62, 0)} {
		w, body = f.post(t, "", f.challenge(t, nonce, ct, kidA))
		fault := faultOf(t, w, body)
		require.Equal(t, drm.ErrClientTimeInvalid, fault.Code, "%d", ct.Unix())
		require.Contains(t, fault.Message, "is more than 292 years")
	}
}

func TestClientInfoFault(t *testing.T) {
	f := newFixture(t, 2000)
	nonce, _ := f.dev.NewNonce()
	w, body := f.post(t, "?cfg=(msg:clientinfo)", f.challenge(t, nonce, f.now, kidA))
	fault := faultOf(t, w, body)
	require.Equal(t, drm.ErrServerServiceSpecific, fault.Code)
	require.Equal(t, "client info requested by cfg msg:clientinfo", fault.Message)
	require.Contains(t, fault.CustomData, "Client Version: 4.5.0.0")
	require.Contains(t, fault.CustomData, "Security Level: 2000")
	require.Contains(t, fault.CustomData, "Cert 0:")
}

// One cfg URL serves every AdaptationSet of a manifest: groups whose KID the
// header does not name are skipped.
func TestCfgGroupsSelectedByHeaderKID(t *testing.T) {
	f := newFixture(t, 3000)
	kidC := kid.MustParse("40000000-4000-4000-4000-400000000003")
	q := "?cfg=(kid:" + kidA.String() + ",sl:2000),(kid:" + kidB.String() + ",sl:3000)"
	for _, c := range []struct {
		id kid.ID
		sl uint16
	}{{kidA, 2000}, {kidB, 3000}} {
		nonce, _ := f.dev.NewNonce()
		w, body := f.post(t, q, f.challenge(t, nonce, f.now, c.id))
		require.Equal(t, http.StatusOK, w.Code, string(body))
		resp, err := soap.ParseResponse(body)
		require.NoError(t, err)
		require.Len(t, resp.Licenses, 1)
		l, err := xmr.Parse(resp.Licenses[0])
		require.NoError(t, err)
		ck, err := l.ContentKey()
		require.NoError(t, err)
		require.Equal(t, c.id, ck.KID)
		require.Equal(t, c.sl, l.MinSecurityLevel())
	}
	// Both KIDs in one header: both groups apply.
	nonce, _ := f.dev.NewNonce()
	w, body := f.post(t, q, f.challenge(t, nonce, f.now, kidA, kidB))
	require.Equal(t, http.StatusOK, w.Code, string(body))
	resp, err := soap.ParseResponse(body)
	require.NoError(t, err)
	require.Len(t, resp.Licenses, 2)
	// No group applies: the reason names both sides.
	w, body = f.post(t, q, f.challenge(t, nonce, f.now, kidC))
	fault := faultOf(t, w, body)
	require.Equal(t, drm.ErrServerInvalidMessage, fault.Code)
	require.Equal(t, "no cfg group applies: cfg names KIDs "+kidA.String()+","+kidB.String()+"; header names KIDs "+kidC.String(), fault.Message)
	// A group without kid applies to every header KID.
	w, body = f.post(t, "?cfg=(kid:"+kidB.String()+"),(sl:2000)", f.challenge(t, nonce, f.now, kidA))
	require.Equal(t, http.StatusOK, w.Code, string(body))
	resp, err = soap.ParseResponse(body)
	require.NoError(t, err)
	require.Len(t, resp.Licenses, 1)
	l, err := xmr.Parse(resp.Licenses[0])
	require.NoError(t, err)
	ck, err := l.ContentKey()
	require.NoError(t, err)
	require.Equal(t, kidA, ck.KID)
	require.Equal(t, uint16(2000), l.MinSecurityLevel())
}

// logRecord is one JSON log line.
type logRecord struct {
	Level        string  `json:"level"`
	Msg          string  `json:"msg"`
	Method       string  `json:"method"`
	Path         string  `json:"path"`
	Action       string  `json:"action"`
	Outcome      string  `json:"outcome"`
	Status       int     `json:"status"`
	DRMCode      string  `json:"drm_code"`
	Reason       string  `json:"reason"`
	Duration     float64 `json:"duration"`
	DeviceDigest string  `json:"device_digest"`
	Licenses     int     `json:"licenses"`
}

func logLines(t *testing.T, buf *bytes.Buffer) []logRecord {
	t.Helper()
	var out []logRecord
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r logRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		for _, k := range []string{"method", "path", "action", "outcome", "drm_code", "reason", "duration", "device_digest", "licenses"} {
			require.Contains(t, line, `"`+k+`":`, line)
		}
		out = append(out, r)
	}
	buf.Reset()
	return out
}

func TestOneLogLinePerRequest(t *testing.T) {
	var buf bytes.Buffer
	f := newFixtureCfg(t, 2000, func(c *licsrv.Config) {
		c.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const ck = "TtuJBM2/A2F/SAC9h4pt8g=="
	nonce, _ := f.dev.NewNonce()
	w, body := f.post(t, "?cfg=(contentkey:"+ck+",sl:2000),(kid:"+kidB.String()+")", f.challenge(t, nonce, f.now, kidA, kidB))
	require.Equal(t, http.StatusOK, w.Code, string(body))
	recs := logLines(t, &buf)
	require.Len(t, recs, 1)
	r := recs[0]
	require.Equal(t, "INFO", r.Level)
	require.Equal(t, "request", r.Msg)
	require.Equal(t, "POST", r.Method)
	require.Equal(t, "/rightsmanager.asmx", r.Path)
	require.Equal(t, "AcquireLicense", r.Action)
	require.Equal(t, "ok", r.Outcome)
	require.Equal(t, 200, r.Status)
	require.Empty(t, r.DRMCode)
	require.Empty(t, r.Reason)
	require.Len(t, r.DeviceDigest, 64)
	require.Equal(t, 3, r.Licenses)

	// A fault: code and reason; still one line; the cfg (with its content
	// key) is never logged.
	w, _ = f.post(t, "?cfg=(contentkey:"+ck+",sl:12345)", f.challenge(t, nonce, f.now, kidA))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	raw := buf.String()
	require.NotContains(t, raw, ck)
	recs = logLines(t, &buf)
	require.Len(t, recs, 1)
	r = recs[0]
	require.Equal(t, "WARN", r.Level)
	require.Equal(t, "fault", r.Outcome)
	require.Equal(t, 500, r.Status)
	require.Equal(t, drm.ErrServerInvalidMessage.String(), r.DRMCode)
	require.Equal(t, `cfg sl: "12345" is not 150, 2000 or 3000`, r.Reason)
	require.Empty(t, r.DeviceDigest, "the cfg is checked before the challenge")
	require.Zero(t, r.Licenses)

	// A chain failure knows the device digest.
	w, _ = f.post(t, "?cfg=(revoked:true)", f.challenge(t, nonce, f.now, kidA))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	recs = logLines(t, &buf)
	require.Len(t, recs, 1)
	require.Equal(t, drm.ErrDevCertRevoked.String(), recs[0].DRMCode)
	require.Len(t, recs[0].DeviceDigest, 64)

	// Not found and the certificate endpoint.
	wr := httptest.NewRecorder()
	f.srv.ServeHTTP(wr, httptest.NewRequest(http.MethodGet, "/nope%01", nil))
	wr = httptest.NewRecorder()
	f.srv.ServeHTTP(wr, httptest.NewRequest(http.MethodGet, licsrv.CertPath, nil))
	recs = logLines(t, &buf)
	require.Len(t, recs, 2)
	require.Equal(t, "notfound", recs[0].Outcome)
	require.Equal(t, "/nope?", recs[0].Path)
	require.Equal(t, "ok", recs[1].Outcome)
	require.Equal(t, "server-cert", recs[1].Action)
}

// A body over MaxBody gets the fault over a real connection, not a reset,
// and the server stays up.
func TestHugeBodyGetsFault(t *testing.T) {
	f := newFixture(t, 2000)
	hs := httptest.NewServer(f.srv)
	defer hs.Close()
	for _, size := range []int{licsrv.MaxBody + 1, 10 << 20} {
		resp, err := http.Post(hs.URL+"/rightsmanager.asmx", soap.ContentType, bytes.NewReader(make([]byte, size)))
		require.NoError(t, err, "size %d", size)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		fault, err := soap.ParseFault(body)
		require.NoError(t, err)
		require.Equal(t, drm.ErrServerInvalidMessage, fault.Code)
		require.Equal(t, "request body is larger than 1048576 bytes (--max-body)", fault.Message)
	}
	// A plain client that writes the whole body before it reads anything
	// (Go's client reads early; many do not) gets the fault too.
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	const size = 10 << 20
	_, err = fmt.Fprintf(conn, "POST /rightsmanager.asmx HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", soap.ContentType, size)
	require.NoError(t, err)
	_, err = conn.Write(make([]byte, size))
	require.NoError(t, err, "the server reads the whole body before it replies")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	fault, err := soap.ParseFault(body)
	require.NoError(t, err)
	require.Equal(t, drm.ErrServerInvalidMessage, fault.Code)

	nonce, _ := f.dev.NewNonce()
	resp, err = http.Post(hs.URL+"/rightsmanager.asmx", soap.ContentType, bytes.NewReader(f.challenge(t, nonce, f.now, kidA)))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
