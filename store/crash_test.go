package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/kid"
)

// The child half of TestKill9KeepsCommitted: it stores licenses as fast as
// it can and prints the index of each one after PutLicense returns.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("PRSIM_STORE_CRASH_CHILD") //nolint:forbidigo // test re-exec switch
	if path == "" {
		t.Skip("child process only")
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := s.PutLicense(crashRecord(i)); err != nil {
			t.Fatal(err)
		}
		fmt.Println(i)
	}
}

func crashRecord(i int) License {
	var id kid.ID
	copy(id[:], fmt.Sprintf("kid-%012d", i))
	return License{KID: id, LID: [16]byte{byte(i)}, Stored: time.Unix(int64(i), 0).UTC(), XMR: []byte(fmt.Sprintf("XMR\x00record %d", i))}
}

// A record whose PutLicense returned survives kill -9 of the writer.
func TestKill9KeepsCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "store.db")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), "PRSIM_STORE_CRASH_CHILD="+path)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(out)
		last := -1
		for sc.Scan() && last < 20*(round+1) {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				last = n
			}
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		require.GreaterOrEqual(t, last, 0, "child committed nothing")

		s, err := Open(path)
		require.NoError(t, err)
		for i := 0; i <= last; i++ {
			want := crashRecord(i)
			got, err := s.LicensesFor(want.KID)
			require.NoError(t, err)
			require.Len(t, got, 1, "record %d lost after kill -9 (round %d)", i, round)
			require.Equal(t, want, got[0])
		}
		require.NoError(t, s.Close())
	}
}
