package conformance

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prsim/prsim/internal/pki"
)

// Level is how binding a scenario's rule is.
type Level string

// Levels, as RFC 2119 words.
const (
	Must   Level = "must"
	Should Level = "should"
)

// Status is a scenario's outcome.
type Status string

// Statuses.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Skipped Status = "skipped"
	Error   Status = "error" // the runner could not run the scenario
)

// Families.
const (
	FamilyLicensing = "licensing"
	FamilyProtocol  = "protocol"
	FamilyFaults    = "faults"
	FamilyPlayback  = "playback"
	// FamilyRobustness: hostile or abusive clients (amplifying requests,
	// slow and idle connections) are bounded.
	FamilyRobustness = "robustness"
	// FamilyPolicy: each policy object a server is asked for arrives
	// encoded as asked, and the device decides on it as the oracle does.
	FamilyPolicy = "policy"
	// FamilyClock: the server's side of time: the ClientTime window,
	// License Server Time, clock-sync requests and time policies.
	FamilyClock = "clock"
	// FamilySecureStop: secure-stop reports are acknowledged, stored once
	// and verified; license acknowledgements; the stream limit.
	FamilySecureStop = "securestop"
	// FamilyRevocation: revoked devices and models are refused, the allow
	// list is honoured, newer lists are delivered, licenses carry the RIV.
	FamilyRevocation = "revocation"
)

// Families returns the scenario families in run order.
func Families() []string {
	return []string{FamilyLicensing, FamilyProtocol, FamilyFaults, FamilyPlayback, FamilyRobustness, FamilyPolicy, FamilyClock, FamilySecureStop, FamilyRevocation}
}

// Profiles: how the runner asks the server for a policy.
const (
	ProfileCfg  = "cfg"  // Microsoft test-server cfg= query string
	ProfileNone = "none" // plain requests; scenarios needing a policy are skipped
	// ProfileEntitlement: policies travel in an Axinom-style entitlement
	// message (a JWT signed with the communication key, header
	// X-AxDRM-Message); scenarios needing a policy it cannot express are
	// skipped.
	ProfileEntitlement = "entitlement"
)

// Personas: the devices scenarios run as.
const (
	PersonaSL3000        = "sl3000-4.5"     // SL3000 PlayReady 4.5 device of the server's PKI
	PersonaSL2000        = "sl2000-4.5"     // SL2000 PlayReady 4.5 device of the server's PKI
	PersonaUntrustedRoot = "untrusted-root" // SL3000 device of a PKI the server does not trust
	PersonaPR20          = "sl2000-2.0"     // SL2000 PlayReady 2.0 device of the server's PKI
	PersonaSL3000v30     = "sl3000-3.0"     // SL3000 PlayReady 3.0 device of the server's PKI (SecureStop1)
	// PersonaSL3000Soft is an SL3000 PlayReady 4.5 device of the server's
	// PKI on the soft backend whatever Options.TPM says: the runner reads
	// its private keys, to build messages its TEE would never sign.
	PersonaSL3000Soft = "sl3000-4.5-soft"
	// PersonaRevokedDevice is a fresh SL3000 PlayReady 4.5 device of the
	// server's PKI, made for one scenario, whose leaf the runner revokes.
	PersonaRevokedDevice = "sl3000-4.5-revoked"
	// PersonaRevokedModel is a fresh SL3000 PlayReady 4.5 device under a
	// fresh model certificate signed by the PKI root (never one of the
	// PKI's own models), made for one scenario; the runner revokes the model.
	PersonaRevokedModel = "sl3000-4.5-revoked-model"
)

// Scenario is one check.
type Scenario struct {
	ID      string `json:"id"`
	Family  string `json:"family"`
	Level   Level  `json:"level"`
	Persona string `json:"persona"`
	Rule    string `json:"rule"`  // the rule and where it is written
	Title   string `json:"title"` // the expectation, one sentence

	run func(context.Context, *env) outcome
}

// row is one scenario of a family's table, in [Scenario]'s field order.
type row struct {
	id      string
	level   Level
	persona string
	rule    string
	title   string
	run     func(context.Context, *env) outcome
}

// family makes the family's scenarios from its table, in table order.
func family(name string, rows []row) []Scenario {
	out := make([]Scenario, len(rows))
	for i, r := range rows {
		out[i] = Scenario{ID: r.id, Family: name, Level: r.level, Persona: r.persona, Rule: r.rule, Title: r.title, run: r.run}
	}
	return out
}

// Scenarios returns every scenario in run order (families in [Families]
// order).
func Scenarios() []Scenario {
	var all []Scenario
	all = append(all, licensingScenarios()...)
	all = append(all, protocolScenarios()...)
	all = append(all, faultScenarios()...)
	all = append(all, playbackScenarios()...)
	all = append(all, robustnessScenarios()...)
	all = append(all, policyScenarios()...)
	all = append(all, clockScenarios()...)
	all = append(all, secureStopScenarios()...)
	all = append(all, revocationScenarios()...)
	return all
}

// Options configures a run.
type Options struct {
	// URL is the license acquisition URL of the server under test
	// (http or https), e.g. http://127.0.0.1:8080/rightsmanager.asmx.
	URL string
	// PKIDir is the test PKI directory the server trusts (internal/pki
	// layout); the runner provisions its devices from its model keys.
	PKIDir string
	// ServerCert is the server's BCert chain (CHAI bytes); nil: fetched
	// from GET /prsim/server-cert on the URL's origin.
	ServerCert []byte
	// Profile is ProfileCfg ("" too), ProfileNone or ProfileEntitlement.
	Profile string
	// CommKeyID and CommKey are the communication key the server under
	// test shares (ProfileEntitlement only, required there): the runner
	// signs its entitlement messages with it. The key is never reported.
	CommKeyID string
	CommKey   []byte
	// Only restricts the run to these families; empty: all.
	Only []string
	// TPM is the key backend of the runner's devices ("" = soft), e.g. sim.
	TPM string
	// ExchangeDir, if set, receives every challenge, response and fault,
	// one subdirectory per scenario ID.
	ExchangeDir string
	// WorkDir holds devices and content; "" = a temporary directory
	// removed at the end.
	WorkDir string
	// HTTP is the client for the server; nil = 60 s timeout.
	HTTP *http.Client
	// ConnWait is how long R3 and R4 wait for the server to close a slow
	// or idle connection (real time, not Now); 0 = 20 s.
	ConnWait time.Duration
	// RevocationWait is how long the revocation scenarios wait for the
	// server to reload its lists and allow file after the runner changed
	// them (real time, not Now); 0 = 15 s. The server must reload within
	// it (prsim server --revocation-reload).
	RevocationWait time.Duration
	// RevAllow is the server's RevAllowInfo allow file (prsim server
	// --rev-allow); RV3 adds a throwaway model's digest to it. "" skips RV3.
	RevAllow string
	// Now gives ClientTime and certificate check times; nil = time.Now.
	Now func() time.Time
	// Rand supplies content keys, KIDs, payloads and device keys where the
	// backend takes randomness; nil = crypto/rand.
	Rand io.Reader
}

// ErrUsage marks a run refused for its options (bad URL, PKI, profile or
// family).
var ErrUsage = errors.New("conformance: invalid options")

func usage(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// reportURL is the server URL as reports show it: without a password or a
// query, which may carry credentials or a cfg with content keys.
func reportURL(s string) string {
	u, err := url.Parse(s) // checked by Options.check
	if err != nil {
		return ""
	}
	u.User = nil
	q := u.RawQuery != ""
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	if q {
		return u.String() + "?…"
	}
	return u.String()
}

// check validates o and fills defaults.
func (o *Options) check() error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usage("--url must be an absolute http or https URL")
	}
	if o.PKIDir == "" {
		return usage("a PKI directory is required")
	}
	switch o.Profile {
	case "":
		o.Profile = ProfileCfg
	case ProfileCfg, ProfileNone:
	case ProfileEntitlement:
		if o.CommKeyID == "" || len(o.CommKey) == 0 {
			return usage("profile entitlement needs the server's communication key (--comm-key ID=B64)")
		}
	default:
		return usage("unknown profile %q (want cfg, none or entitlement)", o.Profile)
	}
	for _, f := range o.Only {
		if !slices.Contains(Families(), f) {
			return usage("unknown family %q (want %s)", f, strings.Join(Families(), ", "))
		}
	}
	if o.TPM == "" {
		o.TPM = "soft"
	}
	if o.HTTP == nil {
		// A fresh connection per request: a server's idle timeout may close a
		// kept-alive connection just as the runner posts on it, and a POST is
		// not retried, so connection reuse would turn the server's (correct)
		// timeouts into spurious scenario errors. R4 tests keep-alive itself
		// on its own connection.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DisableKeepAlives = true
		o.HTTP = &http.Client{Timeout: 60 * time.Second, Transport: tr}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ConnWait <= 0 {
		o.ConnWait = defaultConnWait
	}
	if o.RevocationWait <= 0 {
		o.RevocationWait = defaultRevocationWait
	}
	if o.RevAllow != "" {
		if fi, err := os.Stat(o.RevAllow); err != nil || !fi.Mode().IsRegular() {
			return usage("--rev-allow: the allow file %s is not a readable file", filepath.Base(o.RevAllow))
		}
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return nil
}

// Run runs the selected scenarios in order and returns the report. An error
// means the run could not start (options, PKI, work directory); a scenario
// the runner cannot run is reported with status error instead.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	p, err := pki.Load(o.PKIDir)
	if err != nil {
		return nil, usage("cannot load the PKI: %v", err)
	}
	work := o.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "prsim-conformance-"); err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		defer os.RemoveAll(work)
	}
	e := newEnv(o, p, work)
	defer e.close()
	rep := &Report{URL: reportURL(o.URL), Profile: o.Profile, Backend: o.TPM, Started: o.Now().UTC(), exchangeDir: o.ExchangeDir}
	for _, s := range Scenarios() {
		if len(o.Only) > 0 && !slices.Contains(o.Only, s.Family) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.add(e.runOne(ctx, s))
	}
	rep.Duration = o.Now().Sub(rep.Started)
	return rep, nil
}
