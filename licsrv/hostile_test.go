package licsrv_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/soap"
)

// The hostile-input suite for the license server: mutated valid challenges
// and mutated cfg strings. Every request gets either a license or a SOAP
// fault with a DRM_E_* code; never a panic (the handler recovers one as
// DRM_E_SERVER_INTERNAL_ERROR "internal server error", which therefore fails
// the test), a stack or
// source location in the body. The run is bounded by the number of variants:
// a few hundred here, many more under PRSIM_SOAK (make soak).

// soak reports the long mode of the hostile-input suite.
func soak() bool { return os.Getenv("PRSIM_SOAK") != "" } //nolint:forbidigo // test-only switch

// hostileSeed is fixed in the short mode, so that a failure reproduces, and
// fresh in the soak.
func hostileSeed(t *testing.T) uint64 {
	if !soak() {
		return 1
	}
	s := uint64(time.Now().UnixNano())
	t.Logf("seed %d", s)
	return s
}

// requireLicenseOrFault checks one response of the hostile suite; anyCode
// allows a fault code outside DRM_E_* (a cfg errorcode asks for one).
func requireLicenseOrFault(t *testing.T, name string, code int, body []byte, anyCode bool) (drm.Code, bool) {
	t.Helper()
	require.NotContains(t, string(body), "goroutine", name)
	require.NotContains(t, string(body), ".go:", name)
	if code == http.StatusOK {
		_, err := soap.ParseResponse(body)
		require.NoError(t, err, name)
		return 0, true
	}
	require.Equal(t, http.StatusInternalServerError, code, name)
	f, err := soap.ParseFault(body)
	require.NoError(t, err, name)
	require.True(t, anyCode || strings.HasPrefix(f.Code.Hex(), "0x8004"), "%s: %v", name, f.Code)
	// A cfg errorcode may ask for any code, so a recovered panic is told
	// by its reason.
	require.False(t, f.Code == drm.ErrServerInternalError && f.Message == "internal server error",
		"%s: the handler recovered a panic", name)
	require.NotEmpty(t, f.Message, name)
	return f.Code, false
}

// mutate returns a damaged copy of b: byte flips, a cut, a deleted or
// duplicated range, inserted markup or a truncation.
func mutate(r *rand.Rand, b []byte) []byte {
	out := bytes.Clone(b)
	ops := 1
	if r.IntN(3) == 0 {
		ops += r.IntN(3)
	}
	for range ops {
		if len(out) == 0 {
			out = append(out, '<')
		}
		i := r.IntN(len(out))
		j := i + r.IntN(min(64, len(out)-i)+1)
		switch r.IntN(8) {
		case 0: // flip a bit
			out[i] ^= 1 << r.IntN(8)
		case 7: // flip bytes
			for k := i; k < j && k < i+4; k++ {
				out[k] ^= byte(1 + r.IntN(255))
			}
		case 1: // truncate
			out = out[:i]
		case 2: // delete a range
			out = append(out[:i:i], out[j:]...)
		case 3: // duplicate a range
			out = append(out[:j:j], append(bytes.Clone(out[i:j]), out[j:]...)...)
		case 4: // insert markup
			frags := []string{"<", ">", "</x>", "<x>", "&amp;", "&#0;", "\x00", "]]>", "<![CDATA[", "\"", "'", " a=\"b\"",
				"<Signature/>", "<LA>", "<Data>", "=", "\xff\xfe", strings.Repeat("A", 300)}
			f := frags[r.IntN(len(frags))]
			out = append(out[:i:i], append([]byte(f), out[i:]...)...)
		case 5: // swap a digit or base64 character
			const alphabet = "0123456789ABCDEFabcdef+/="
			out[i] = alphabet[r.IntN(len(alphabet))]
		case 6: // move a range to elsewhere
			piece := bytes.Clone(out[i:j])
			rest := append(out[:i:i], out[j:]...)
			k := r.IntN(len(rest) + 1)
			out = append(rest[:k:k], append(piece, rest[k:]...)...)
		}
	}
	return out
}

func TestHostileChallenges(t *testing.T) {
	f := newFixture(t, 2000)
	nonce, _ := f.dev.NewNonce()
	good := f.challenge(t, nonce, f.now, kidA)
	n := 300
	if soak() {
		n = 5000
	}
	r := rand.New(rand.NewPCG(hostileSeed(t), 2))
	codes := map[string]int{}
	for i := range n {
		body := mutate(r, good)
		w, resp := f.post(t, "", body)
		code, ok := requireLicenseOrFault(t, fmt.Sprintf("challenge variant %d", i), w.Code, resp, false)
		if ok {
			codes["license"]++
		} else {
			codes[code.Hex()]++
		}
	}
	t.Logf("%d mutated challenges: %v", n, codes)
	require.Greater(t, len(codes), 3, "the mutations reach several checks")
	// The server still serves the unmutated challenge.
	w, resp := f.post(t, "", good)
	require.Equal(t, http.StatusOK, w.Code, string(resp))
}

func TestHostileCfg(t *testing.T) {
	f := newFixture(t, 3000)
	nonce, _ := f.dev.NewNonce()
	good := f.challenge(t, nonce, f.now, kidA)
	seeds := []string{
		"(persist:true,begindate:20170101,expiration:20170201,firstexp:60)",
		"(kid:40000000-4000-4000-4000-400000000001,sl:2000),(kid:7C9484BA-C238-467A-869C-CDD8C7167712,sl:150)",
		"(dvop:(guid:ABB2C6F1-E663-4625-A945-972D17B231E7,data:AAAAAQ==),playenablers:(786627D8-C2A6-44BE-8F88-08AE255B01A7))",
		"(ucvopl:300,cvopl:100,ckt:AES128BitCBC,realtime:true)",
		"(errorcode:0x8004C009)",
	}
	n := 200
	if soak() {
		n = 5000
	}
	r := rand.New(rand.NewPCG(hostileSeed(t), 3))
	results := map[string]int{}
	for i := range n {
		var cfg []byte
		switch {
		case i < len(seeds): // the seeds themselves are valid
			cfg = []byte(seeds[i])
		case i%5 == 0: // random bytes from the cfg alphabet
			const alphabet = "(),:=-+/ 0123456789ABCDEFabcdefklmnoprstuvwxyz\x00\xff"
			cfg = make([]byte, r.IntN(120))
			for k := range cfg {
				cfg[k] = alphabet[r.IntN(len(alphabet))]
			}
		default:
			cfg = mutate(r, []byte(seeds[r.IntN(len(seeds))]))
		}
		w, resp := f.post(t, "?cfg="+url.QueryEscape(string(cfg)), good)
		code, ok := requireLicenseOrFault(t, fmt.Sprintf("cfg variant %d", i), w.Code, resp,
			bytes.Contains(bytes.ToLower(cfg), []byte("errorcode")))
		if ok {
			results["license"]++
		} else {
			results[code.Hex()]++
		}
	}
	t.Logf("%d mutated cfg strings: %v", n, results)
	require.GreaterOrEqual(t, results["license"], len(seeds)-1, "the valid seeds but errorcode get licenses")
	require.Positive(t, results[drm.ErrServerInvalidMessage.Hex()], "malformed cfg strings are refused")
}
