package main

// Secure stop under crashes (issue 9's kill -9 harness) and the securestop
// conformance family through the binary.

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/kid"
)

// Crash harness bounds: trials wanted, the time budget that may cut them
// short (unless PRSIM_REQUIRE_TOOLS is set), and the -short count.
const (
	crashTrials      = 200
	crashShortTrials = 20
	crashBudget      = 150 * time.Second
)

// TestSecureStopCrashHarness kills "prsim play" with SIGKILL at random
// points of its run (acquiring, opening the session, decrypting, stopping,
// sending), then runs "securestop list" and "securestop send" as a user
// restarting would. Every trial: both commands exit 0 (the device's store
// and sealed state open cleanly) and nothing stays pending. Over all
// trials: every session ever seen (listed after a kill, or named by a play
// that finished) is reported by the server, and every report names its
// session once (no loss, no double count). A session can also be reported
// unseen: a play killed after its TEE accepted the acknowledgement, before
// it printed; the log counts those.
func TestSecureStopCrashHarness(t *testing.T) {
	t.Parallel()
	trials := crashTrials
	if testing.Short() {
		trials = crashShortTrials
	}
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"
	dev := filepath.Join(t.TempDir(), "dev")
	ok(t, "device", "new", "--pki", pkiDir, "--dir", dev, "--sl", "3000", "--version", "4.5", "--tpm", "soft")
	mpd := oneKeyContent(t, kid.MustParse("5c000000-5c00-4c00-8c00-0000000000c1"), laURL, "(securestop:true)", 2)
	outDir := t.TempDir()
	seen := map[string]bool{} // every session started that the harness saw
	plays := 0
	playArgs := func() []string {
		plays++
		return []string{"play", "--dev", dev, "--mpd", mpd, "--out", filepath.Join(outDir, strconv.Itoa(plays)), "--json"}
	}

	// The typical play time bounds the kill delays: three whole plays.
	var typical time.Duration
	for range 3 {
		start := time.Now()
		var play ssPlayOut
		okJSON(t, &play, playArgs()...)
		typical += time.Since(start)
		require.NotNil(t, play.SecureStopSession)
		require.Equal(t, ssSendOut{Sent: 1, Acknowledged: 1, Pending: 0}, *play.SecureStop)
		seen[*play.SecureStopSession] = true
	}
	typical /= 3

	seed := uint64(time.Now().UnixNano())
	t.Logf("crash harness: seed %d, typical play %v", seed, typical)
	rng := rand.New(rand.NewPCG(seed, 0x5ec0de))
	var killed, finished, listedPending, resent int
	start := time.Now()
	n := 0
	for ; n < trials; n++ {
		if time.Since(start) > crashBudget && !requireTools() {
			break
		}
		delay := time.Duration(rng.Int64N(int64(typical) + 1))
		cmd := exec.Command(prsimBin, playArgs()...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(delay):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			err = <-done
		}
		var ee *exec.ExitError
		switch {
		case err == nil:
			finished++
			var play ssPlayOut
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &play), "trial %d: %s", n, stdout.String())
			require.NotNil(t, play.SecureStopSession, "trial %d", n)
			seen[*play.SecureStopSession] = true
		case errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
			killed++
		default:
			t.Fatalf("trial %d: play failed on its own (%v):\nstdout:\n%s\nstderr:\n%s", n, err, stdout.String(), stderr.String())
		}

		var list ssListOut
		okJSON(t, &list, "securestop", "list", "--dev", dev, "--json")
		for _, s := range list.Sessions {
			require.Equal(t, "stopped", s.State, "trial %d: the next start reports a crashed session stopped", n)
			require.LessOrEqual(t, s.Start, s.Update, "trial %d", n)
			seen[s.ID] = true
		}
		listedPending += len(list.Sessions)
		var sent ssSendOut
		okJSON(t, &sent, "securestop", "send", "--dev", dev, "--url", laURL, "--json")
		require.Equal(t, len(list.Sessions), sent.Sent, "trial %d", n)
		require.Equal(t, 0, sent.Pending, "trial %d: nothing pending after send", n)
		require.Equal(t, sent.Sent, sent.Acknowledged, "trial %d", n)
		if sent.Sent > 0 {
			resent++
		}
	}
	elapsed := time.Since(start)

	counts := map[string]int{}
	for _, r := range ssReports(t, base) {
		counts[r.Session]++
		require.Equal(t, r.Session, r.VerifiedSS2, "a 4.5 SL3000 device's sessions verify (SecureStop2)")
	}
	// A report the harness never saw is a play killed after its TEE
	// accepted the acknowledgement and before it printed: reported once,
	// as it must be; counted, not an error.
	var lost, doubled []string
	unseen := 0
	for s := range seen {
		if counts[s] == 0 {
			lost = append(lost, s)
		}
	}
	for s, c := range counts {
		if c != 1 {
			doubled = append(doubled, s)
		}
		if !seen[s] {
			unseen++
		}
	}
	sort.Strings(lost)
	sort.Strings(doubled)
	t.Logf("crash harness: %d trials in %v (%d killed, %d finished on their own); %d sessions started and seen by the harness "+
		"(3 warm-up plays included) + %d reported that a kill hid from it; %d sessions reported by the server, each once: %v; "+
		"%d left pending by a kill and sent afterwards, in %d trials",
		n, elapsed.Round(time.Millisecond), killed, finished, len(seen), unseen, len(counts), len(doubled) == 0, listedPending, resent)
	require.Empty(t, lost, "sessions started but never reported")
	require.Empty(t, doubled, "sessions reported more than once")
	if requireTools() {
		require.GreaterOrEqual(t, n, trials)
	}
	require.GreaterOrEqual(t, n, crashShortTrials, "the budget allowed too few trials")
	require.Positive(t, killed, "no trial was killed")
	require.Positive(t, listedPending, "no kill left a session pending: the delays miss the play")
}

// The securestop family through the binary: it passes against "prsim
// server" with a stream limit, and each secure-stop defect fails exactly
// its scenarios (conformance/conformance_test.go holds the same table).
func TestConformanceSecureStopFamily(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	for _, tc := range []struct {
		defect string
		fails  []string
		code   int
	}{
		{"", nil, 0},
		{"drop-ack", []string{"SS1", "SS2", "SS3", "SS4"}, 3},
		{"accept-tampered-ss2", []string{"SS3"}, 3},
		{"double-count-resend", []string{"SS4"}, 3},
		{"bad-response-signature", []string{"SS1", "SS2", "SS3", "SS4"}, 3},
		{"accept-bad-signature", []string{"SS5"}, 3},
		{"ignore-stream-stops", []string{"SS6"}, 0}, // a should scenario
	} {
		name := tc.defect
		if name == "" {
			name = "clean"
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"--max-streams-per-account", "2"}
			if tc.defect != "" {
				args = append(args, "--defect", tc.defect)
			}
			la := startServerArgs(t, pkiDir, args...) + "/rightsmanager.asmx"
			r := run(t, "conformance", "run", "--url", la, "--pki", pkiDir, "--only", "securestop", "--json")
			require.Equal(t, tc.code, r.code, "%s", r)
			var out conformanceOut
			decode(t, r, &out)
			require.Len(t, out.Results, 6)
			var fails []string
			for _, res := range out.Results {
				require.Equal(t, "securestop", res.Family)
				if res.Status == "fail" {
					fails = append(fails, res.ID)
					require.True(t, strings.HasPrefix(res.Detail, "expected "), res.Detail)
					continue
				}
				require.Equal(t, "pass", res.Status, "%s: %s", res.ID, res.Detail)
			}
			require.Equal(t, tc.fails, fails, "%s", r.stdout)
		})
	}
}
