package cli

import (
	"github.com/spf13/cobra"

	"github.com/prsim/prsim/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var o demo.Options
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole chain on this machine: PKI, license server, TPM-backed SL3000 device, cenc and cbcs playback",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			return demo.Run(cmd.Context(), o)
		},
	}
	c.Flags().StringVar(&o.TPM, "tpm", "sim", "device key backend (sim, swtpm:HOST:PORT, /dev/tpmrm0 or soft)")
	c.Flags().StringVar(&o.KeepDir, "keep", "", "keep the PKI, device, content and output in this directory instead of a temporary one")
	return c
}
