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
	json bool
}

type trackJSON struct {
	Type    string `json:"type"`
	KID     string `json:"kid"`
	Samples int    `json:"samples"`
	Out     string `json:"out"`
}

type playJSON struct {
	Tracks []trackJSON `json:"tracks"`
	Error  *string     `json:"error"`
}

func newPlayCmd() *cobra.Command {
	o := &playOptions{}
	c := &cobra.Command{
		Use:   "play --dev DEV --mpd FILE --out DIR [--url URL] --json",
		Short: "Play a local DASH manifest: acquire licenses, decrypt every segment in the TEE, write clear fMP4",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			tracks, perr := d.Client.Play(cmd.Context(), o.mpd, o.out, o.url)
			out := playJSON{Tracks: []trackJSON{}, Error: errString(perr)}
			for _, t := range tracks {
				id := ""
				if !t.KID.IsZero() {
					id = t.KID.String()
				}
				out.Tracks = append(out.Tracks, trackJSON{Type: t.Type, KID: id, Samples: t.Samples, Out: t.Out})
			}
			return emit(cmd, o.json, out, perr, func(w io.Writer) {
				for _, t := range out.Tracks {
					fmt.Fprintf(w, "%s kid=%s samples=%d -> %s\n", t.Type, t.KID, t.Samples, t.Out)
				}
			})
		},
	}
	f := c.Flags()
	f.StringVar(&o.dev, "dev", "", "device directory (required)")
	f.StringVar(&o.mpd, "mpd", "", "local DASH manifest (required)")
	f.StringVar(&o.out, "out", "", "output directory (required)")
	f.StringVar(&o.url, "url", "", "license URL replacing the header's LA_URL")
	f.BoolVar(&o.json, "json", false, "print JSON")
	for _, n := range []string{"dev", "mpd", "out"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}
