package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/soap"
)

// exchange is one real license exchange, captured by a recording proxy in
// front of "prsim server" while "prsim license acquire" ran through it.
type exchange struct {
	pki, base, dev string
	proxy          *recorder
	content        content
	challenge      []byte // the AcquireLicense request body
	response       []byte // the AcquireLicenseResponse body
}

// recorder is a reverse proxy that keeps every request and response body.
type recorder struct {
	*httptest.Server
	target string

	mu        sync.Mutex
	certGets  int
	exchanges [][2][]byte // request, response bodies of POSTs
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	rec := &recorder{target: target}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		rec.mu.Lock()
		if r.Method == http.MethodPost {
			rec.exchanges = append(rec.exchanges, [2][]byte{body, out})
		} else if strings.HasSuffix(r.URL.Path, "/prsim/server-cert") {
			rec.certGets++
		}
		rec.mu.Unlock()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) counts() (certGets, posts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.certGets, len(r.exchanges)
}

// capture sets up a PKI, a server, a soft SL3000 device and cenc content,
// and acquires through a recording proxy.
func capture(t *testing.T) *exchange {
	t.Helper()
	x := &exchange{pki: newPKI(t)}
	x.base = startServer(t, x.pki)
	x.dev = newDevice(t, x.pki, 3000, "soft")
	x.content = genContent(t, "cenc", 4, x.base+"/rightsmanager.asmx")
	x.proxy = newRecorder(t, x.base)
	var acq acquireOut
	okJSON(t, &acq, "license", "acquire", "--dev", x.dev, "--mpd", x.content.MPD, "--url", x.proxy.URL+"/rightsmanager.asmx", "--json")
	requireLicenses(t, acq, []string{x.content.video.String(), x.content.audio.String()}, false, 150)
	x.proxy.mu.Lock()
	defer x.proxy.mu.Unlock()
	// One header per adaptation set: two exchanges; keep the first.
	require.Len(t, x.proxy.exchanges, 2)
	x.challenge, x.response = x.proxy.exchanges[0][0], x.proxy.exchanges[0][1]
	return x
}

var statusCode = regexp.MustCompile(`<StatusCode>(0x8004[0-9a-fA-F]{4})</StatusCode>`)

// postSOAP posts body to the server's license endpoint.
func postSOAP(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", soap.ContentType)
	req.Header.Set("SOAPAction", soap.ActionAcquireLicense)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// TestServerRobustness sends broken requests to "prsim server": each gets a
// SOAP fault with a DRM status code and no Go internals, and the server
// keeps serving.
func TestServerRobustness(t *testing.T) {
	t.Parallel()
	x := capture(t)
	url := x.base + "/rightsmanager.asmx"

	// The captured challenge, replayed as is, is a valid request.
	code, body := postSOAP(t, url, x.challenge)
	require.Equal(t, http.StatusOK, code, "%s", body)
	_, err := soap.ParseResponse(body)
	require.NoError(t, err)

	la := bytes.Index(x.challenge, []byte("<LA "))
	require.Positive(t, la)
	// A byte inside the signed LA element: a nonce character flipped keeps
	// the XML well formed but breaks the LA digest.
	nonce := bytes.Index(x.challenge[la:], []byte("<LicenseNonce>"))
	require.Positive(t, nonce)
	flipped := bytes.Clone(x.challenge)
	i := la + nonce + len("<LicenseNonce>")
	if flipped[i] == 'A' {
		flipped[i] = 'B'
	} else {
		flipped[i] = 'A'
	}
	// A digit of ClientTime changed, likewise signed.
	clientTime := bytes.Clone(x.challenge)
	ct := bytes.Index(clientTime, []byte("<ClientTime>"))
	require.Positive(t, ct)
	ct += len("<ClientTime>") + 2
	clientTime[ct] = '0' + (clientTime[ct]-'0'+1)%10

	// A byte flipped in the middle of the LA element, whatever it is.
	laEnd := bytes.Index(x.challenge, []byte("</LA>"))
	require.Greater(t, laEnd, la)
	midLA := bytes.Clone(x.challenge)
	midLA[(la+laEnd)/2] ^= 0x01

	for _, tc := range []struct {
		name string
		body []byte
		want drm.Code // 0: any DRM code
	}{
		{"empty", nil, 0},
		{"garbage", []byte("\x00\x01garbage\xff not xml at all"), 0},
		{"plain-xml", []byte(`<?xml version="1.0"?><hello/>`), 0},
		{"truncated", x.challenge[:len(x.challenge)/2], 0},
		{"truncated-tail", x.challenge[:len(x.challenge)-10], 0},
		{"flipped-nonce", flipped, drm.ErrXMLSigSHAVerifyFailure},
		{"changed-client-time", clientTime, drm.ErrXMLSigSHAVerifyFailure},
		{"flipped-mid-la", midLA, 0},
		{"response-as-request", x.response, 0},
		{"too-large", bytes.Repeat([]byte("A"), 2<<20), 0},
		{"deep-nesting", []byte(strings.Repeat("<a>", 100000)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postSOAP(t, url, tc.body)
			require.Equal(t, http.StatusInternalServerError, code, "%s", body)
			m := statusCode.FindSubmatch(body)
			require.NotNil(t, m, "no DRM StatusCode in %q", body)
			f, err := soap.ParseFault(body)
			require.NoError(t, err)
			c, ok := drm.CodeOf(f)
			require.True(t, ok)
			if tc.want != 0 {
				require.Equal(t, tc.want, c)
			}
			require.Equal(t, strings.ToLower(string(m[1])), strings.ToLower(c.Hex()))
			for _, leak := range []string{"goroutine", ".go:", "panic", "runtime."} {
				require.NotContains(t, string(body), leak)
			}
		})
	}

	// Still serving: a normal acquisition through the CLI works.
	var acq acquireOut
	okJSON(t, &acq, "license", "acquire", "--dev", x.dev, "--mpd", x.content.MPD, "--json")
	requireLicenses(t, acq, []string{x.content.video.String(), x.content.audio.String()}, false, 150)

	t.Run("server-cert", func(t *testing.T) {
		resp, err := http.Get(x.base + "/prsim/server-cert")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(b, []byte("CHAI")), "not a CHAI blob")
		chain, err := bcert.ParseChain(b)
		require.NoError(t, err)
		_, ok := chain.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse)
		require.True(t, ok, "server leaf has a SIGN_RESPONSE key")
		_, ok = chain.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
		require.True(t, ok, "server leaf has an ENCRYPT_KEY key")
	})
	t.Run("not-found", func(t *testing.T) {
		resp, err := http.Get(x.base + "/rightsmanager.asmx")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
}

// TestServerCertCached: the device fetches the server certificate from the
// license URL's host once and keeps it in DEV for later processes.
func TestServerCertCached(t *testing.T) {
	t.Parallel()
	x := capture(t)
	gets, posts := x.proxy.counts()
	require.Equal(t, 1, gets, "first acquisition fetches the certificate")
	require.Equal(t, 2, posts)
	var acq acquireOut
	okJSON(t, &acq, "license", "acquire", "--dev", x.dev, "--mpd", x.content.MPD, "--url", x.proxy.URL+"/rightsmanager.asmx", "--json")
	require.Len(t, acq.Licenses, 2)
	gets, posts = x.proxy.counts()
	require.Equal(t, 1, gets, "a later process uses the cached certificate")
	require.Equal(t, 4, posts)
}
