package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
)

type playOptions struct {
	dev      string
	mpd      string
	out      string
	url      string
	save     string
	outputs  string
	strategy string
	json     bool
}

type trackJSON struct {
	Type    string  `json:"type"`
	KID     *string `json:"kid"` // null for a clear track
	Samples int     `json:"samples"`
	Out     string  `json:"out"`
}

type playJSON struct {
	Tracks []trackJSON `json:"tracks"`
	// Outputs: one entry per output of the platform, the worst decision
	// of the tracks' licenses (ree.CombineOutputs).
	Outputs       []policy.OutputDecision `json:"outputs"`
	ExchangeFiles []string                `json:"exchange_files"` // null without --save-exchange
	Error         *string                 `json:"error"`
	Detail        *string                 `json:"detail"`
}

func newPlayCmd() *cobra.Command {
	o := &playOptions{}
	c := &cobra.Command{
		Use:   "play --dev DEV --mpd FILE --out DIR [--url URL] [--save-exchange DIR] [--outputs SPEC] [--strategy block|refuse] --json",
		Short: "Play a local DASH manifest: acquire licenses, decrypt every segment in the TEE, write clear fMP4",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLicenseURL(o.url); err != nil {
				return err
			}
			strategy, err := policy.ParseStrategy(o.strategy)
			if err != nil {
				return usagef("--strategy must be block or refuse")
			}
			var oo ree.OpenOptions
			if o.outputs != "" {
				p, err := parseOutputs(o.outputs)
				if err != nil {
					return err
				}
				oo.Platform = &p
			}
			d, err := ree.OpenDeviceWith(o.dev, oo)
			if err != nil {
				return err
			}
			defer d.Close()
			x, err := saveExchanges(d, o.save)
			if err != nil {
				return err
			}
			tracks, perr := d.Client.Play(cmd.Context(), o.mpd, o.out, o.url, ree.WithStrategy(strategy))
			out := playJSON{Tracks: []trackJSON{}}
			decided := tracks
			if de := (*ree.DecisionError)(nil); errors.As(perr, &de) {
				decided = append(slices.Clone(tracks), ree.Track{Type: de.Type, Decision: &de.Decision})
			}
			out.Outputs = ree.CombineOutputs(d.TEE.Platform(), decided)
			if perr != nil && !slices.ContainsFunc(decided, func(t ree.Track) bool { return t.Decision != nil }) {
				out.Outputs = []policy.OutputDecision{} // failed before any decision: nothing to report
			}
			out.ExchangeFiles, perr = exchangeFiles(x, perr)
			out.Error, out.Detail = errString(perr), errDetail(perr)
			for _, t := range tracks {
				tj := trackJSON{Type: t.Type, Samples: t.Samples, Out: t.Out}
				if !t.KID.IsZero() {
					tj.KID = ptr(t.KID.String())
				}
				out.Tracks = append(out.Tracks, tj)
			}
			return emit(cmd, o.json, out, perr, func(w io.Writer) {
				for _, t := range out.Tracks {
					id := "none (clear)"
					if t.KID != nil {
						id = *t.KID
					}
					fmt.Fprintf(w, "%s kid=%s samples=%d -> %s\n", t.Type, id, t.Samples, t.Out)
				}
				for _, od := range out.Outputs {
					fmt.Fprintf(w, "output %s: %s", od.Output, od.Action)
					if len(od.Protections) > 0 {
						fmt.Fprintf(w, " [%s]", strings.Join(od.Protections, ", "))
					}
					fmt.Fprintf(w, " (%s)\n", od.Reason)
				}
				for _, f := range out.ExchangeFiles {
					fmt.Fprintf(w, "saved %s\n", f)
				}
			})
		},
	}
	f := c.Flags()
	f.StringVar(&o.dev, "dev", "", "device directory (required)")
	f.StringVar(&o.mpd, "mpd", "", "local DASH manifest (required)")
	f.StringVar(&o.out, "out", "", "output directory (required)")
	f.StringVar(&o.url, "url", "", "license URL replacing the header's LA_URL")
	f.StringVar(&o.save, "save-exchange", "", "write every challenge, response and fault to this directory as NNN-KIND.xml, numbered from 001 each run (prsim inspect reads them)")
	f.StringVar(&o.outputs, "outputs", "", "the platform's outputs for this play, replacing the device's default (same SPEC as device new --outputs)")
	f.StringVar(&o.strategy, "strategy", "block", "when the license's policy fails an output: block that output, or refuse playback")
	f.BoolVar(&o.json, "json", false, "print JSON")
	for _, n := range []string{"dev", "mpd", "out"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}
