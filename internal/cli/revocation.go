package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/ree"
)

func newRevocationCmd() *cobra.Command {
	c := &cobra.Command{Use: "revocation", Short: "Show the revocation data a device's TEE holds"}
	c.AddCommand(newRevocationStatusCmd())
	return c
}

type revocationStatusOptions struct {
	dev  string
	json bool
}

func newRevocationStatusCmd() *cobra.Command {
	o := &revocationStatusOptions{}
	c := &cobra.Command{
		Use:   "status --dev DEV --json",
		Short: "Show the RIV and the version of each revocation list the TEE holds",
		Long: "With `--json`: `{\"riv\": N, \"lists\": [{\"id\": \"<guid>\", \"name\": \"runtime|app|revinfo2|wmdrmnet\", " +
			"\"version\": N}]}`. The TEE keeps only lists whose signature verifies with a CRL signer of the device's PKI, " +
			"and never an older version than it holds; a version of 0 means none is held. License responses deliver newer " +
			"lists when the challenge advertises older ones. The command changes nothing.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			st := d.Client.RevocationStatus()
			if o.json {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "RIV %d\n", st.RIV)
			for _, l := range st.Lists {
				held := fmt.Sprintf("version %d", l.Version)
				if l.Version == 0 {
					held = "none held"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "  %-9s %s  %s\n", l.Name, l.ID, held)
			}
			return nil
		},
	}
	devFlags(c, &o.dev, &o.json)
	return c
}
