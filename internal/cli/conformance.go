package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/conformance"
)

// ExitNonConformant is the exit code of "prsim conformance run" when a must
// scenario failed or could not run.
const ExitNonConformant = 3

// exitCoder is an error that chooses its own exit code.
type exitCoder interface{ ExitCode() int }

// nonConformant reports a run in which a must scenario failed.
type nonConformant struct{ n int }

func (e nonConformant) Error() string {
	return fmt.Sprintf("conformance: %d must scenario(s) failed or could not run", e.n)
}

func (nonConformant) ExitCode() int { return ExitNonConformant }

func newConformanceCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "conformance",
		Short: "Check a license server against the rules a PlayReady client relies on",
	}
	c.AddCommand(newConformanceRunCmd(), newConformanceListCmd())
	return c
}

type conformanceRunOptions struct {
	url          string
	pki          string
	profile      string
	serverCert   string
	only         []string
	junit        string
	html         string
	saveExchange string
	json         bool
	tpm          string
	commKey      string // ID=B64; a secret: never printed
	revWait      time.Duration
	revAllow     string
}

func (o *conformanceRunOptions) addFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.url, "url", "", "license acquisition URL of the server under test, e.g. http://127.0.0.1:8080/rightsmanager.asmx (required)")
	f.StringVar(&o.pki, "pki", "", "test PKI directory the server trusts; the runner provisions its devices from it (required)")
	f.StringVar(&o.profile, "profile", conformance.ProfileCfg, "cfg: ask for policies with the test-server cfg= query; entitlement: with signed entitlement messages (needs --comm-key); none: plain requests, policy scenarios skipped")
	f.StringVar(&o.commKey, "comm-key", "", "communication key the server shares, ID=B64 (profile entitlement): the runner signs its entitlement messages with it")
	f.StringVar(&o.serverCert, "server-cert", "", "the server's BCert chain file, for servers that do not publish it at GET /prsim/server-cert")
	f.StringSliceVar(&o.only, "only", nil, "run only these families: "+strings.Join(conformance.Families(), ","))
	f.StringVar(&o.junit, "junit", "", "also write a JUnit XML report to this file")
	f.StringVar(&o.html, "html", "", "also write a self-contained HTML report to this file")
	f.StringVar(&o.saveExchange, "save-exchange", "", "save every challenge, response and fault under this directory, one subdirectory per scenario")
	f.BoolVar(&o.json, "json", false, `print the report as one JSON object {"summary":…,"results":[…]}`)
	f.StringVar(&o.tpm, "tpm", "soft", "key backend of the runner's devices: soft, sim, swtpm:DIR, swtpm:HOST:PORT or /dev/tpmrm0")
	f.DurationVar(&o.revWait, "revocation-wait", 15*time.Second, "how long the revocation scenarios wait for the server to reload its lists and allow file "+
		"after the runner revoked a throwaway device or model in --pki (real time; the server must reload within it: prsim server --revocation-reload)")
	f.StringVar(&o.revAllow, "rev-allow", "", "the server's RevAllowInfo allow file (prsim server --rev-allow): RV3 adds a throwaway revoked model's digest to it; without it RV3 is skipped")
	_ = c.MarkFlagRequired("url")
	_ = c.MarkFlagRequired("pki")
}

func newConformanceRunCmd() *cobra.Command {
	o := &conformanceRunOptions{}
	c := &cobra.Command{
		Use:   "run --url URL --pki PKI [--profile cfg|none|entitlement] [--comm-key ID=B64] [--server-cert FILE] [--only FAMILY[,FAMILY]] [--junit FILE] [--html FILE] [--save-exchange DIR] [--json] [--tpm BACKEND] [--revocation-wait DURATION] [--rev-allow FILE]",
		Short: "Run the conformance scenarios against a license server (exit 0: no must scenario failed, 3: one did)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	o.addFlags(c)
	return c
}

func (o *conformanceRunOptions) run(cmd *cobra.Command) error {
	var only []string
	for _, f := range o.only {
		only = append(only, strings.TrimSpace(f))
	}
	opts := conformance.Options{URL: o.url, PKIDir: o.pki, Profile: o.profile, Only: only, TPM: o.tpm,
		RevocationWait: o.revWait, RevAllow: o.revAllow}
	if o.commKey != "" {
		id, key, err := parseCommKeyFlag(o.commKey)
		if err != nil {
			return err
		}
		defer clear(key)
		opts.CommKeyID, opts.CommKey = id, key
	}
	if o.serverCert != "" {
		// A certificate chain: a few kB (the client takes at most 64 KiB).
		b, err := readFileLimited(o.serverCert, 64<<10)
		if err != nil {
			return usageError{fmt.Errorf("--server-cert: %w", err)}
		}
		opts.ServerCert = b
	}
	if o.saveExchange != "" {
		abs, err := filepath.Abs(o.saveExchange)
		if err != nil {
			return usageError{err}
		}
		opts.ExchangeDir = abs
	}
	// Report directories are made before the run, so that a bad path fails
	// at once and not after every scenario ran.
	for _, f := range []string{o.junit, o.html} {
		if f == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return usageError{fmt.Errorf("report directory: %w", err)}
		}
	}
	rep, err := conformance.Run(cmd.Context(), opts)
	if errors.Is(err, conformance.ErrUsage) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	if o.junit != "" {
		if err := writeReportFile(o.junit, rep.WriteJUnit); err != nil {
			return err
		}
	}
	if o.html != "" {
		abs, err := filepath.Abs(o.html)
		if err != nil {
			return err
		}
		if err := writeReportFile(abs, func(w io.Writer) error { return rep.WriteHTML(w, filepath.Dir(abs)) }); err != nil {
			return err
		}
	}
	if o.json {
		if err := rep.WriteJSON(cmd.OutOrStdout()); err != nil {
			return err
		}
	} else {
		printReport(cmd.OutOrStdout(), rep)
	}
	if rep.MustFailed() {
		n := 0
		for _, r := range rep.Results {
			if r.Level == conformance.Must && (r.Status == conformance.Fail || r.Status == conformance.Error) {
				n++
			}
		}
		// The report, JSON included, is already out: only the exit code
		// and the stderr line remain.
		return reportedError{nonConformant{n}}
	}
	return nil
}

func writeReportFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return usageError{err}
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func printReport(w io.Writer, rep *conformance.Report) {
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-7s %-3s %-6s %-9s %s\n", strings.ToUpper(string(r.Status)), r.ID, r.Level, r.Family, r.Title)
		if r.Status != conformance.Pass && r.Detail != "" {
			fmt.Fprintf(w, "        %s\n", r.Detail)
		}
	}
	s := rep.Summary
	fmt.Fprintf(w, "%d pass, %d fail, %d skipped, %d error in %s\n", s.Pass, s.Fail, s.Skipped, s.Error, rep.Duration.Round(1e6))
}

type conformanceListOptions struct{ json bool }

func newConformanceListCmd() *cobra.Command {
	o := &conformanceListOptions{}
	c := &cobra.Command{
		Use:   "list [--json]",
		Short: "List every conformance scenario: id, family, level, persona, rule, title",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ss := conformance.Scenarios()
			if o.json {
				return writeJSON(cmd.OutOrStdout(), struct {
					Scenarios []conformance.Scenario `json:"scenarios"`
				}{ss})
			}
			for _, s := range ss {
				fmt.Fprintf(cmd.OutOrStdout(), "%-3s %-9s %-6s %-14s %s\n    rule: %s\n", s.ID, s.Family, s.Level, s.Persona, s.Title, s.Rule)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	return c
}
