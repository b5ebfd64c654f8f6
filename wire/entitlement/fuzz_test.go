package entitlement

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzEntitlementMessage feeds untrusted message JSON through parsing and
// policy checks: no panic, and every refusal is a bounded printable reason.
func FuzzEntitlementMessage(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzEntitlementMessage/*")
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzEntitlementMessage")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := ParseMessage(b, fuzzNow)
		if err == nil {
			return
		}
		fe, ok := err.(*Error)
		require.True(t, ok, "%T", err)
		r := strings.ReplaceAll(fe.Error(), "…", "")
		require.LessOrEqual(t, len(r), 1024)
		for _, c := range []byte(r) {
			require.True(t, c >= 0x20 && c <= 0x7e, "%q", r)
		}
	})
}

// FuzzEntitlementToken: arbitrary tokens never panic the verifier.
func FuzzEntitlementToken(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzEntitlementToken/*")
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzEntitlementToken")
	}
	keys := map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := Verify(tok, keys, fuzzNow)
		if err != nil {
			_, ok := err.(*Error)
			require.True(t, ok, "%T", err)
		}
	})
}

var fuzzNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
