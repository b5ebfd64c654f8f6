//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tourPort is the listen port the README's tour uses; the test runs the
// tour on a free port instead, and changes nothing else.
const tourPort = "127.0.0.1:8080"

// TestREADMETour runs the tour code block of README.md as written, with
// bash, in an empty directory, with the test-built prsim first on PATH. Then
// it decodes both played tracks with ffmpeg and requires no error output.
// Skipped without ffmpeg (which the tour itself uses), unless
// PRSIM_REQUIRE_TOOLS is set.
func TestREADMETour(t *testing.T) {
	t.Parallel()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		skipOrFail(t, "ffmpeg not installed (the tour decodes with it)")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	script, err := tourBlock(string(readme))
	require.NoError(t, err)
	require.Contains(t, script, tourPort, "the tour's server listens on %s", tourPort)
	script = strings.ReplaceAll(script, tourPort, freeAddr(t))

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tour.sh"), []byte(script), 0o600))
	// Files, not buffers, for the output: the background server inherits
	// them, and a pipe would keep Wait waiting for it.
	stdout, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	require.NoError(t, err)
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer stderr.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "tour.sh")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(prsimBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so the server the tour starts in the
	// background is killed with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	require.NoError(t, cmd.Start())
	runErr := cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the tour's server

	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	require.NoError(t, runErr, "README tour failed\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", script, out, errOut)

	for _, track := range []string{"video.mp4", "audio.mp4"} {
		path := filepath.Join(dir, "out", track)
		require.FileExists(t, path)
		var ffErr bytes.Buffer
		ff := exec.Command(ffmpeg, "-v", "error", "-i", path, "-f", "null", "-")
		ff.Stderr = &ffErr
		require.NoError(t, ff.Run(), "ffmpeg decoding %s: %s", track, ffErr.String())
		require.Empty(t, strings.TrimSpace(ffErr.String()), "ffmpeg reports errors decoding %s", track)
	}
}

// tourBlock returns the first fenced code block after the README heading
// (a "#" line or a "**bold**" lead) that names the tour.
func tourBlock(readme string) (string, error) {
	lines := strings.Split(readme, "\n")
	inTour := false
	for i, l := range lines {
		if !inTour {
			heading := strings.HasPrefix(l, "#") || strings.HasPrefix(l, "**")
			inTour = heading && strings.Contains(strings.ToLower(l), "tour")
			continue
		}
		if !strings.HasPrefix(l, "```") {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "```") {
				return strings.Join(lines[i+1:j], "\n") + "\n", nil
			}
		}
		return "", errors.New("README tour: unterminated code block")
	}
	return "", errors.New("README: no code block after a line naming the tour")
}

func TestTourBlock(t *testing.T) {
	got, err := tourBlock("# x\nwe tour\n```sh\nnot this\n```\n**A tour** of it\n\ntext\n```sh\na\nb\n```\n```sh\nc\n```\n")
	require.NoError(t, err)
	require.Equal(t, "a\nb\n", got)
	_, err = tourBlock("**Tour**\n```sh\na\n")
	require.Error(t, err)
	_, err = tourBlock("no such block\n```sh\na\n```\n")
	require.Error(t, err)
}
