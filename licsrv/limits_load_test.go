package licsrv_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/soap"
)

// Load test limits: short timeouts and a small cap, so one run shows in a
// few seconds what the defaults do in minutes.
const (
	loadConns         = 32
	loadHeaderTimeout = 300 * time.Millisecond
	loadReadTimeout   = time.Second
	loadIdleTimeout   = time.Second
	// closeSlack is how long past its timeout an attacker may wait for the
	// server to close it before the test calls it held open.
	closeSlack = 2 * time.Second
)

// attackStats collects what attackers saw.
type attackStats struct {
	mu     sync.Mutex
	closed map[string][]time.Duration // by kind: how long until the server closed
	held   map[string]int             // by kind: connections still open after timeout+slack
	faults map[string]int             // amplifier answers, by fault code
	other  []string                   // amplifier answers that were not the limit fault
}

func (s *attackStats) close(kind string, d time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.closed[kind] = append(s.closed[kind], d)
	} else {
		s.held[kind]++
	}
}

// waitClosed reads c until the server closes it, for at most limit.
func waitClosed(c net.Conn, r io.Reader, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return limit, false
	}
	return time.Since(start), true
}

// Valid acquisitions keep their latency while slowloris clients (headers
// or body trickled), idle keep-alive hoarders (more than the cap leaves
// room for) and amplifying clients hit the server; every attacker
// connection is closed by the server within its timeout; every amplifying
// request is refused with the limit fault. Latencies are measured alone and
// under attack in the same run and compared with a generous bound.
func TestLoadValidClientsServedUnderAttack(t *testing.T) {
	nValid, attackFor := 60, 3*time.Second
	if testing.Short() {
		nValid, attackFor = 30, 1500*time.Millisecond
	}
	f := newFixtureCfg(t, 3000, func(c *licsrv.Config) {
		c.Limits = licsrv.Limits{MaxConns: loadConns, ReadHeaderTimeout: loadHeaderTimeout, ReadTimeout: loadReadTimeout,
			WriteTimeout: 5 * time.Second, IdleTimeout: loadIdleTimeout}
	})
	addr := f.serve(t)
	la := "http://" + addr + "/rightsmanager.asmx"
	nonce, err := f.dev.NewNonce()
	require.NoError(t, err)
	valid := f.challenge(t, nonce, f.now, kidA)
	wide := f.challenge(t, nonce, f.now, kids(64)...) // 64 KIDs: at the bound alone
	many := f.challenge(t, nonce, f.now, kids(100)...)

	// Valid clients: one connection per acquisition, as a player starting
	// a session; two at a time.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	acquire := func() (time.Duration, error) {
		start := time.Now()
		resp, err := client.Post(la, soap.ContentType, bytes.NewReader(valid))
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("HTTP %d: %v", resp.StatusCode, err)
		}
		if r, err := soap.ParseResponse(b); err != nil || len(r.Licenses) != 1 {
			return 0, fmt.Errorf("not a one-license response: %v", err)
		}
		return time.Since(start), nil
	}
	measure := func(n int) []time.Duration {
		var mu sync.Mutex
		var out []time.Duration
		var errs []error
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				for range n/2 + w*(n%2) {
					d, err := acquire()
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					} else {
						out = append(out, d)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Empty(t, errs, "every valid acquisition succeeds")
		slices.Sort(out)
		return out
	}
	_ = measure(4) // warm up
	base := measure(nValid)

	attackStart := time.Now()
	st := &attackStats{closed: map[string][]time.Duration{}, held: map[string]int{}, faults: map[string]int{}}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	attack := func(n int, kind string, limit time.Duration, one func() (net.Conn, io.Reader, func(), error)) {
		for range n {
			wg.Go(func() {
				for ctx.Err() == nil {
					c, r, during, err := one()
					if err != nil {
						continue // refused or reset while queued: try again
					}
					done := make(chan struct{})
					if during != nil {
						go func() { defer close(done); during() }()
					} else {
						close(done)
					}
					d, ok := waitClosed(c, r, limit+closeSlack)
					c.Close()
					<-done
					st.close(kind, d, ok)
				}
			})
		}
	}
	dial := func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
	trickle := func(c net.Conn, b byte) func() {
		return func() {
			for ctx.Err() == nil {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	// 8 slowloris clients trickle a header that never ends.
	attack(8, "header-trickle", loadHeaderTimeout, func() (net.Conn, io.Reader, func(), error) {
		c, err := dial()
		if err != nil {
			return nil, nil, nil, err
		}
		_, err = io.WriteString(c, "POST /rightsmanager.asmx HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		return c, c, trickle(c, 'a'), err
	})
	// 8 clients send a whole header and trickle the body.
	attack(8, "body-trickle", loadReadTimeout, func() (net.Conn, io.Reader, func(), error) {
		c, err := dial()
		if err != nil {
			return nil, nil, nil, err
		}
		_, err = io.WriteString(c, "POST /rightsmanager.asmx HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n<")
		return c, c, trickle(c, 'x'), err
	})
	// 40 clients make one request each and keep the connection idle: more
	// than the 16 slots the slow clients leave.
	attack(40, "idle-hoard", loadIdleTimeout, func() (net.Conn, io.Reader, func(), error) {
		c, err := dial()
		if err != nil {
			return nil, nil, nil, err
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET "+licsrv.CertPath+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			c.Close()
			return nil, nil, nil, err
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			c.Close()
			return nil, nil, nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return c, br, nil, nil
	})
	// 2 clients ask for too much, over and over: 100 KIDs; 100 KIDs × 2730
	// groups (the report's 273,000 licenses); 64 KIDs × 64 groups.
	amp := &http.Client{Timeout: 20 * time.Second}
	for range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				body, q := many, ""
				switch i % 3 {
				case 1:
					q = emptyGroups(2730)
				case 2:
					body, q = wide, emptyGroups(64)
				}
				resp, err := amp.Post(la+q, soap.ContentType, bytes.NewReader(body))
				if err != nil {
					continue // an idle keep-alive connection evicted under us
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				flt, err := soap.ParseFault(b)
				st.mu.Lock()
				if err == nil && flt.Code == drm.ErrServerMaximumLicenseIDExceeded {
					st.faults[flt.Code.String()]++
				} else {
					st.other = append(st.other, fmt.Sprintf("HTTP %d %.80s", resp.StatusCode, b))
				}
				st.mu.Unlock()
			}
		})
	}

	time.Sleep(attackFor / 5) // let the attackers take their slots
	under := measure(nValid)
	time.Sleep(time.Until(attackStart.Add(attackFor)))
	stop()
	wg.Wait()

	p := func(ds []time.Duration, q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	t.Logf("valid acquisitions alone:        p50 %v p95 %v (n=%d)", p(base, .5), p(base, .95), len(base))
	t.Logf("valid acquisitions under attack: p50 %v p95 %v (n=%d)", p(under, .5), p(under, .95), len(under))
	for _, kind := range []string{"header-trickle", "body-trickle", "idle-hoard"} {
		ds := slices.Sorted(slices.Values(st.closed[kind]))
		require.NotEmpty(t, ds, kind)
		t.Logf("%-15s %4d connections closed by the server, p50 %v max %v; %d held open", kind, len(ds), p(ds, .5), ds[len(ds)-1], st.held[kind])
	}
	t.Logf("amplifying requests refused: %v", st.faults)

	// Every attacker connection was closed by the server, none held.
	for kind, n := range st.held {
		require.Zero(t, n, "%s connections still open %v after their timeout", kind, closeSlack)
	}
	// Every amplifying request was refused with the limit fault.
	require.Empty(t, st.other)
	require.Positive(t, st.faults[drm.ErrServerMaximumLicenseIDExceeded.String()])
	// Valid clients keep their latency: a generous bound (shared CI cores),
	// far below the idle timeout a capped server without idle eviction
	// would make them wait.
	bound := 10*p(base, .95) + 300*time.Millisecond
	require.LessOrEqual(t, p(under, .95), bound, "p95 under attack %v vs alone %v", p(under, .95), p(base, .95))
}
