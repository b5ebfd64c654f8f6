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
)

type serverOptions struct {
	pki       string
	data      string
	listen    string
	readyFile string
	defects   []string
	logLevel  string
	logFormat string
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
	_ = c.MarkFlagRequired("pki")
	_ = c.MarkFlagRequired("data")
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
		Use:   "server --pki PKI --data DIR --listen 127.0.0.1:PORT [--ready-file FILE] [--defect NAME]...",
		Short: "Run the reference license server (POST /rightsmanager.asmx, GET /prsim/server-cert)",
		Long: "Run the reference license server. It logs one line per request to stderr (method, path, action, outcome " +
			"ok|fault|notfound, HTTP status, DRM code, reason, duration, device certificate digest, licenses issued); the " +
			"query string and key material are never logged. --defect makes it misbehave on purpose, so a client or a " +
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

// newLicenseServer builds the reference server from a PKI directory.
func newLicenseServer(p *pki.PKI, data string, log *slog.Logger, defects []licsrv.Defect) (*licsrv.Server, error) {
	return licsrv.New(licsrv.Config{
		Chain:   p.Server.Chain,
		SignKey: p.Server.SignKey,
		EncKey:  p.Server.EncKey,
		Roots:   []ecc.Point{p.Root},
		DataDir: data,
		Log:     log,
		Defects: defects,
	})
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
	p, err := pki.Load(o.pki)
	if err != nil {
		return err
	}
	srv, err := newLicenseServer(p, o.data, log, defects)
	if err != nil {
		return err
	}
	if len(defects) > 0 {
		log.Warn("defects injected: this server misbehaves on purpose", "defects", defects)
	}
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
	// ReadTimeout bounds a slow client, including one whose oversized
	// body the server drains before replying.
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
