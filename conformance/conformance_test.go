package conformance_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/conformance"
	testfx "github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/licsrv"
)

// now is the fixed time of every test run; randomness is seeded too, so a
// run depends only on the defects.
var now = time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

// fixture is the shared test fixture with a seeded PKI saved to a
// directory (dir) for the runner to load; its servers run on clock.
type fixture struct {
	fx    *testfx.Fixture
	dir   string
	pki   *pki.PKI
	allow string    // the servers' RevAllowInfo file, which RV3 extends
	start time.Time // real time at creation: see serverClock
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	fx, err := testfx.New(testfx.Options{Dir: t.TempDir(), Rand: testfx.Seeded(1), Now: clock})
	require.NoError(t, err)
	allow := filepath.Join(t.TempDir(), "revallow.xml")
	require.NoError(t, os.WriteFile(allow, []byte(emptyAllowList), 0o644))
	return fixture{fx: fx, dir: fx.PKIDir(), pki: fx.PKI, allow: allow, start: time.Now()}
}

// emptyAllowList is a RevAllowInfo file with no entry yet.
const emptyAllowList = `<?xml version="1.0" encoding="utf-8"?>
<RevAllowInfo>
  <AllowList>
  </AllowList>
</RevAllowInfo>
`

// serverClock is the servers' clock: the fixed test time plus the real
// time since the fixture was made. The server reloads its revocation lists
// on its own clock, so a fixed one would never reload them; the drift
// from the runner's fixed clock stays far inside the ClientTime window
// (30 min, C1) and the server-time tolerance (5 min, C2).
func (f fixture) serverClock() time.Time { return now.Add(time.Since(f.start)) }

// Revocation settings of the test servers and runs: lists reloaded every
// revReload, and a runner that waits revWait for it (a server with a
// revocation defect is given up on after revWait).
const (
	revReload = 50 * time.Millisecond
	revWait   = 3 * time.Second
)

// server starts the reference server with defects and returns its LA URL.
// License Server Time is on (C2, C3). Its header and idle timeouts are short, so that R3 and R4 (which wait for
// the server to cut a slow or idle connection) take about a second; not
// shorter, because on a loaded 2-core machine (parallel subtests, -race) a
// fresh connection's headers can take a few hundred ms to be read, and a
// server that cut it would fail unrelated scenarios with a broken pipe.
func (f fixture) server(t *testing.T, defects ...licsrv.Defect) string {
	t.Helper()
	srv, err := f.fx.StartServer(f.config(licsrv.Config{Defects: defects, CommKeys: map[string][]byte{commKeyID: commKey()},
		Limits:               licsrv.Limits{ReadHeaderTimeout: time.Second, IdleTimeout: time.Second},
		MaxStreamsPerAccount: maxStreams}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv.LAURL
}

// maxStreams is the test server's stream limit per account (SS6).
const maxStreams = 2

// config turns License Server Time on in cfg, with the PKI's time server,
// and sets the revocation reload, allow file and clock (the fixture serves
// the PKI's lists).
func (f fixture) config(cfg licsrv.Config) licsrv.Config {
	cfg.LicenseServerTime, cfg.TimeChain, cfg.TimeKey = true, f.pki.TimeServer.Chain, f.pki.TimeServer.Key
	cfg.RevocationReload, cfg.RevAllowFile, cfg.Now = revReload, f.allow, f.serverClock
	return cfg
}

// The communication key the test server shares with the runner (profile
// entitlement).
const commKeyID = "6A5C53F6-3A1C-4E3E-9E31-0B0D8A7C1F12"

func commKey() []byte { return []byte("prsim conformance test comm key!") }

// connWait is how long R3 and R4 wait in tests: the test server cuts in
// about 1 s, one without timeouts (no-timeouts) is given up on soon after.
const connWait = 4 * time.Second

func (f fixture) run(t *testing.T, o conformance.Options) *conformance.Report {
	t.Helper()
	if o.PKIDir == "" {
		o.PKIDir = f.dir
	}
	o.Now, o.Rand = clock, testfx.Seeded(2)
	if o.Profile == conformance.ProfileEntitlement && o.CommKey == nil {
		o.CommKeyID, o.CommKey = commKeyID, commKey()
	}
	if o.ConnWait == 0 {
		o.ConnWait = connWait
	}
	if o.RevocationWait == 0 {
		o.RevocationWait = revWait
	}
	if o.RevAllow == "" {
		o.RevAllow = f.allow
	}
	rep, err := conformance.Run(context.Background(), o)
	require.NoError(t, err)
	return rep
}

// breaks is what each defect must break: exactly these scenarios fail, all
// others pass (docs/conformance.md keeps the same table).
var breaks = map[licsrv.Defect][]string{
	licsrv.DefectNoNonceEcho:      {"P1"},
	licsrv.DefectUnsignedResponse: {"P2"},
	// The secure-stop acknowledgement is signed with the same key, and
	// flipped the same way: every scenario that verifies one fails.
	licsrv.DefectBadResponseSignature: {"P2", "SS1", "SS2", "SS3", "SS4"},
	// ignore-sl issues a min-SL-150 license instead of refusing: L7 sees the
	// device bind it, R1 sees no fault (R1 passes only on a fault).
	licsrv.DefectIgnoreSL:        {"L7", "R1", "Y5"},
	licsrv.DefectIgnorePersist:   {"L3"},
	licsrv.DefectWrongContentKey: {"L5", "B1", "B2"},
	// SS5 sends an acknowledgement with a broken signature first.
	licsrv.DefectAcceptBadSignature:     {"P4", "SS5"},
	licsrv.DefectAcceptUntrustedRoot:    {"P5"},
	licsrv.DefectFaultAs200:             {"F1", "F2", "F3", "F4", "F5", "F6"},
	licsrv.DefectIgnoreLicenseRequested: {"L6", "C3"},
	licsrv.DefectNoLimits:               {"R2"},
	licsrv.DefectNoTimeouts:             {"R3", "R4"},
	// issue-above-cert-sl issues the SL3000 license: the device refuses it,
	// so L7 still passes; R1 does not.
	licsrv.DefectIssueAboveCertSL: {"R1"},
	licsrv.DefectMisEncodeOPL:     {"Y1"},
	licsrv.DefectDropPlayEnabler:  {"Y3"},
	// keep-unsupported-key is about entitlement keys: nothing under cfg.
	licsrv.DefectKeepUnsupportedKey: {},
	licsrv.DefectNoClientTimeCheck:  {"P6", "C1"},
	// A stale or unsigned time fails wherever the time is checked: the
	// license response (C2) and the clock sync (C3).
	licsrv.DefectStaleServerTime:    {"C2", "C3"},
	licsrv.DefectUnsignedServerTime: {"C2", "C3"},
	licsrv.DefectMisEncodeDates:     {"C4", "C5"},
	// An acknowledgement naming no session: whoever checks it fails (SS6
	// only counts streams).
	licsrv.DefectDropAck:           {"SS1", "SS2", "SS3", "SS4"},
	licsrv.DefectAcceptTamperedSS2: {"SS3"},
	licsrv.DefectDoubleCountResend: {"SS4"},
	licsrv.DefectIgnoreStreamStops: {"SS6"},
	// RV3 first waits for its revoked model to be refused, then for the
	// allow list to serve it: accept-revoked fails it at the first step.
	licsrv.DefectAcceptRevoked: {"RV1", "RV2", "RV3"},
	// The runner's devices start with the authority's lists (preIngest),
	// so licenses demanding the current RIV still bind: only RV4, which
	// judges delivery, sees the stale server.
	licsrv.DefectStaleRevInfo:    {"RV4"},
	licsrv.DefectIgnoreAllowList: {"RV3"},
	licsrv.DefectRIVZero:         {"RV5"},
}

// breaksEntitlement is what each defect breaks under profile entitlement
// (run against the same server, which also has a communication key). F6
// and R1 are skipped there; the reference server applies ignore-sl and
// ignore-persist to a message's min_device_security_level and
// allow_persistence too, but an SL3000 key for the SL2000 device is left
// out, not refused (L7 still passes); issue-above-cert-sl is about cfg
// sl: only.
var breaksEntitlement = map[licsrv.Defect][]string{
	licsrv.DefectNoNonceEcho:            {"P1"},
	licsrv.DefectUnsignedResponse:       {"P2"},
	licsrv.DefectBadResponseSignature:   {"P2"},
	licsrv.DefectIgnoreSL:               {"Y5"},
	licsrv.DefectIgnorePersist:          {"L3"},
	licsrv.DefectWrongContentKey:        {"L5", "B1", "B2"},
	licsrv.DefectAcceptBadSignature:     {"P4"},
	licsrv.DefectAcceptUntrustedRoot:    {"P5"},
	licsrv.DefectFaultAs200:             {"F1", "F2", "F3", "F4", "F5"},
	licsrv.DefectIgnoreLicenseRequested: {"L6", "C3"},
	licsrv.DefectNoLimits:               {"R2"},
	licsrv.DefectNoTimeouts:             {"R3", "R4"},
	licsrv.DefectIssueAboveCertSL:       {},
	licsrv.DefectMisEncodeOPL:           {"Y1"},
	licsrv.DefectDropPlayEnabler:        {"Y3"},
	licsrv.DefectKeepUnsupportedKey:     {"Y5", "Y6", "Y7"},
	// C4 and C5 need cfg dates, which a message cannot say (skipped).
	licsrv.DefectNoClientTimeCheck:  {"P6", "C1"},
	licsrv.DefectStaleServerTime:    {"C2", "C3"},
	licsrv.DefectUnsignedServerTime: {"C2", "C3"},
	licsrv.DefectMisEncodeDates:     {},
	// The securestop family needs cfg securestop: and tid:, skipped under
	// entitlement.
	licsrv.DefectDropAck:           {},
	licsrv.DefectAcceptTamperedSS2: {},
	licsrv.DefectDoubleCountResend: {},
	licsrv.DefectIgnoreStreamStops: {},
	licsrv.DefectAcceptRevoked:     {},
	licsrv.DefectStaleRevInfo:      {},
	licsrv.DefectIgnoreAllowList:   {},
	licsrv.DefectRIVZero:           {},
}

// skippedUnder is what each profile skips against a clean server.
var skippedUnder = map[string][]string{
	conformance.ProfileCfg:         {"Y6"},
	conformance.ProfileEntitlement: {"F6", "R1", "C4", "C5", "SS1", "SS2", "SS3", "SS4", "SS5", "SS6"},
	conformance.ProfileNone: {"L3", "L7", "F6", "R1", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "C4", "C5",
		"SS1", "SS2", "SS3", "SS4", "SS5", "SS6"},
}

func statuses(rep *conformance.Report) (fails []string, others map[string]conformance.Status) {
	others = map[string]conformance.Status{}
	for _, r := range rep.Results {
		switch r.Status {
		case conformance.Fail:
			fails = append(fails, r.ID)
		case conformance.Pass:
		default:
			others[r.ID] = r.Status
		}
	}
	sort.Strings(fails)
	return fails, others
}

func details(rep *conformance.Report) string {
	var b strings.Builder
	for _, r := range rep.Results {
		if r.Status != conformance.Pass {
			b.WriteString(r.ID + " " + string(r.Status) + ": " + r.Detail + "\n")
		}
	}
	return b.String()
}

// unexpected drops the profile's expected skips from others.
func unexpected(others map[string]conformance.Status, profile string) map[string]conformance.Status {
	for _, id := range skippedUnder[profile] {
		if others[id] == conformance.Skipped {
			delete(others, id)
		}
	}
	return others
}

func TestCleanServerPasses(t *testing.T) {
	f := newFixture(t)
	for _, profile := range []string{conformance.ProfileCfg, conformance.ProfileEntitlement} {
		t.Run(profile, func(t *testing.T) {
			rep := f.run(t, conformance.Options{URL: f.server(t), Profile: profile})
			require.Len(t, rep.Results, len(conformance.Scenarios()))
			for _, r := range rep.Results {
				t.Logf("%s %s %dms: %s", r.ID, r.Status, r.DurationMS, r.Detail)
			}
			fails, others := statuses(rep)
			require.Empty(t, fails, "%s", details(rep))
			require.Len(t, others, len(skippedUnder[profile]), "%s", details(rep))
			require.Empty(t, unexpected(others, profile), "%s", details(rep))
			require.Equal(t, len(rep.Results)-len(skippedUnder[profile]), rep.Summary.Pass)
			require.False(t, rep.MustFailed())
		})
	}
}

func TestEachDefectFailsExactlyItsScenarios(t *testing.T) {
	require.ElementsMatch(t, licsrv.Defects(), mapsKeys(breaks), "every defect has an expected set")
	require.ElementsMatch(t, licsrv.Defects(), mapsKeys(breaksEntitlement), "every defect has an expected entitlement set")
	for _, profile := range []string{conformance.ProfileCfg, conformance.ProfileEntitlement} {
		table := breaks
		if profile == conformance.ProfileEntitlement {
			table = breaksEntitlement
		}
		for _, d := range licsrv.Defects() {
			t.Run(profile+"/"+string(d), func(t *testing.T) {
				t.Parallel() // R3 and R4 mostly wait: overlap them
				// A PKI each: the revocation family revokes in it, and one
				// run's revocations must not reach another's server.
				f := newFixture(t)
				o := conformance.Options{URL: f.server(t, d), Profile: profile}
				if profile == conformance.ProfileEntitlement {
					// Only the families whose requests carry the message:
					// the others send the same requests as under cfg (the
					// clean run covers them under entitlement).
					o.Only = entitlementFamilies
				}
				rep := f.run(t, o)
				fails, others := statuses(rep)
				var want []string
				for _, id := range table[d] {
					if len(o.Only) == 0 || slices.Contains(o.Only, familyOf(id)) {
						want = append(want, id)
					}
				}
				sort.Strings(want)
				if len(want) == 0 {
					want = nil
				}
				require.Equal(t, want, fails, "%s", details(rep))
				require.Empty(t, unexpected(others, profile), "%s", details(rep))
				must := false
				for _, r := range rep.Results {
					must = must || (r.Status == conformance.Fail && r.Level == conformance.Must)
				}
				require.Equal(t, must, rep.MustFailed(), "only should scenarios fail: exit 0")
				for _, r := range rep.Results {
					if r.Status == conformance.Fail {
						require.Contains(t, r.Detail, "expected ")
						require.Contains(t, r.Detail, "; seen ")
					}
				}
			})
		}
	}
}

// entitlementFamilies are the families whose requests change under
// profile entitlement.
var entitlementFamilies = []string{conformance.FamilyLicensing, conformance.FamilyPlayback, conformance.FamilyPolicy}

func familyOf(id string) string {
	for _, s := range conformance.Scenarios() {
		if s.ID == id {
			return s.Family
		}
	}
	return ""
}

func mapsKeys(m map[licsrv.Defect][]string) []licsrv.Defect {
	var out []licsrv.Defect
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestProfileNoneSkipsPolicyScenarios(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, conformance.Options{URL: f.server(t), Profile: conformance.ProfileNone})
	var skipped []string
	for _, r := range rep.Results {
		switch r.Status {
		case conformance.Skipped:
			skipped = append(skipped, r.ID)
			require.Contains(t, r.Detail, "profile none")
		case conformance.Pass:
		default:
			t.Errorf("%s %s: %s", r.ID, r.Status, r.Detail)
		}
	}
	require.Equal(t, skippedUnder[conformance.ProfileNone], skipped)
}

func TestOnlyAndJSONShape(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, conformance.Options{URL: f.server(t, licsrv.DefectNoNonceEcho), Only: []string{conformance.FamilyProtocol}})
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(buf.Bytes(), &top))
	require.Len(t, top, 2)
	var out struct {
		Summary map[string]int           `json:"summary"`
		Results []map[string]interface{} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &out))
	require.Equal(t, map[string]int{"pass": 5, "fail": 1, "skipped": 0, "error": 0}, out.Summary)
	require.Len(t, out.Results, 6)
	for _, r := range out.Results {
		for _, k := range []string{"id", "family", "level", "persona", "rule", "status", "detail"} {
			require.Contains(t, r, k)
		}
		require.Equal(t, "protocol", r["family"])
	}
	require.Equal(t, "P1", out.Results[0]["id"])
	require.Equal(t, "fail", out.Results[0]["status"])
}

func TestOptionsRefused(t *testing.T) {
	f := newFixture(t)
	for name, o := range map[string]conformance.Options{
		"scheme":      {URL: "ftp://x/rightsmanager.asmx", PKIDir: f.dir},
		"nohost":      {URL: "http:///x", PKIDir: f.dir},
		"nopki":       {URL: "http://127.0.0.1:1/x"},
		"badpki":      {URL: "http://127.0.0.1:1/x", PKIDir: t.TempDir()},
		"profile":     {URL: "http://127.0.0.1:1/x", PKIDir: f.dir, Profile: "json"},
		"family":      {URL: "http://127.0.0.1:1/x", PKIDir: f.dir, Only: []string{"nosuch"}},
		"nokey":       {URL: "http://127.0.0.1:1/x", PKIDir: f.dir, Profile: conformance.ProfileEntitlement},
		"nokeyid":     {URL: "http://127.0.0.1:1/x", PKIDir: f.dir, Profile: conformance.ProfileEntitlement, CommKey: commKey()},
		"revallow":    {URL: "http://127.0.0.1:1/x", PKIDir: f.dir, RevAllow: filepath.Join(f.dir, "no-such-allow.xml")},
		"revallowdir": {URL: "http://127.0.0.1:1/x", PKIDir: f.dir, RevAllow: f.dir},
	} {
		t.Run(name, func(t *testing.T) {
			rep, err := conformance.Run(context.Background(), o)
			require.ErrorIs(t, err, conformance.ErrUsage)
			require.Nil(t, rep)
		})
	}
}

func TestScenarioTable(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range conformance.Scenarios() {
		require.False(t, seen[s.ID], "duplicate id %s", s.ID)
		seen[s.ID] = true
		require.Contains(t, conformance.Families(), s.Family)
		require.Contains(t, []conformance.Level{conformance.Must, conformance.Should}, s.Level)
		require.NotEmpty(t, s.Persona)
		require.NotEmpty(t, s.Rule)
		require.NotContains(t, s.Rule, "spec/", "rules cite docs/ or public sources")
		require.True(t, strings.HasSuffix(s.Title, "."), s.ID)
	}
}

// docs/conformance.md lists every scenario with its level and title, and
// every defect with the scenarios it breaks.
func TestDocsListEveryScenario(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "conformance.md"))
	require.NoError(t, err)
	doc := string(b)
	for _, s := range conformance.Scenarios() {
		row := "| " + s.ID + " | " + s.Family + " | " + string(s.Level) + " | " + s.Persona + " | "
		i := strings.Index(doc, row)
		require.GreaterOrEqual(t, i, 0, "docs/conformance.md has no row %q", row)
		line := doc[i : i+strings.IndexByte(doc[i:], '\n')]
		require.True(t, strings.HasSuffix(line, "| "+s.Title+" |"), "row of %s has another title: %s", s.ID, line)
	}
	ids := func(l []string) string {
		if len(l) == 0 {
			return "—"
		}
		return strings.Join(l, ", ")
	}
	for d, cfg := range breaks {
		require.Contains(t, doc, "| `"+string(d)+"` | ")
		line := doc[strings.Index(doc, "| `"+string(d)+"` | "):]
		line = line[:strings.IndexByte(line, '\n')]
		require.True(t, strings.HasSuffix(line, "| "+ids(cfg)+" | "+ids(breaksEntitlement[d])+" |"), "defect row: %s", line)
	}
}

// Under profile entitlement the message (a JWT carrying content keys) and
// the communication key appear in no report and no saved exchange, also
// when the request gets no HTTP answer.
func TestEntitlementSecretsNotReported(t *testing.T) {
	f := newFixture(t)
	ex := t.TempDir()
	for _, u := range []string{f.server(t), "http://127.0.0.1:1/rightsmanager.asmx"} {
		rep := f.run(t, conformance.Options{URL: u, ServerCert: f.pki.Server.Chain.Bytes(), Profile: conformance.ProfileEntitlement,
			Only: []string{conformance.FamilyLicensing, conformance.FamilyPolicy}, ExchangeDir: ex})
		var js, junit, html bytes.Buffer
		require.NoError(t, rep.WriteJSON(&js))
		require.NoError(t, rep.WriteJUnit(&junit))
		require.NoError(t, rep.WriteHTML(&html, ""))
		outs := []string{js.String(), junit.String(), html.String()}
		require.NoError(t, filepath.Walk(ex, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				b, rerr := os.ReadFile(path)
				outs = append(outs, string(b))
				return rerr
			}
			return err
		}))
		for _, out := range outs {
			require.NotContains(t, out, "eyJhbGciOiJIUzI1NiI", "a JWT (base64url of its header '{\"alg\":\"HS256\"')")
			require.NotContains(t, out, string(commKey()))
			require.NotContains(t, out, base64.StdEncoding.EncodeToString(commKey()))
			require.NotContains(t, out, "prsim-entitlement")
		}
	}
}
