package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/ree"
)

type playOptions struct {
	dev  string
	mpd  string
	out  string
	url  string
	save string
	json bool
}

type trackJSON struct {
	Type    string  `json:"type"`
	KID     *string `json:"kid"` // null for a clear track
	Samples int     `json:"samples"`
	Out     string  `json:"out"`
}

type playJSON struct {
	Tracks        []trackJSON `json:"tracks"`
	ExchangeFiles []string    `json:"exchange_files"` // null without --save-exchange
	Error         *string     `json:"error"`
	Detail        *string     `json:"detail"`
}

func newPlayCmd() *cobra.Command {
	o := &playOptions{}
	c := &cobra.Command{
		Use:   "play --dev DEV --mpd FILE --out DIR [--url URL] [--save-exchange DIR] --json",
		Short: "Play a local DASH manifest: acquire licenses, decrypt every segment in the TEE, write clear fMP4",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLicenseURL(o.url); err != nil {
				return err
			}
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			x, err := saveExchanges(d, o.save)
			if err != nil {
				return err
			}
			tracks, perr := d.Client.Play(cmd.Context(), o.mpd, o.out, o.url)
			out := playJSON{Tracks: []trackJSON{}}
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
	f.BoolVar(&o.json, "json", false, "print JSON")
	for _, n := range []string{"dev", "mpd", "out"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}
