package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/internal/pki"
)

type pkiInitOptions struct {
	dir   string
	force bool
	json  bool
}

func (o *pkiInitOptions) addFlags(c *cobra.Command) {
	c.Flags().StringVar(&o.dir, "dir", "", "directory to create the test PKI in (required)")
	c.Flags().BoolVar(&o.force, "force", false, "replace an existing PKI in --dir (devices and servers made with the old one stop working)")
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	_ = c.MarkFlagRequired("dir")
}

type pkiInitJSON struct {
	Dir      string   `json:"dir"`
	RootKey  string   `json:"root_key"`     // the trust anchor (root.pub), hex X‖Y
	Models   []uint32 `json:"model_levels"` // security levels with a model issuer
	Replaced bool     `json:"replaced"`     // an existing PKI was overwritten (--force)
}

func newPKICmd() *cobra.Command {
	c := &cobra.Command{Use: "pki", Short: "Manage prsim's own test PKI (never Microsoft keys)"}
	o := &pkiInitOptions{}
	init := &cobra.Command{
		Use:   "init --dir PKI [--force]",
		Short: "Create a test root, SL150/2000/3000 model certificates, a server certificate and a CRL signer",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exists, err := pki.Exists(o.dir)
			if err != nil {
				return err
			}
			if exists && !o.force {
				return withHint(usagef("directory %s already holds a test PKI", o.dir),
					"pass --force to replace it (devices provisioned with it will no longer be trusted)")
			}
			p, err := pki.Generate(rand.Reader, time.Now())
			if err != nil {
				return err
			}
			if err := p.Save(o.dir); err != nil {
				return err
			}
			out := pkiInitJSON{Dir: o.dir, RootKey: hex.EncodeToString(p.Root[:]), Models: []uint32{}, Replaced: exists}
			for _, sl := range []uint32{150, 2000, 3000} {
				if _, ok := p.Models[sl]; ok {
					out.Models = append(out.Models, sl)
				}
			}
			return emit(cmd, o.json, out, nil, func(w io.Writer) {
				fmt.Fprintf(w, "test PKI written to %s\n", o.dir)
			})
		},
	}
	o.addFlags(init)
	c.AddCommand(init)
	return c
}
