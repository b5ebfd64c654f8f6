package cli

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/internal/pki"
)

type pkiInitOptions struct {
	dir string
}

func (o *pkiInitOptions) addFlags(c *cobra.Command) {
	c.Flags().StringVar(&o.dir, "dir", "", "directory to create the test PKI in (required)")
	_ = c.MarkFlagRequired("dir")
}

func newPKICmd() *cobra.Command {
	c := &cobra.Command{Use: "pki", Short: "Manage prsim's own test PKI (never Microsoft keys)"}
	o := &pkiInitOptions{}
	init := &cobra.Command{
		Use:   "init --dir PKI",
		Short: "Create a test root, SL150/2000/3000 model certificates, a server certificate and a CRL signer",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := pki.Generate(rand.Reader, time.Now())
			if err != nil {
				return err
			}
			if err := p.Save(o.dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "test PKI written to %s\n", o.dir)
			return nil
		},
	}
	o.addFlags(init)
	c.AddCommand(init)
	return c
}
