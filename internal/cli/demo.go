package cli

import (
	"bytes"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/internal/demo"
)

type demoOptions struct {
	demo.Options
	json bool
}

type demoJSON struct {
	OK     bool     `json:"ok"`
	Dir    *string  `json:"dir"` // --keep; null when the run used a temporary directory
	Log    []string `json:"log"` // the narration, one line per element
	Error  *string  `json:"error"`
	Detail *string  `json:"detail"`
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole chain on this machine: PKI, license server, TPM-backed SL3000 device, cenc and cbcs playback",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !o.json {
				o.Out = cmd.OutOrStdout()
				return demo.Run(cmd.Context(), o.Options)
			}
			// With --json the narration goes into the one JSON object.
			var buf bytes.Buffer
			o.Out = &buf
			err := demo.Run(cmd.Context(), o.Options)
			out := demoJSON{OK: err == nil, Log: []string{}, Error: errString(err), Detail: errDetail(err)}
			if o.KeepDir != "" {
				out.Dir = ptr(o.KeepDir)
			}
			for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
				if l != "" {
					out.Log = append(out.Log, l)
				}
			}
			return emit(cmd, true, out, err, func(io.Writer) {})
		},
	}
	c.Flags().StringVar(&o.TPM, "tpm", "sim", "device key backend (sim, swtpm:DIR, swtpm:HOST:PORT, /dev/tpmrm0 or soft)")
	c.Flags().StringVar(&o.KeepDir, "keep", "", "keep the PKI, device, content and output in this directory instead of a temporary one")
	c.Flags().BoolVar(&o.json, "json", false, "print one JSON object (the narration in \"log\") instead of text")
	return c
}
