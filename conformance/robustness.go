package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
)

// The robustness family: a hostile or careless client must not make the
// server do unbounded work or hold its connections forever.
const (
	// maxTolerated is the most licenses R2 accepts in answer to a request
	// asking for amplifyLicenses: real content has a handful of keys per
	// header, so a server may bound far lower (the reference server: 64).
	maxTolerated = 1000
	// amplifyKIDs is the KID count of R2's header-only request (a
	// WRMHEADER 4.3 without ALGID keeps it under pro.MaxHeaderSize).
	amplifyKIDs = 1024
	// R2's cfg request: amplifyGroups groups × amplifyGroupKIDs KIDs, each
	// count small on its own, their product over maxTolerated.
	amplifyGroups    = 30
	amplifyGroupKIDs = 40
	// defaultConnWait is how long R3 and R4 wait for the server to close.
	defaultConnWait = 20 * time.Second
	// trickleEvery is R3's pace: one header byte per tick.
	trickleEvery = 250 * time.Millisecond
)

func robustnessScenarios() []Scenario {
	out := robustnessSLScenarios() // R1 (conformance/robustness_sl.go)
	return append(out, family(FamilyRobustness, []row{
		{"R2", Must, PersonaSL3000,
			"docs/formats/soap.md §1 (bounded messages); docs/formats/policies-and-outputs.md §6 (one license per group and KID); docs/formats/errors.md §6 (DRM_E_SERVER_MAXIMUM_LICENSEID_EXCEEDED)",
			fmt.Sprintf("A request asking for over %d licenses (a %d-KID header, or %d cfg groups × %d KIDs) gets a fault or at most %d licenses.",
				maxTolerated, amplifyKIDs, amplifyGroups, amplifyGroupKIDs, maxTolerated),
			runR2},
		{"R3", Should, PersonaSL3000,
			"RFC 9112 §9.5 (servers time out connections; a slow request ties up a connection); docs/protocol.md §4 (Limits)",
			fmt.Sprintf("A connection that trickles its request header one byte every %s is closed by the server within %s.", trickleEvery, defaultConnWait),
			runR3},
		{"R4", Should, PersonaSL3000,
			"RFC 9112 §9.5 (servers time out inactive connections); docs/protocol.md §4 (Limits)",
			fmt.Sprintf("A keep-alive connection left idle after a license response is closed by the server within %s.", defaultConnWait),
			runR4},
	})...)
}

// runR2 asks for too many licenses twice: many KIDs in one header, then
// (cfg profile) a moderate header times many cfg groups.
func runR2(ctx context.Context, e *env) outcome {
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	want := fmt.Sprintf("a fault or at most %d licenses", maxTolerated)
	judge := func(what string, x *exchange) (string, bool) {
		switch {
		case x.fault != nil:
			return what + ": " + x.describe(), true
		case x.resp != nil && len(x.resp.Licenses) <= maxTolerated:
			return what + ": " + x.describe(), true
		}
		return what + ": " + x.describe(), false
	}
	ids, err := e.newKIDs(amplifyKIDs)
	if err != nil {
		return errored("%v", err)
	}
	x, err := e.acquire(ctx, d, e.header(pro.Version43, "", ids...), e.o.URL, nil, nil)
	if err != nil {
		return failedOrErrored(want, err)
	}
	seenA, ok := judge(fmt.Sprintf("%d-KID header", amplifyKIDs), x)
	if !ok {
		return failed(want, seenA)
	}
	cfg := strings.TrimSuffix(strings.Repeat("(persist:false),", amplifyGroups), ",")
	u, ok := e.laURL(cfg, true)
	if !ok {
		return passed(seenA + "; the cfg-group request needs profile cfg")
	}
	ids, err = e.newKIDs(amplifyGroupKIDs)
	if err != nil {
		return errored("%v", err)
	}
	x, err = e.acquire(ctx, d, e.header(pro.Version43, "", ids...), u, nil, nil)
	if err != nil {
		return failedOrErrored(want, err)
	}
	seenB, ok := judge(fmt.Sprintf("%d groups × %d KIDs", amplifyGroups, amplifyGroupKIDs), x)
	if !ok {
		return failed(want, seenB)
	}
	return passed(seenA + "; " + seenB)
}

// dial opens a raw connection to the server under test (TLS for https,
// with the configuration of Options.HTTP's transport when it has one).
func (e *env) dial(ctx context.Context) (net.Conn, *url.URL, error) {
	u, err := url.Parse(e.o.URL)
	if err != nil {
		return nil, nil, err
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if u.Scheme != "https" {
		c, err := nd.DialContext(ctx, "tcp", host)
		return c, u, err
	}
	tc := &tls.Config{}
	if t, ok := e.o.HTTP.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		tc = t.TLSClientConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	tc.NextProtos = []string{"http/1.1"}
	c, err := (&tls.Dialer{NetDialer: nd, Config: tc}).DialContext(ctx, "tcp", host)
	return c, u, err
}

// closedBy waits until the server closes c (a read sees EOF or an error),
// for at most wait; r reads c (buffered data first). It returns how long
// it took and whether the server closed.
func closedBy(ctx context.Context, c net.Conn, r io.Reader, wait time.Duration, tick func() error) (time.Duration, bool, error) {
	start := time.Now()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, r) // returns on EOF, reset or our Close
		close(done)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var ticks <-chan time.Time
	if tick != nil {
		t := time.NewTicker(trickleEvery)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-done:
			return time.Since(start), true, nil
		case <-timer.C:
			_ = c.Close()
			<-done
			return wait, false, nil
		case <-ctx.Done():
			_ = c.Close()
			<-done
			return time.Since(start), false, ctx.Err()
		case <-ticks:
			if err := tick(); err != nil {
				// A write the server no longer reads: it closed.
				_ = c.Close()
				<-done
				return time.Since(start), true, nil
			}
		}
	}
}

func runR3(ctx context.Context, e *env) outcome {
	want := fmt.Sprintf("the server to close the connection within %s", e.o.ConnWait)
	c, u, err := e.dial(ctx)
	if err != nil {
		return errored("cannot connect: %s", sanitize(err.Error(), 200))
	}
	defer c.Close()
	// A request line and Host, then one header line that never ends.
	head := "POST " + u.EscapedPath() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nX-Slow-Client: "
	e.record("request", []byte(head))
	if _, err := io.WriteString(c, head); err != nil {
		return errored("cannot write the request line: %s", sanitize(err.Error(), 200))
	}
	sent := 0
	took, closed, err := closedBy(ctx, c, c, e.o.ConnWait, func() error {
		_, err := c.Write([]byte{'a'})
		sent++
		return err
	})
	if err != nil {
		return errored("%v", err)
	}
	if !closed {
		return failed(want, fmt.Sprintf("still open after %s (%d header bytes trickled)", e.o.ConnWait, sent))
	}
	return passed(fmt.Sprintf("closed by the server after %s (%d header bytes trickled)", took.Round(100*time.Millisecond), sent))
}

func runR4(ctx context.Context, e *env) outcome {
	want := fmt.Sprintf("the server to close the idle connection within %s", e.o.ConnWait)
	body, err := e.plainChallenge(ctx, PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	c, _, err := e.dial(ctx)
	if err != nil {
		return errored("cannot connect: %s", sanitize(err.Error(), 200))
	}
	defer c.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.o.URL, bytes.NewReader(body))
	if err != nil {
		return errored("%v", err)
	}
	req.Header.Set("Content-Type", soap.ContentType)
	req.Header.Set("SOAPAction", soap.ActionAcquireLicense)
	e.record("challenge", body)
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if err := req.Write(c); err != nil {
		return failed("a license response", "no HTTP answer: "+sanitize(err.Error(), 200))
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return failed("a license response", "no HTTP answer: "+sanitize(err.Error(), 200))
	}
	b, tooLarge, err := readAnswer(resp.Body)
	resp.Body.Close()
	if err != nil || tooLarge {
		return failed("a license response", fmt.Sprintf("HTTP %d answer unreadable or over 4 MiB", resp.StatusCode))
	}
	e.record("response", b)
	if resp.Close {
		return passed(fmt.Sprintf("HTTP %d answer with Connection: close (no keep-alive)", resp.StatusCode))
	}
	_ = c.SetDeadline(time.Time{})
	took, closed, err := closedBy(ctx, c, br, e.o.ConnWait, nil)
	if err != nil {
		return errored("%v", err)
	}
	if !closed {
		return failed(want, fmt.Sprintf("still open after %s idle (after HTTP %d)", e.o.ConnWait, resp.StatusCode))
	}
	return passed(fmt.Sprintf("closed by the server after %s idle (after HTTP %d)", took.Round(100*time.Millisecond), resp.StatusCode))
}
