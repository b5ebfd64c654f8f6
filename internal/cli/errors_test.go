package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/soap"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		error  string
		detail string // "" = null
	}{
		{"tee-refusal",
			fmt.Errorf("tee: license minimum security level 3000 is above the device's 2000: %w", drm.ErrDeviceSecurityLevelTooLow),
			"DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW (0x8004A004)", "license minimum security level 3000 is above the device's 2000"},
		{"fault", fmt.Errorf("ree: server fault: %w", &soap.Fault{Code: drm.ErrServerInvalidMessage, Message: `cfg key "sl": bad`}),
			"DRM_E_SERVER_INVALID_MESSAGE (0x8004C601)", `server says: cfg key "sl": bad`},
		{"fault-custom-data", &soap.Fault{Code: drm.ErrServerServiceSpecific, Message: "client info", CustomData: "a: 1\nb: 2\n"},
			"DRM_E_SERVER_SERVICE_SPECIFIC (0x8004C604)", "server says: client info; custom data: a: 1; b: 2"},
		{"fault-silent", &soap.Fault{Code: drm.ErrServerInternalError},
			"DRM_E_SERVER_INTERNAL_ERROR (0x8004C600)", "the license server gave no reason"},
		{"bare-code", drm.ErrLicenseNotFound, "DRM_E_LICENSE_NOT_FOUND (0x8004C013)", ""},
		{"plain", errors.New("ree: something broke"), "something broke", ""},
		{"hint", withHint(errors.New("x failed"), "do y"), "x failed", "do y"},
		{"no-pki", fmt.Errorf("wrap: %w", &pki.NotFoundError{Dir: "/p"}), "wrap: no test PKI in /p (root.pub is missing)",
			"create one with 'prsim pki init --dir /p'"},
		{"no-device", &ree.NoDeviceError{Dir: "/d"}, "no device in /d (no device.json)",
			"run 'prsim device new --dir /d --pki PKI --sl 150|2000|3000' first"},
		{"rollback", &ree.RollbackError{Dir: "/d", Err: &tee.RollbackError{Stored: 3, Counter: 5, Reason: "older than the TPM counter"}},
			"/d/store.db was rolled back: the TEE refuses an older copy of its state",
			"TEE state refused: older than the TPM counter (state generation 3, TPM counter 5); restore the newest copy"},
		{"clock-error", fmt.Errorf("ree: play: %w", &tee.ClockError{Code: drm.ErrTEEClockDrifted, Reason: "the wall clock is 2h0m0s before the last-known-good time"}),
			drm.ErrTEEClockDrifted.String(), "play: trusted clock: the wall clock is 2h0m0s before the last-known-good time"},
		{"time-error", fmt.Errorf("tee: %w", &policy.TimeError{Code: drm.ErrLicenseExpired, Reason: "the license expired",
			At: time.Unix(2000000000, 0), Now: time.Unix(2000000001, 0)}),
			drm.ErrLicenseExpired.String(), "the license expired at 2033-05-18T03:33:20Z; device time 2033-05-18T03:33:21Z"},
		{"keys-lost", fmt.Errorf("ree: failed to build challenge: %w", fmt.Errorf("%w (tpm: boom)", tee.ErrKeysLost)),
			"this device's keys were made on another TPM, or the TPM was cleared", "the TPM refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.name == "bare-code" {
				tc.error = drm.ErrLicenseNotFound.String()
			}
			f := describe(tc.err)
			require.Equal(t, tc.error, f.Error)
			if tc.detail == "" {
				require.Nil(t, f.Detail)
				return
			}
			require.NotNil(t, f.Detail)
			require.True(t, strings.HasPrefix(*f.Detail, tc.detail), *f.Detail)
		})
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a; b c\uFFFD\uFFFDd", sanitize("a\r\n\nb\tc\x1b\u202ed\n"))
	require.Equal(t, "\uFFFD", sanitize("\xff"))
	long := sanitize(strings.Repeat("é", 3000))
	require.LessOrEqual(t, len(long), maxDetail+len("…"))
	require.True(t, strings.HasSuffix(long, "…"))
	require.True(t, strings.HasPrefix(long, "éé"))
	require.NotContains(t, long, "\uFFFD", "the cut falls on a rune boundary")
}

func TestJSONRequested(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]bool{
		"":                         false,
		"device info --json":       true,
		"--json=true device":       true,
		"--json=false":             false,
		"--json --json=0":          false,
		"inspect pro -- --json":    false,
		"inspect --json pro --":    true,
		"license acquire --jsonx":  false,
		"license acquire --json=x": false,
	} {
		require.Equal(t, want, jsonRequested(strings.Fields(args)), args)
	}
}

func TestCheckLicenseURL(t *testing.T) {
	t.Parallel()
	require.NoError(t, checkLicenseURL(""))
	require.NoError(t, checkLicenseURL("https://h/x?cfg=(a:b)"))
	for in, want := range map[string]string{
		"ftp://h/x":            `got scheme "ftp"`,
		"h/x":                  "got no scheme",
		"http:///x":            "must name a host",
		"http://[contentkey/x": "is not a URL",
	} {
		err := checkLicenseURL(in)
		require.Error(t, err, in)
		require.Contains(t, err.Error(), want, in)
		require.Equal(t, ExitUsage, exitCode(err))
		require.NotContains(t, err.Error(), "contentkey", "the URL is not echoed")
	}
}

// TestMainJSONOnFlagErrors: cobra's own errors (reported before RunE) are
// usage errors and, with --json, one JSON object.
func TestMainJSONOnFlagErrors(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := Main(t.Context(), []string{"device", "new", "--json", "--dir", "x"}, &out, &errOut)
	require.Equal(t, ExitUsage, code)
	var f failure
	require.NoError(t, json.Unmarshal(out.Bytes(), &f))
	require.Contains(t, f.Error, `required flag(s)`)
	require.NotNil(t, f.Detail)
	require.Equal(t, "see 'prsim device new --help'", *f.Detail)
	require.Equal(t, "prsim: "+f.text()+"\n", errOut.String())
}

func TestWriteTextSanitises(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, writeText(&b, faultJSON{Code: "C", Message: "m\x1b[2J", CustomData: ptr("l1\nl2\u202e")}))
	require.Equal(t, "code: C\nmessage: m\uFFFD[2J\nactor: -\ncustom_data: |\n    l1\n    l2\uFFFD\nredirect_url: -\n", b.String())
}
