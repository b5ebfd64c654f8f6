package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/entitlement"
	"github.com/prsim/prsim/wire/revocation"
)

type serverOptions struct {
	pki       string
	data      string
	listen    string
	readyFile string
	defects   []string
	logLevel  string
	logFormat string
	limits    licsrv.Limits
	commKeys  []string // ID=B64; secrets, never printed
	clockSkew time.Duration
	lst       bool
	streams   int // --max-streams-per-account
	revAllow  string
	revReload time.Duration
}

func (o *serverOptions) addFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.pki, "pki", "", "test PKI directory (required)")
	f.StringVar(&o.data, "data", "", "server data directory (required)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:0", "listen address; port 0 picks a free port")
	f.StringVar(&o.readyFile, "ready-file", "", "once listening, write the base URL (e.g. http://127.0.0.1:41234) to this file")
	f.StringArrayVar(&o.defects, "defect", nil, "inject a known bug, for testing clients and conformance suites (repeatable): "+defectList())
	f.StringVar(&o.logLevel, "log-level", "info", "request log level on stderr: debug, info, warn (faults) or error (internal errors)")
	f.StringVar(&o.logFormat, "log-format", "text", "request log format on stderr: text or json")
	f.StringArrayVar(&o.commKeys, "comm-key", nil, "communication key for entitlement messages (X-AxDRM-Message JWTs, HS256) as ID=BASE64, "+
		"the ID being the messages' com_key_id (repeatable; a secret: never printed)")
	f.DurationVar(&o.clockSkew, "clock-skew", time.Hour, "largest accepted gap between a challenge's ClientTime and the server's time "+
		"(larger: fault DRM_E_CLIENTTIMEINVALID)")
	f.BoolVar(&o.lst, "license-server-time", false, "sign the server's time into every license response and serve it at GET "+
		licsrv.TimePath+" (License Server Time; needs a PKI with a time-server key)")
	f.IntVar(&o.streams, "max-streams-per-account", 0, "most open streams per account (CustomData, or an entitlement's sub): secure-stop "+
		"licenses not yet reported, for at most "+licsrv.StreamLifetime.String()+" (more: fault DRM_E_SERVER_DEVICE_LIMIT_REACHED); 0 = no limit")
	f.StringVar(&o.revAllow, "rev-allow", "", "RevAllowInfo XML file (RevAllowInfo/AllowList/CertificateHash, base64 SHA-256 digests): "+
		"revoked device, model or company certificates to serve anyway (an allowed certificate also excuses the certificates it issued)")
	f.DurationVar(&o.revReload, "revocation-reload", licsrv.DefaultRevocationReload, "how often the PKI's revocation lists and the "+
		"--rev-allow file are read again (at most "+weekText+", as the compliance rules ask); a list or file that fails to load, "+
		"parse or verify keeps the previous one and is logged")
	l := &o.limits
	f.Int64Var(&l.MaxBody, "max-body", licsrv.DefaultMaxBody, "largest request body in bytes (larger: fault DRM_E_SERVER_INVALID_MESSAGE)")
	f.IntVar(&l.MaxLicenses, "max-licenses", licsrv.DefaultMaxLicenses, "most licenses in one response, counted before any is built (more: fault DRM_E_SERVER_MAXIMUM_LICENSEID_EXCEEDED)")
	f.IntVar(&l.MaxCfgGroups, "max-cfg-groups", licsrv.DefaultMaxCfgGroups, "most cfg bracket groups in one request (more: fault DRM_E_SERVER_MAXIMUM_LICENSEID_EXCEEDED)")
	f.IntVar(&l.MaxCfgBytes, "max-cfg-bytes", licsrv.DefaultMaxCfgBytes, fmt.Sprintf("longest cfg value in bytes, at most %d (longer: fault DRM_E_SERVER_INVALID_MESSAGE)", licsrv.DefaultMaxCfgBytes))
	f.IntVar(&l.MaxHeaderKIDs, "max-header-kids", licsrv.DefaultMaxHeaderKIDs, "most KIDs in the content header (more: fault DRM_E_SERVER_MAXIMUM_LICENSEID_EXCEEDED)")
	f.Int64Var(&l.MaxIssuedBytes, "max-issued-bytes", licsrv.DefaultMaxIssuedBytes, "size past which DATA/issued.jsonl is renamed to issued.jsonl.1 (one old generation kept)")
	f.IntVar(&l.MaxConns, "max-conns", licsrv.DefaultMaxConns, "most open connections; at the cap the longest-idle keep-alive connection is closed, else new clients wait")
	f.DurationVar(&l.ReadHeaderTimeout, "read-header-timeout", licsrv.DefaultReadHeaderTimeout, "time allowed to read a request header")
	f.DurationVar(&l.ReadTimeout, "read-timeout", licsrv.DefaultReadTimeout, "time allowed to read a whole request, body included")
	f.DurationVar(&l.WriteTimeout, "write-timeout", licsrv.DefaultWriteTimeout, "time allowed to handle a request and write the answer")
	f.DurationVar(&l.IdleTimeout, "idle-timeout", licsrv.DefaultIdleTimeout, "time a keep-alive connection may wait for its next request")
	_ = c.MarkFlagRequired("pki")
	_ = c.MarkFlagRequired("data")
}

// weekText renders licsrv.MaxRevocationReload for help and errors.
const weekText = "168h (a week)"

// revocationSource reads the PKI's signed revocation lists (prsim pki
// revoke updates them) each time the server reloads.
func (o *serverOptions) revocationSource() licsrv.RevocationSource {
	dir := o.pki
	return func() (*licsrv.RevocationLists, error) {
		l, err := pki.Lists(dir)
		if err != nil {
			return nil, err
		}
		rl := &licsrv.RevocationLists{RevInfo: l.RevInfoBlob}
		for _, b := range [][]byte{l.RuntimeBlob, l.AppBlob} {
			if len(b) > 0 {
				rl.CRLs = append(rl.CRLs, b)
			}
		}
		return rl, nil
	}
}

func defectList() string {
	var names []string
	for _, d := range licsrv.Defects() {
		names = append(names, string(d))
	}
	return strings.Join(names, ", ")
}

// logger builds the request logger the flags ask for.
func (o *serverOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(o.logLevel) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, usagef("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(o.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", o.logFormat)
}

// parseDefects checks the --defect names.
func (o *serverOptions) parseDefects() ([]licsrv.Defect, error) {
	var out []licsrv.Defect
	for _, s := range o.defects {
		d, err := licsrv.ParseDefect(s)
		if err != nil {
			return nil, usagef("--defect %q is not a known defect; valid: %s", s, defectList())
		}
		out = append(out, d)
	}
	return out, nil
}

func newServerCmd() *cobra.Command {
	o := &serverOptions{}
	c := &cobra.Command{
		Use:   "server --pki PKI --data DIR --listen 127.0.0.1:PORT [--ready-file FILE] [--defect NAME]... [--comm-key ID=B64]... [--max-streams-per-account N] [--rev-allow FILE] [--revocation-reload DURATION]",
		Short: "Run the reference license server (POST /rightsmanager.asmx, GET /prsim/server-cert)",
		Long: "Run the reference license server. It logs one line per request to stderr (method, path, action, outcome " +
			"ok|fault|notfound, HTTP status, DRM code, reason, duration, device certificate digest, licenses issued); the " +
			"query string and key material are never logged. The --max-* and --*-timeout limits bound what one request or " +
			"client can make it do: a request over a bound gets a SOAP fault naming the bound, its value and the flag; slow " +
			"and idle connections are closed. It serves the PKI's signed revocation lists (prsim pki revoke, prsim pki crl), " +
			"reloading them and the --rev-allow file every --revocation-reload: a device chain with a certificate on the runtime " +
			"CRL gets the fault DRM_E_DEVCERT_REVOKED unless the allow list names it, a challenge advertising older lists gets " +
			"the newer ones, and licenses carry the current RIV. --defect makes it misbehave on purpose, so a client or a " +
			"conformance suite can be seen to catch the bug:\n\n" + defectHelp(),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd)
		},
	}
	o.addFlags(c)
	return c
}

func defectHelp() string {
	var b strings.Builder
	for _, d := range licsrv.Defects() {
		fmt.Fprintf(&b, "  %-26s %s\n", d, d.Description())
	}
	return b.String()
}

// checkLimits refuses a limit flag that is not positive (the library would
// read 0 as its default, which the flag already shows).
func (o *serverOptions) checkLimits() error {
	l := o.limits
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"max-body", l.MaxBody}, {"max-licenses", int64(l.MaxLicenses)}, {"max-cfg-groups", int64(l.MaxCfgGroups)},
		{"max-cfg-bytes", int64(l.MaxCfgBytes)}, {"max-header-kids", int64(l.MaxHeaderKIDs)},
		{"max-issued-bytes", l.MaxIssuedBytes}, {"max-conns", int64(l.MaxConns)},
		{"read-header-timeout", int64(l.ReadHeaderTimeout)}, {"read-timeout", int64(l.ReadTimeout)},
		{"write-timeout", int64(l.WriteTimeout)}, {"idle-timeout", int64(l.IdleTimeout)},
	} {
		if f.v <= 0 {
			return usagef("--%s must be positive", f.name)
		}
	}
	if l.MaxCfgBytes > licsrv.DefaultMaxCfgBytes {
		return usagef("--max-cfg-bytes %d: at most %d", l.MaxCfgBytes, licsrv.DefaultMaxCfgBytes)
	}
	return nil
}

// parseCommKeys reads the --comm-key values; errors name the ID, never the key.
func (o *serverOptions) parseCommKeys() (map[string][]byte, error) {
	keys := map[string][]byte{}
	for _, s := range o.commKeys {
		id, k, err := parseCommKeyFlag(s)
		if err != nil {
			return nil, err
		}
		if _, dup := keys[id]; dup {
			return nil, usagef("--comm-key: ID %q is given more than once", id)
		}
		keys[id] = k
	}
	return keys, nil
}

// parseCommKeyFlag reads one --comm-key ID=B64 as the server and the
// conformance runner share it; a bad one is a usage error naming the ID,
// never the key.
func parseCommKeyFlag(s string) (string, []byte, error) {
	id, k, err := entitlement.ParseCommKey(s)
	if err != nil {
		return "", nil, usagef("--comm-key: %s", strings.TrimPrefix(err.Error(), "entitlement: "))
	}
	return id, k, nil
}

// newLicenseServer builds the reference server from a PKI directory.
func (o *serverOptions) newLicenseServer(p *pki.PKI, log *slog.Logger, defects []licsrv.Defect, commKeys map[string][]byte) (*licsrv.Server, error) {
	cfg := licsrv.Config{
		CommKeys: commKeys,
		Chain:    p.Server.Chain,
		SignKey:  p.Server.SignKey,
		EncKey:   p.Server.EncKey,
		Roots:    []ecc.Point{p.Root},
		DataDir:  o.data,
		Log:      log,
		Defects:  defects,
		Limits:   o.limits,

		ClientTimeSkew:       o.clockSkew,
		MaxStreamsPerAccount: o.streams,

		Revocation:       o.revocationSource(),
		RevAllowFile:     o.revAllow,
		RevocationReload: o.revReload,
	}
	if o.lst {
		if p.TimeServer == nil {
			return nil, usagef("--license-server-time: the PKI in %s has no time-server key (it was made before License Server Time existed); "+
				"make a new one with prsim pki init --force (devices provisioned with the old one will no longer be trusted)", o.pki)
		}
		cfg.LicenseServerTime, cfg.TimeChain, cfg.TimeKey = true, p.TimeServer.Chain, p.TimeServer.Key
	}
	return licsrv.New(cfg)
}

func (o *serverOptions) run(ctx context.Context, cmd *cobra.Command) error {
	log, err := o.logger(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defects, err := o.parseDefects()
	if err != nil {
		return err
	}
	if err := o.checkLimits(); err != nil {
		return err
	}
	if o.streams < 0 {
		return usagef("--max-streams-per-account %d: want 0 (no limit) or more", o.streams)
	}
	if o.revReload <= 0 || o.revReload > licsrv.MaxRevocationReload {
		return usagef("--revocation-reload %s: want a positive duration of at most %s", o.revReload, weekText)
	}
	if o.clockSkew <= 0 {
		return usagef("--clock-skew %s: want a positive duration", o.clockSkew)
	}
	commKeys, err := o.parseCommKeys()
	if err != nil {
		return err
	}
	p, err := pki.Load(o.pki)
	if err != nil {
		return err
	}
	srv, err := o.newLicenseServer(p, log, defects, commKeys)
	if err != nil {
		return err
	}
	defer func() { _ = srv.Close() }() // closes the state database on every path
	if len(defects) > 0 {
		log.Warn("defects injected: this server misbehaves on purpose", "defects", defects)
	}
	logRevocation(log, srv.RevocationStatus())
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return usagef("cannot listen on %s: %v", o.listen, err)
	}
	url := "http://" + ln.Addr().String()
	if o.readyFile != "" {
		if err := os.WriteFile(o.readyFile+".tmp", []byte(url), 0o644); err != nil {
			return err
		}
		if err := os.Rename(o.readyFile+".tmp", o.readyFile); err != nil {
			return err
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "prsim license server listening on %s (POST %s/rightsmanager.asmx)\n", url, url)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// logRevocation says which revocation lists the server starts with.
func logRevocation(log *slog.Logger, st licsrv.RevocationStatus) {
	var lists []string
	for _, l := range st.Lists {
		name := revocation.ListName(l.ID)
		if name == "" {
			name = l.ID.String()
		}
		lists = append(lists, fmt.Sprintf("%s=%d", name, l.Version))
	}
	log.Info("revocation lists loaded", "riv", st.RIV, "lists", strings.Join(lists, " "), "allowed", st.Allowed)
}
