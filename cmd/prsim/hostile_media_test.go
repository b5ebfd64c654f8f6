package main

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mediaAttack is one hostile input to "prsim play" or "prsim license
// acquire": apply rewrites the content in dir (manifest.mpd, video_init.mp4,
// video_1.m4s, video_2.m4s, …) and returns the command line; the command must
// exit with code, quickly, naming the problem in each of want (on stderr).
type mediaAttack struct {
	name  string
	apply func(t *testing.T, dir string) []string
	code  int
	want  []string
}

// mediaAttacks are the attacks of the hostile-input issue as the CLI sees
// them; ree/hostile_test.go has the library-level table with more cases.
func mediaAttacks(dev string) []mediaAttack {
	play := func(dir string) []string {
		return []string{"play", "--dev", dev, "--mpd", filepath.Join(dir, "manifest.mpd"), "--out", filepath.Join(dir, "out")}
	}
	mpd := func(f func(string) string) func(*testing.T, string) []string {
		return func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "manifest.mpd")
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, []byte(f(string(b))), 0o644))
			return play(dir)
		}
	}
	segment := func(f func(t *testing.T, p string)) func(*testing.T, string) []string {
		return func(t *testing.T, dir string) []string {
			f(t, filepath.Join(dir, "video_2.m4s"))
			return play(dir)
		}
	}
	return []mediaAttack{
		{name: "mpd-one-byte", code: 1, want: []string{"MPD is not well-formed XML"},
			apply: mpd(func(string) string { return ">" })},
		{name: "timeline-r-1e8", code: 1, want: []string{"more than the limit of 100000"},
			apply: mpd(func(s string) string { return strings.Replace(s, `d="90000" r="1"`, `d="90000" r="100000000"`, 1) })},
		{name: "template-width-0999999", code: 1, want: []string{"bad segment template"},
			apply: mpd(func(s string) string {
				return strings.Replace(s, "video_$Number$.m4s", "video_$Number%0999999d$.m4s", 1)
			})},
		{name: "segment-symlink-dev-zero", code: 1, want: []string{"video_2.m4s", "not a regular file"},
			apply: segment(func(t *testing.T, p string) {
				require.NoError(t, os.Remove(p))
				require.NoError(t, os.Symlink("/dev/zero", p))
			})},
		{name: "segment-fifo", code: 1, want: []string{"video_2.m4s", "not a regular file"},
			apply: segment(func(t *testing.T, p string) {
				require.NoError(t, os.Remove(p))
				require.NoError(t, syscall.Mkfifo(p, 0o600))
			})},
		{name: "segment-empty", code: 1, want: []string{"video_2.m4s", "empty"},
			apply: segment(func(t *testing.T, p string) { require.NoError(t, os.Truncate(p, 0)) })},
		{name: "segment-missing", code: 1, want: []string{"video_2.m4s", "no such file"},
			apply: segment(func(t *testing.T, p string) { require.NoError(t, os.Remove(p)) })},
		{name: "trun-huge-sample-size", code: 1, want: []string{"video_2.m4s", "exceed the mdat"},
			apply: segment(func(t *testing.T, p string) {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				i := bytes.Index(b, []byte("trun")) - 4
				require.Positive(t, i)
				flags := binary.BigEndian.Uint32(b[i+8:])
				off := i + 16
				for _, f := range []uint32{0x1, 0x4, 0x100} { // data offset, first flags, durations
					if flags&f != 0 {
						off += 4
					}
				}
				require.NotZero(t, flags&0x200, "trun has no sample sizes")
				binary.BigEndian.PutUint32(b[off:], 0xFFFFFFF0)
				require.NoError(t, os.WriteFile(p, b, 0o644))
			})},
		{name: "nested-moov-3M", code: 1, want: []string{"video_2.m4s", "nest deeper than 16"},
			apply: segment(func(t *testing.T, p string) { writeNestedMoov(t, p, 3_000_000) })},
		{name: "acquire-header-dev-zero", code: 1, want: []string{"/dev/zero", "not a regular file"},
			apply: func(*testing.T, string) []string {
				return []string{"license", "acquire", "--dev", dev, "--header", "/dev/zero"}
			}},
		{name: "acquire-header-fifo", code: 1, want: []string{"not a regular file"},
			apply: func(t *testing.T, dir string) []string {
				p := filepath.Join(dir, "header.fifo")
				require.NoError(t, syscall.Mkfifo(p, 0o600))
				return []string{"license", "acquire", "--dev", dev, "--header", p}
			}},
		{name: "acquire-mpd-one-byte", code: 1, want: []string{"MPD is not well-formed XML"},
			apply: func(t *testing.T, dir string) []string {
				p := filepath.Join(dir, "manifest.mpd")
				require.NoError(t, os.WriteFile(p, []byte(">"), 0o644))
				return []string{"license", "acquire", "--dev", dev, "--mpd", p}
			}},
	}
}

// mediaSoakAttacks are bigger variants, run with PRSIM_SOAK=1 (make soak).
func mediaSoakAttacks(dev string) []mediaAttack {
	play := func(dir string) []string {
		return []string{"play", "--dev", dev, "--mpd", filepath.Join(dir, "manifest.mpd"), "--out", filepath.Join(dir, "out")}
	}
	return []mediaAttack{
		{name: "soak-nested-moov-8M", code: 1, want: []string{"video_2.m4s", "nest deeper than 16"},
			apply: func(t *testing.T, dir string) []string {
				writeNestedMoov(t, filepath.Join(dir, "video_2.m4s"), 64<<20/8) // a whole 64 MiB segment
				return play(dir)
			}},
		{name: "soak-timeline-r-maxint", code: 1, want: []string{"more than the limit of 100000"},
			apply: func(t *testing.T, dir string) []string {
				p := filepath.Join(dir, "manifest.mpd")
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				s := strings.Replace(string(b), `d="90000" r="1"`, `d="90000" r="9223372036854775807"`, 1)
				require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
				return play(dir)
			}},
	}
}

// writeNestedMoov writes n moov boxes, each the only child of the one
// before: 8n bytes of headers in one allocation.
func writeNestedMoov(t *testing.T, p string, n int) {
	t.Helper()
	b := make([]byte, 8*n)
	for i := range n {
		binary.BigEndian.PutUint32(b[8*i:], uint32(8*(n-i)))
		copy(b[8*i+4:], "moov")
	}
	require.NoError(t, os.WriteFile(p, b, 0o644))
}

// TestHostileMedia: every attack ends in a clear error and exit 1, where
// before it hung (the 1-byte MPD, a FIFO), crashed (trun, nested moov),
// exhausted memory (r=100000000, %0999999d, /dev/zero) or exited 0 with
// samples missing (an empty segment). run's 60 s guard catches a hang.
func TestHostileMedia(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	laURL := startServer(t, pkiDir) + "/rightsmanager.asmx"
	dev := newDevice(t, pkiDir, 2000, "soft")
	attacks := mediaAttacks(dev)
	if os.Getenv("PRSIM_SOAK") != "" { //nolint:forbidigo // test-only switch
		attacks = append(attacks, mediaSoakAttacks(dev)...)
	}
	for i, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			c := genContent(t, "cenc", 40+i, laURL)
			dir := filepath.Dir(c.MPD)
			args := a.apply(t, dir)
			r := run(t, args...)
			require.Equal(t, a.code, r.code, "%s", r)
			for _, w := range a.want {
				require.Contains(t, r.stderr, w, "%s", r)
			}
			require.NoFileExists(t, filepath.Join(dir, "out", "video.mp4"), "no partial output")
		})
	}
}

// TestSignalStopsPlay: SIGTERM stops "prsim play" while it waits on a
// license server that never answers; the process exits, and the device
// store it held opens for the next command.
func TestSignalStopsPlay(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	dev := newDevice(t, pkiDir, 2000, "soft")

	arrived := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		select { // hold the request until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); stall.Close() })

	c := genContent(t, "cenc", 60, stall.URL+"/rightsmanager.asmx")
	cmd := exec.Command(prsimBin, "play", "--dev", dev, "--mpd", c.MPD, "--out", t.TempDir(), "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	select {
	case <-arrived:
	case err := <-exited:
		t.Fatalf("prsim play exited before reaching the server (%v): %s %s", err, stdout.String(), stderr.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("prsim play never reached the license server")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "stdout: %s stderr: %s", stdout.String(), stderr.String())
		require.Equal(t, 1, ee.ExitCode(), "stderr: %s", stderr.String())
		require.Contains(t, stderr.String(), "terminated signal received")
		require.Contains(t, stdout.String(), `"error"`, "the JSON report is still written")
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatal("prsim play did not stop on SIGTERM")
	}
	// The store lock is free: the next command opens the device.
	var list storedOut
	okJSON(t, &list, "license", "list", "--dev", dev, "--json")
}

// TestSignalStopsLongPlay: SIGTERM stops "prsim play" in the middle of a
// long decryption (an MPD listing the same segment 99,999 times), removes the
// partial output and frees the store.
func TestSignalStopsLongPlay(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	laURL := startServer(t, pkiDir) + "/rightsmanager.asmx"
	dev := newDevice(t, pkiDir, 2000, "soft")
	c := genContent(t, "cenc", 61, laURL)
	b, err := os.ReadFile(c.MPD)
	require.NoError(t, err)
	s := strings.Replace(string(b), `media="video_$Number$.m4s"`, `media="video_1.m4s"`, 1)
	s = strings.Replace(s, `d="90000" r="1"`, `d="90000" r="99998"`, 1)
	require.NotEqual(t, string(b), s)
	require.NoError(t, os.WriteFile(c.MPD, []byte(s), 0o644))

	out := t.TempDir()
	cmd := exec.Command(prsimBin, "play", "--dev", dev, "--mpd", c.MPD, "--out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait for the video track to be under way.
	part := filepath.Join(out, "video.mp4.part")
	deadline := time.After(60 * time.Second)
	for started := false; !started; {
		select {
		case err := <-exited:
			t.Fatalf("prsim play ended before the test could signal it (%v): %s", err, stderr.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatal("prsim play never started writing the video track")
		case <-time.After(20 * time.Millisecond):
			_, err := os.Stat(part)
			started = err == nil
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "stderr: %s", stderr.String())
		require.Equal(t, 1, ee.ExitCode(), "stderr: %s", stderr.String())
		require.Contains(t, stderr.String(), "signal received")
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatal("prsim play did not stop on SIGTERM")
	}
	require.NoFileExists(t, part, "the partial track is removed")
	require.NoFileExists(t, filepath.Join(out, "video.mp4"))
	var list storedOut
	okJSON(t, &list, "license", "list", "--dev", dev, "--json")
}
