package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHostileStore: DEV/store.db is a file any local user can damage. A
// truncated, zeroed or overwritten store used to panic every command (bbolt
// assertions, a fault reading the mapping); now "license list" exits 1 with
// an error naming the file and what to do, in text and in JSON.
func TestHostileStore(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	dev := newDevice(t, pkiDir, 2000, "soft")
	ok(t, "license", "list", "--dev", dev, "--json") // creates store.db
	file := filepath.Join(dev, "store.db")
	orig, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Greater(t, len(orig), 8<<10)

	zeroMeta := bytes.Clone(orig)
	clear(zeroMeta[:8<<10])
	for _, c := range []struct {
		name string
		b    []byte
		says string
	}{
		{"truncated-8k", orig[:8<<10], "truncated?"},
		{"truncated-odd", orig[:5000], "is damaged ("},
		{"zeroed-meta", zeroMeta, "no valid meta page"},
		{"garbage", bytes.Repeat([]byte("not a database "), 2000), "no valid meta page"},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(file, c.b, 0o600))
			defer func() { require.NoError(t, os.WriteFile(file, orig, 0o600)) }()

			r := run(t, "license", "list", "--dev", dev, "--json")
			f := failed(t, r, 1)
			require.Contains(t, *f.Error, file+" is damaged (")
			require.Contains(t, *f.Error, c.says)
			require.Contains(t, *f.Error, "move it away and re-acquire persistent licenses")
			require.NotContains(t, r.stderr, "panic")
			require.NotContains(t, r.stderr, "goroutine ")

			r = run(t, "license", "list", "--dev", dev)
			require.Equal(t, 1, r.code, "%s", r)
			require.Empty(t, r.stdout)
			require.True(t, strings.HasPrefix(r.stderr, "prsim: "+file+" is damaged ("), "%s", r)
			require.NotContains(t, r.stderr, "goroutine ")
		})
	}
	// The device works again once the file is restored.
	ok(t, "license", "list", "--dev", dev, "--json")
}
