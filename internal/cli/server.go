package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
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
}

func (o *serverOptions) addFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.pki, "pki", "", "test PKI directory (required)")
	f.StringVar(&o.data, "data", "", "server data directory (required)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:0", "listen address; port 0 picks a free port")
	f.StringVar(&o.readyFile, "ready-file", "", "once listening, write the base URL (e.g. http://127.0.0.1:41234) to this file")
	_ = c.MarkFlagRequired("pki")
	_ = c.MarkFlagRequired("data")
}

func newServerCmd() *cobra.Command {
	o := &serverOptions{}
	c := &cobra.Command{
		Use:   "server --pki PKI --data DIR --listen 127.0.0.1:PORT [--ready-file FILE]",
		Short: "Run the reference license server (POST /rightsmanager.asmx, GET /prsim/server-cert)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd)
		},
	}
	o.addFlags(c)
	return c
}

// NewLicenseServer builds the reference server from a PKI directory.
func newLicenseServer(p *pki.PKI, data string, log *slog.Logger) (*licsrv.Server, error) {
	return licsrv.New(licsrv.Config{
		Chain:   p.Server.Chain,
		SignKey: p.Server.SignKey,
		EncKey:  p.Server.EncKey,
		Roots:   []ecc.Point{p.Root},
		DataDir: data,
		Log:     log,
	})
}

func (o *serverOptions) run(ctx context.Context, cmd *cobra.Command) error {
	p, err := pki.Load(o.pki)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	srv, err := newLicenseServer(p, o.data, log)
	if err != nil {
		return err
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
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
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
