package main

// "Every failure says why": the reason behind a code reaches the user (the
// license server's fault text, the TEE's refusal), usage mistakes say what
// to do, and with --json every invocation prints exactly one JSON object.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/cli"
	"github.com/prsim/prsim/wire/soap"
)

// failureOut is the report of a failed command.
type failureOut struct {
	Error  *string `json:"error"`
	Detail *string `json:"detail"`
}

// oneObject requires stdout to hold exactly one JSON object and returns it.
func oneObject(t *testing.T, r result) map[string]json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var obj map[string]json.RawMessage
	require.NoError(t, dec.Decode(&obj), "stdout is not one JSON object: %s", r)
	require.NotNil(t, obj, "stdout is JSON null: %s", r)
	_, err := dec.Token()
	require.ErrorIs(t, err, io.EOF, "more than one JSON value on stdout: %s", r)
	requireSnakeKeys(t, r.stdout)
	return obj
}

// failed requires a failure with exit code want and one JSON object with
// a non-empty "error" and a "detail" key, and returns it.
func failed(t *testing.T, r result, want int) failureOut {
	t.Helper()
	require.Equal(t, want, r.code, "%s", r)
	obj := oneObject(t, r)
	require.Contains(t, obj, "error", "%s", r)
	require.Contains(t, obj, "detail", "%s", r)
	var f failureOut
	decode(t, r, &f)
	require.NotNil(t, f.Error, "%s", r)
	require.NotEmpty(t, *f.Error, "%s", r)
	return f
}

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// requireSnakeKeys walks a JSON document and requires every object key to
// be snake_case.
func requireSnakeKeys(t *testing.T, doc string) {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(doc), &v))
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				require.Regexp(t, snakeKey, k, "JSON key at %s", path)
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	walk("$", v)
}

// commandPaths lists every runnable command of the tree (cobra's own help
// and completion aside) and every command group.
func commandPaths() (leaves []*cobra.Command, groups [][]string) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.HasSubCommands() {
			groups = append(groups, strings.Fields(c.CommandPath())[1:])
		} else {
			leaves = append(leaves, c)
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(cli.New(io.Discard, io.Discard))
	return leaves, groups
}

// TestJSONOneObjectEveryCommand walks every command with --json through
// failures before and during its work: stdout is always exactly one JSON
// object, with "error" and "detail" when the command failed.
func TestJSONOneObjectEveryCommand(t *testing.T) {
	t.Parallel()
	leaves, groups := commandPaths()
	require.NotEmpty(t, leaves)
	for _, g := range groups {
		t.Run(strings.Join(append([]string{"group"}, g...), "-"), func(t *testing.T) {
			t.Parallel()
			failed(t, run(t, append(append([]string{}, g...), "--json", "no-such-subcommand")...), 1)
			failed(t, run(t, append(append([]string{}, g...), "no-such-subcommand", "--json")...), 1)
		})
	}
	for _, c := range leaves {
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(path, "-"), func(t *testing.T) {
			t.Parallel()
			// Its own missing path: "pki init" creates what it is given.
			missing := filepath.Join(t.TempDir(), "missing")
			with := func(args ...string) []string { return append(append([]string{}, path...), args...) }
			// Command-line mistakes, reported before any work.
			failed(t, run(t, with("--json", "--no-such-flag")...), 1)
			failed(t, run(t, with("--no-such-flag=1", "--json")...), 1)
			failed(t, run(t, with("--json", "extra-1", "extra-2", "extra-3")...), 1)

			// Required flags: none given, then each pointing at a missing path.
			var required []string
			var oneOf string
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if _, ok := f.Annotations[cobra.BashCompOneRequiredFlag]; ok {
					required = append(required, f.Name)
				}
				if _, ok := f.Annotations["cobra_annotation_one_required"]; ok && oneOf == "" {
					oneOf = f.Name
				}
			})
			sort.Strings(required)
			if len(required) > 0 {
				failed(t, run(t, with("--json")...), 1)
			}
			if len(required) > 0 || oneOf != "" {
				args := with("--json")
				for _, n := range append(required, oneOf) {
					if n == "" {
						continue
					}
					v := missing
					if typ := c.Flags().Lookup(n).Value.Type(); typ != "string" {
						v = "2000"
					}
					args = append(args, "--"+n, v)
				}
				r := run(t, args...)
				if r.code != 0 {
					failed(t, r, r.code)
				} else {
					oneObject(t, r)
				}
			}
		})
	}
	// The root itself.
	failed(t, run(t, "--json", "no-such-command"), 1)
	failed(t, run(t, "--no-such-flag", "--json"), 1)
	// --json=false (or after "--") asks for text: no JSON.
	r := run(t, "no-such-command", "--json=false")
	require.Equal(t, 1, r.code)
	require.Empty(t, r.stdout)
	require.True(t, strings.HasPrefix(r.stderr, "prsim: "), "%s", r)
}

// TestFaultReasonReachesUser: the fault's text and custom data follow the
// code, in text (stderr) and in JSON ("detail"), for acquire and play.
func TestFaultReasonReachesUser(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"
	dev := newDevice(t, pkiDir, 2000, "soft")
	c := genContent(t, "cenc", 11, laURL)
	url := laURL + "?cfg=(msg:clientinfo)"
	const code = "DRM_E_SERVER_SERVICE_SPECIFIC (0x8004C604)"

	r := run(t, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", url)
	require.Equal(t, 2, r.code, "%s", r)
	// The server's words (whatever they are) come first, then its custom data.
	require.Regexp(t, `^prsim: `+regexp.QuoteMeta(code)+`: server says: client info[^;]*; custom data: Client Version: `, r.stderr)
	require.Contains(t, r.stderr, "Security Level: 2000", "%s", r)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %s", r)

	for _, args := range [][]string{
		{"license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", url, "--json"},
		{"play", "--dev", dev, "--mpd", c.MPD, "--out", t.TempDir(), "--url", url, "--json"},
	} {
		f := failed(t, run(t, args...), 2)
		require.Equal(t, code, *f.Error)
		require.NotNil(t, f.Detail)
		require.Regexp(t, `^server says: client info[^;]*; custom data: Client Version: `, *f.Detail)
		require.Contains(t, *f.Detail, "Security Level: 2000")
	}

	// A TEE refusal says why beside its code, per license and overall. The
	// reference server refuses sl:3000 for an SL2000 certificate itself; this
	// one issues the license so that the TEE refuses it.
	laURL = startServerArgs(t, pkiDir, "--defect", "issue-above-cert-sl") + "/rightsmanager.asmx"
	r = run(t, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", laURL+"?cfg=(sl:3000)", "--json")
	f := failed(t, r, 2)
	const why = "license minimum security level 3000 is above the device's 2000"
	require.Equal(t, "DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW (0x8004A004)", *f.Error)
	require.NotNil(t, f.Detail)
	require.Equal(t, why, *f.Detail)
	var acq struct {
		Licenses []failureOut `json:"licenses"`
	}
	decode(t, r, &acq)
	require.NotEmpty(t, acq.Licenses)
	for _, l := range acq.Licenses {
		require.NotNil(t, l.Detail)
		require.Equal(t, why, *l.Detail)
	}
	r = run(t, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", laURL+"?cfg=(sl:3000)")
	require.Contains(t, r.stderr, "prsim: DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW (0x8004A004): "+why)
}

// TestHostileFaultText: a fault's text is untrusted. Control and
// direction-override characters never reach the terminal and the detail is
// bounded, while the code still comes through.
func TestHostileFaultText(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	chain, err := os.ReadFile(filepath.Join(pkiDir, "server.chai"))
	require.NoError(t, err)
	evil := "evil\u202egnp.exe\r\nsecond line\u0085" + strings.Repeat("A", 10000)
	fault := soap.BuildFault(&soap.Fault{Code: drm.ErrDevCertRevoked, Message: evil, CustomData: "x\ty\u200f"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = w.Write(chain)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(fault)
	}))
	t.Cleanup(srv.Close)
	dev := newDevice(t, pkiDir, 2000, "soft")
	c := genContent(t, "cenc", 12, srv.URL+"/rightsmanager.asmx")

	r := run(t, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--json")
	f := failed(t, r, 2)
	require.Equal(t, "DRM_E_DEVCERT_REVOKED (0x8004C065)", *f.Error)
	require.NotNil(t, f.Detail)
	d := *f.Detail
	require.True(t, strings.HasPrefix(d, "server says: evil"), d)
	require.NotContains(t, d, "\u202e")
	require.NotContains(t, d, "\u200f")
	require.NotContains(t, d, "\u0085")
	require.NotContains(t, d, "\r")
	require.NotContains(t, d, "\n")
	require.Contains(t, d, "second line")
	require.LessOrEqual(t, len(d), 2100, "detail is bounded")
	require.Less(t, len(r.stderr), 2200, "stderr is bounded: %d bytes", len(r.stderr))
	for _, ch := range r.stderr[:len(r.stderr)-1] {
		require.False(t, ch < 0x20 || ch == 0x7f || ch == 0x202e, "control character %U on stderr", ch)
	}
}

// TestSaveExchange: --save-exchange writes every challenge, response and
// fault as files that prsim inspect reads.
func TestSaveExchange(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"
	dev := newDevice(t, pkiDir, 3000, "soft")
	c := genContent(t, "cenc", 13, laURL)

	type saved struct {
		ExchangeFiles []string `json:"exchange_files"`
		Error         *string  `json:"error"`
	}
	inspectOK := func(t *testing.T, kind, file string) map[string]json.RawMessage {
		t.Helper()
		r := run(t, "inspect", kind, file, "--json")
		require.Equal(t, 0, r.code, "%s", r)
		return oneObject(t, r)
	}

	t.Run("acquire", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "ex")
		var out saved
		okJSON(t, &out, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--save-exchange", dir, "--json")
		// Two adaptation sets, one exchange each.
		want := []string{"001-challenge.xml", "002-response.xml", "003-challenge.xml", "004-response.xml"}
		require.Len(t, out.ExchangeFiles, len(want))
		for i, w := range want {
			require.Equal(t, filepath.Join(dir, w), out.ExchangeFiles[i])
			require.FileExists(t, out.ExchangeFiles[i])
		}
		ch := inspectOK(t, "challenge", out.ExchangeFiles[0])
		require.JSONEq(t, "true", string(ch["signature_valid"]))
		resp := inspectOK(t, "response", out.ExchangeFiles[1])
		require.JSONEq(t, "true", string(resp["signature_valid"]))
		require.JSONEq(t, "null", string(resp["fault"]))
	})
	t.Run("fault", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "ex")
		r := run(t, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", laURL+"?cfg=(errorcode:0x8004C600)",
			"--save-exchange", dir, "--json")
		failed(t, r, 2)
		var out saved
		decode(t, r, &out)
		require.Equal(t, []string{filepath.Join(dir, "001-challenge.xml"), filepath.Join(dir, "002-fault.xml")}, out.ExchangeFiles)
		f := inspectOK(t, "fault", out.ExchangeFiles[1])
		require.JSONEq(t, `"DRM_E_SERVER_INTERNAL_ERROR (0x8004C600)"`, string(f["code"]))
		resp := inspectOK(t, "response", out.ExchangeFiles[1])
		require.Contains(t, string(resp["fault"]), "DRM_E_SERVER_INTERNAL_ERROR")
		// Text by default.
		r = run(t, "inspect", "fault", out.ExchangeFiles[1])
		require.Equal(t, 0, r.code, "%s", r)
		require.Contains(t, r.stdout, "code: DRM_E_SERVER_INTERNAL_ERROR (0x8004C600)\n")
	})
	t.Run("play", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "ex")
		var out saved
		okJSON(t, &out, "play", "--dev", dev, "--mpd", c.MPD, "--out", t.TempDir(), "--save-exchange", dir, "--json")
		require.NotEmpty(t, out.ExchangeFiles)
		names, err := filepath.Glob(filepath.Join(dir, "*.xml"))
		require.NoError(t, err)
		require.ElementsMatch(t, names, out.ExchangeFiles)
		inspectOK(t, "challenge", out.ExchangeFiles[0])
		inspectOK(t, "response", out.ExchangeFiles[1])
	})
	t.Run("unwritable", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, nil, 0o644))
		failed(t, run(t, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--save-exchange", filepath.Join(file, "sub"), "--json"), 1)
	})
}

// TestUsageHints: usage mistakes exit 1 and say what to do.
func TestUsageHints(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	dev := newDevice(t, pkiDir, 2000, "soft")
	missing := filepath.Join(t.TempDir(), "missing")
	c := genContent(t, "cenc", 14, "http://127.0.0.1:1/rightsmanager.asmx")
	// A device whose device.json names a sim seed that is not a number.
	badSeed := newDevice(t, pkiDir, 2000, "soft")
	raw, err := os.ReadFile(filepath.Join(badSeed, "device.json"))
	require.NoError(t, err)
	raw = bytes.Replace(raw, []byte(`"backend": "soft"`), []byte(`"backend": "sim:0x1f"`), 1)
	require.NoError(t, os.WriteFile(filepath.Join(badSeed, "device.json"), raw, 0o600))
	for _, tc := range []struct {
		name string
		args []string
		want []string // substrings of the stderr line and of error+detail
	}{
		{"url-scheme-acquire", []string{"license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", "ftp://example.com/x"},
			[]string{`--url must be an http:// or https:// license URL, got scheme "ftp"`}},
		{"url-scheme-play", []string{"play", "--dev", dev, "--mpd", c.MPD, "--out", missing, "--url", "file:///etc/passwd"},
			[]string{`--url must be an http:// or https:// license URL, got scheme "file"`}},
		{"url-no-host", []string{"license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", "http:///x"}, []string{"--url must name a host"}},
		{"no-pki", []string{"device", "new", "--pki", missing, "--dir", filepath.Join(t.TempDir(), "d"), "--sl", "2000", "--tpm", "soft"},
			[]string{"no test PKI in " + missing, "prsim pki init --dir " + missing}},
		{"bad-seed", []string{"device", "new", "--pki", pkiDir, "--dir", filepath.Join(t.TempDir(), "d"), "--sl", "2000", "--tpm", "sim:seven"},
			[]string{"decimal integer", "sim:42"}},
		{"no-device", []string{"license", "list", "--dev", missing},
			[]string{"no device in " + missing, "prsim device new --dir " + missing}},
		{"no-device-play", []string{"play", "--dev", missing, "--mpd", c.MPD, "--out", t.TempDir()},
			[]string{"no device in " + missing, "prsim device new --dir " + missing}},
		{"missing-flag", []string{"device", "info"}, []string{`"dir"`, "prsim device info --help"}},
		{"bad-seed-in-device", []string{"device", "info", "--dir", badSeed}, []string{"device.json", "decimal integer", "sim:42"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.args...)
			require.Equal(t, 1, r.code, "%s", r)
			require.Empty(t, r.stdout, "%s", r)
			for _, w := range tc.want {
				require.Contains(t, r.stderr, w, "%s", r)
			}
			f := failed(t, run(t, append(tc.args, "--json")...), 1)
			all := *f.Error
			if f.Detail != nil {
				all += ": " + *f.Detail
			}
			for _, w := range tc.want {
				require.Contains(t, all, w)
			}
			require.Equal(t, "prsim: "+all+"\n", run(t, tc.args...).stderr, "text and JSON say the same")
		})
	}
}

// TestKeysLost: a sim device whose seed in device.json was changed has key
// blobs its TPM cannot load; the failure says so instead of a TPM code.
func TestKeysLost(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	dev := newDevice(t, pkiDir, 2000, "sim")
	c := genContent(t, "cenc", 15, base+"/rightsmanager.asmx")
	path := filepath.Join(dev, "device.json")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	re := regexp.MustCompile(`"sim:[0-9]+"`)
	require.True(t, re.Match(raw))
	require.NoError(t, os.WriteFile(path, re.ReplaceAll(raw, []byte(`"sim:4242"`)), 0o600))

	requireKeysLost(t, dev, c)

	// An swtpm whose state was wiped: a new TPM with a new storage root.
	t.Run("swtpm-wiped", func(t *testing.T) {
		if _, err := exec.LookPath("swtpm"); err != nil {
			skipOrFail(t, "swtpm not installed (Debian: apt-get install swtpm swtpm-tools)")
		}
		state := filepath.Join(t.TempDir(), "tpm")
		dev := newDevice(t, pkiDir, 2000, "swtpm:"+state)
		require.NoError(t, os.RemoveAll(state))
		requireKeysLost(t, dev, c)
	})
}

func requireKeysLost(t *testing.T, dev string, c content) {
	t.Helper()
	const want = "this device's keys were made on another TPM, or the TPM was cleared"
	for _, args := range [][]string{
		{"license", "acquire", "--dev", dev, "--mpd", c.MPD},
		{"play", "--dev", dev, "--mpd", c.MPD, "--out", t.TempDir()},
	} {
		r := run(t, args...)
		require.Equal(t, 1, r.code, "%s", r)
		require.True(t, strings.HasPrefix(r.stderr, "prsim: "+want+": "), "%s", r)
		require.Contains(t, r.stderr, "prsim device new")
		f := failed(t, run(t, append(args, "--json")...), 1)
		require.Equal(t, want, *f.Error)
	}
}

// TestPKIInitForce: pki init refuses to overwrite a PKI without --force.
func TestPKIInitForce(t *testing.T) {
	t.Parallel()
	dir := newPKI(t)
	root, err := os.ReadFile(filepath.Join(dir, "root.pub"))
	require.NoError(t, err)

	r := run(t, "pki", "init", "--dir", dir)
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, dir)
	require.Contains(t, r.stderr, "--force")
	f := failed(t, run(t, "pki", "init", "--dir", dir, "--json"), 1)
	require.Contains(t, *f.Error+*f.Detail, "--force")
	after, err := os.ReadFile(filepath.Join(dir, "root.pub"))
	require.NoError(t, err)
	require.Equal(t, root, after, "the PKI is untouched")

	var out struct {
		Dir         string `json:"dir"`
		RootKey     string `json:"root_key"`
		ModelLevels []int  `json:"model_levels"`
		Replaced    bool   `json:"replaced"`
	}
	okJSON(t, &out, "pki", "init", "--dir", dir, "--force", "--json")
	require.True(t, out.Replaced)
	require.Equal(t, []int{150, 2000, 3000}, out.ModelLevels)
	after, err = os.ReadFile(filepath.Join(dir, "root.pub"))
	require.NoError(t, err)
	require.NotEqual(t, root, after, "--force replaced the PKI")
	require.Equal(t, fmt.Sprintf("%x", after), out.RootKey)

	fresh := filepath.Join(t.TempDir(), "fresh")
	okJSON(t, &out, "pki", "init", "--dir", fresh, "--json")
	require.False(t, out.Replaced)
}

// TestInspectTextAndJSON: inspect prints text by default and JSON with
// --json; the JSON keys are snake_case (also inside an XMR policy), and XML
// inside JSON is not HTML-escaped.
func TestInspectTextAndJSON(t *testing.T) {
	t.Parallel()
	x := capture(t)
	dir := t.TempDir()
	ch := filepath.Join(dir, "challenge.xml")
	require.NoError(t, os.WriteFile(ch, x.challenge, 0o644))
	resp, err := soap.ParseResponse(x.response)
	require.NoError(t, err)
	lic := filepath.Join(dir, "license.xmr")
	require.NoError(t, os.WriteFile(lic, resp.Licenses[0], 0o644))

	r := run(t, "inspect", "challenge", ch)
	require.Equal(t, 0, r.code, "%s", r)
	require.False(t, json.Valid([]byte(r.stdout)), "text, not JSON: %s", r)
	require.Contains(t, r.stdout, "client_version: 4.5.0.0\n")
	require.Contains(t, r.stdout, "signature_valid: true\n")

	r = run(t, "inspect", "challenge", ch, "--json")
	require.Equal(t, 0, r.code, "%s", r)
	obj := oneObject(t, r)
	require.Contains(t, string(obj["content_header"]), "<WRMHEADER")
	require.NotContains(t, r.stdout, `\u003c`)

	r = run(t, "inspect", "xmr", lic, "--json")
	require.Equal(t, 0, r.code, "%s", r)
	obj = oneObject(t, r)
	var policy map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(obj["policy"], &policy))
	require.JSONEq(t, "150", string(policy["min_security_level"]))
	require.JSONEq(t, "null", string(policy["expiration"]), "absent is null")
	require.JSONEq(t, "true", string(policy["play"]))

	r = run(t, "inspect", "response", filepath.Join(dir, "none.xml"), "--json")
	failed(t, r, 1)
	r = runStdin(t, []byte("garbage"), "inspect", "fault", "-", "--json")
	require.NotEqual(t, 0, r.code)
	failed(t, r, r.code)
}

// TestDemoJSON: demo --json prints one object, the narration inside.
func TestDemoJSON(t *testing.T) {
	t.Parallel()
	r := run(t, "demo", "--tpm", "soft", "--json")
	require.Equal(t, 0, r.code, "%s", r)
	oneObject(t, r)
	var out struct {
		OK    bool     `json:"ok"`
		Log   []string `json:"log"`
		Error *string  `json:"error"`
	}
	decode(t, r, &out)
	require.True(t, out.OK)
	require.Nil(t, out.Error)
	require.NotEmpty(t, out.Log)
	require.Contains(t, strings.Join(out.Log, "\n"), "demo OK")
	require.False(t, bytes.Contains([]byte(r.stdout), []byte("\n 1. ")), "no narration outside the JSON")
}
