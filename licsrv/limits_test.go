package licsrv_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/soap"
)

// kids returns n distinct KIDs.
func kids(n int) []kid.ID {
	out := make([]kid.ID, n)
	for i := range out {
		out[i] = kidA
		out[i][14], out[i][15] = byte(i>>8), byte(i)
	}
	return out
}

// emptyGroups is a cfg of n "()" groups: each asks for a license per
// header KID.
func emptyGroups(n int) string {
	return "?cfg=" + strings.TrimSuffix(strings.Repeat("(),", n), ",")
}

func issuedLines(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "issued.jsonl"))
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return bytes.Count(b, []byte("\n"))
}

func TestLimitFaults(t *testing.T) {
	var dataDir string
	f := newFixtureCfg(t, 3000, func(c *licsrv.Config) { dataDir = c.DataDir })
	nonce, _ := f.dev.NewNonce()
	for _, c := range []struct {
		name  string
		query string
		ids   []kid.ID
		code  drm.Code
		want  string
	}{
		// The attack of the report: 100 KIDs × 2730 groups = 273,000 licenses.
		{"report", emptyGroups(2730), kids(100), drm.ErrServerMaximumLicenseIDExceeded, "cfg has 2730 groups; limit 64 (--max-cfg-groups)"},
		{"groups", emptyGroups(65), kids(1), drm.ErrServerMaximumLicenseIDExceeded, "cfg has 65 groups; limit 64 (--max-cfg-groups)"},
		{"kids", "", kids(100), drm.ErrServerMaximumLicenseIDExceeded, "content header names 100 KIDs; limit 64 (--max-header-kids)"},
		{"product", emptyGroups(9), kids(8), drm.ErrServerMaximumLicenseIDExceeded, "response would hold 72 licenses; limit 64 (--max-licenses)"},
		{"cfg-bytes", "?cfg=(tid:" + strings.Repeat("x", 8200) + ")", kids(1), drm.ErrServerInvalidMessage, "cfg is 8206 bytes; limit 8192 (--max-cfg-bytes)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, body := f.post(t, c.query, f.challenge(t, nonce, f.now, c.ids...))
			requireFault(t, w, body, c.code)
			requireReason(t, body, c.want)
		})
	}
	require.Zero(t, issuedLines(t, dataDir), "a refused request stores nothing")

	// At the bounds: 64 KIDs, or 8 KIDs × 8 groups, are served in full.
	for _, q := range []struct {
		query string
		ids   []kid.ID
	}{{"", kids(64)}, {emptyGroups(8), kids(8)}} {
		w, body := f.post(t, q.query, f.challenge(t, nonce, f.now, q.ids...))
		require.Equal(t, http.StatusOK, w.Code, string(body))
		resp, err := soap.ParseResponse(body)
		require.NoError(t, err)
		require.Len(t, resp.Licenses, 64)
	}
	require.Equal(t, 128, issuedLines(t, dataDir))

	// Groups whose kid the header does not name count for nothing.
	q := "?cfg=" + strings.TrimSuffix(strings.Repeat("(kid:"+kidB.String()+"),", 60), ",") + ",(kid:" + kidA.String() + ")"
	w, body := f.post(t, q, f.challenge(t, nonce, f.now, kidA))
	require.Equal(t, http.StatusOK, w.Code, string(body))
}

// The bounds are checked before the challenge's signature: a forged
// challenge asking for too much costs a parse, and gets the limit fault.
func TestLimitsCheckedBeforeCrypto(t *testing.T) {
	f := newFixture(t, 3000)
	nonce, _ := f.dev.NewNonce()
	ch := f.challenge(t, nonce, f.now, kids(100)...)
	i := bytes.Index(ch, []byte("<SignatureValue>")) + len("<SignatureValue>")
	ch[i+3] = otherB64(ch[i+3]) // breaks the ECDSA signature; base64 stays valid
	w, body := f.post(t, "", ch)
	requireFault(t, w, body, drm.ErrServerMaximumLicenseIDExceeded)

	// The same forgery within the bounds gets the signature fault.
	ch = f.challenge(t, nonce, f.now, kids(2)...)
	i = bytes.Index(ch, []byte("<SignatureValue>")) + len("<SignatureValue>")
	ch[i+3] = otherB64(ch[i+3])
	w, body = f.post(t, "", ch)
	require.Equal(t, http.StatusInternalServerError, w.Code)
	fault, err := soap.ParseFault(body)
	require.NoError(t, err)
	require.NotEqual(t, drm.ErrServerMaximumLicenseIDExceeded, fault.Code)
}

// otherB64 returns a base64 alphabet letter other than c, so a signature
// changed with it still decodes (flipping a bit may leave the alphabet and
// turn the signature fault into a format fault).
func otherB64(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func TestLimitsConfigurable(t *testing.T) {
	f := newFixtureCfg(t, 3000, func(c *licsrv.Config) {
		c.Limits = licsrv.Limits{MaxLicenses: 3, MaxCfgGroups: 2, MaxHeaderKIDs: 2, MaxCfgBytes: 20, MaxBody: 32 << 10}
	})
	nonce, _ := f.dev.NewNonce()
	small := f.challenge(t, nonce, f.now, kids(2)...)
	w, body := f.post(t, emptyGroups(2), small)
	requireReason(t, body, "response would hold 4 licenses; limit 3 (--max-licenses)")
	requireFault(t, w, body, drm.ErrServerMaximumLicenseIDExceeded)
	_, body = f.post(t, emptyGroups(3), small)
	requireReason(t, body, "cfg has 3 groups; limit 2 (--max-cfg-groups)")
	_, body = f.post(t, "", f.challenge(t, nonce, f.now, kids(3)...))
	requireReason(t, body, "content header names 3 KIDs; limit 2 (--max-header-kids)")
	_, body = f.post(t, "?cfg=(persist:false,sl:150)", small)
	requireReason(t, body, "cfg is 22 bytes; limit 20 (--max-cfg-bytes)")
	w, body = f.post(t, "", bytes.Repeat([]byte("x"), 32<<10+1))
	requireFault(t, w, body, drm.ErrServerInvalidMessage)
	requireReason(t, body, "request body is larger than 32768 bytes (--max-body)")

	// The no-limits defect lifts the license, group and KID bounds.
	g := newFixtureCfg(t, 3000, func(c *licsrv.Config) {
		c.Limits = licsrv.Limits{MaxLicenses: 3, MaxCfgGroups: 2, MaxHeaderKIDs: 2}
		c.Defects = []licsrv.Defect{licsrv.DefectNoLimits}
	})
	nonce, _ = g.dev.NewNonce()
	w, body = g.post(t, emptyGroups(4), g.challenge(t, nonce, g.now, kids(3)...))
	require.Equal(t, http.StatusOK, w.Code, string(body))
	resp, err := soap.ParseResponse(body)
	require.NoError(t, err)
	require.Len(t, resp.Licenses, 12)
}

func TestLimitsRefused(t *testing.T) {
	f := newFixture(t, 150)
	for name, l := range map[string]licsrv.Limits{
		"MaxLicenses":  {MaxLicenses: -1},
		"MaxBody":      {MaxBody: -1},
		"IdleTimeout":  {IdleTimeout: -time.Second},
		"MaxCfgBytes":  {MaxCfgBytes: licsrv.DefaultMaxCfgBytes + 1},
		"MaxConns":     {MaxConns: -5},
		"ReadTimeout":  {ReadTimeout: -1},
		"MaxCfgGroups": {MaxCfgGroups: -1},
	} {
		_, err := f.fx.NewServer(licsrv.Config{Limits: l})
		require.ErrorContains(t, err, name)
	}
}

// issued.jsonl is renamed to issued.jsonl.1 once it would pass
// MaxIssuedBytes: the server's disk use stays bounded.
func TestIssuedLogRotates(t *testing.T) {
	var dir string
	f := newFixtureCfg(t, 3000, func(c *licsrv.Config) {
		dir = c.DataDir
		c.Limits.MaxIssuedBytes = 1000
	})
	for range 6 {
		f.acquireOK(t, emptyGroups(2)) // two records, about 400 bytes
	}
	cur, err := os.Stat(filepath.Join(dir, "issued.jsonl"))
	require.NoError(t, err)
	old, err := os.Stat(filepath.Join(dir, "issued.jsonl.1"))
	require.NoError(t, err)
	require.LessOrEqual(t, cur.Size(), int64(1000))
	require.LessOrEqual(t, old.Size(), int64(1000))
	require.Positive(t, issuedLines(t, dir))
	matches, _ := filepath.Glob(filepath.Join(dir, "issued.jsonl*"))
	require.Len(t, matches, 2, "one old generation is kept")
}

// serve runs f's server on loopback through Serve and returns its address.
func (f *fixture) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, f.srv.Close())
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return ln.Addr().String()
}

// idleConn makes one keep-alive request on a fresh connection and leaves
// the connection idle; the returned reader sees EOF once the server closes.
func idleConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = io.WriteString(c, "GET "+licsrv.CertPath+" HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, resp.Close)
	return c, br
}

// At the connection cap the longest-idle keep-alive connection is closed to
// admit a new client; the idle timeout is far away, so only the cap can
// have closed it.
func TestConnCapEvictsIdle(t *testing.T) {
	f := newFixtureCfg(t, 3000, func(c *licsrv.Config) {
		c.Limits = licsrv.Limits{MaxConns: 2, IdleTimeout: time.Hour, ReadHeaderTimeout: time.Hour}
	})
	addr := f.serve(t)
	first, firstR := idleConn(t, addr)
	second, secondR := idleConn(t, addr)
	_, _ = idleConn(t, addr) // admitted by closing first or second
	// "Longest idle" follows the server's idle-state hooks, which may run
	// in either order for two connections idle at nearly the same time.
	closed := make(chan error, 2)
	for _, c := range []struct {
		c net.Conn
		r *bufio.Reader
	}{{first, firstR}, {second, secondR}} {
		_ = c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		go func() {
			_, err := c.r.ReadByte()
			closed <- err
		}()
	}
	require.ErrorIs(t, <-closed, io.EOF, "an idle connection was closed")
	first.Close()
	second.Close()
	<-closed

	// A client that never sends anything holds its slot only until the
	// header timeout; with an hour there, the cap makes the next wait.
	g := newFixtureCfg(t, 3000, func(c *licsrv.Config) {
		c.Limits = licsrv.Limits{MaxConns: 1, ReadHeaderTimeout: 300 * time.Millisecond}
	})
	addr = g.serve(t)
	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer silent.Close()
	_, _ = idleConn(t, addr) // served once the silent one is cut
	_ = silent.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = silent.Read(make([]byte, 1))
	require.Error(t, err)
}

// The no-timeouts defect leaves a silent connection open; the reference
// cuts it at ReadHeaderTimeout.
func TestDefectNoTimeouts(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := newFixtureCfg(t, 3000, func(c *licsrv.Config) {
			c.Limits = licsrv.Limits{ReadHeaderTimeout: 100 * time.Millisecond}
			if bad {
				c.Defects = []licsrv.Defect{licsrv.DefectNoTimeouts}
			}
		})
		c, err := net.Dial("tcp", f.serve(t))
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, err = c.Read(make([]byte, 1))
		var ne net.Error
		require.Equal(t, bad, err != nil && errors.As(err, &ne) && ne.Timeout(), "bad=%v err=%v", bad, err)
		c.Close()
	}
}
