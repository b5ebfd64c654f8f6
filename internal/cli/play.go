package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
)

type playOptions struct {
	dev       string
	mpd       string
	out       string
	url       string
	save      string
	outputs   string
	strategy  string
	stopAfter time.Duration
	json      bool
}

type trackJSON struct {
	Type    string  `json:"type"`
	KID     *string `json:"kid"` // null for a clear track
	Samples int     `json:"samples"`
	Out     string  `json:"out"`
	// SecureStopSession is the session the track's key opened; null when
	// its license has no secure stop.
	SecureStopSession *string `json:"secure_stop_session"`
	// Stopped: playback stopped at --stop-after before the track's end.
	Stopped bool `json:"stopped"`
}

type playJSON struct {
	Tracks []trackJSON `json:"tracks"`
	// Outputs: one entry per output of the platform, the worst decision
	// of the tracks' licenses (ree.CombineOutputs).
	Outputs       []policy.OutputDecision `json:"outputs"`
	ExchangeFiles []string                `json:"exchange_files"` // null without --save-exchange
	// SecureStopSession is the secure-stop session of the play (the first
	// track's that has one), null when no license opened one.
	SecureStopSession *string `json:"secure_stop_session"`
	// SecureStop is what sending the play's stops did; null when the play
	// opened no session. A failed send leaves them pending (SecureStopError).
	SecureStop      *ree.SendResult `json:"secure_stop"`
	SecureStopError *string         `json:"secure_stop_error"`
	Error           *string         `json:"error"`
	Detail          *string         `json:"detail"`
}

func newPlayCmd() *cobra.Command {
	o := &playOptions{}
	c := &cobra.Command{
		Use:   "play --dev DEV --mpd FILE --out DIR [--url URL] [--save-exchange DIR] [--outputs SPEC] [--strategy block|refuse] [--stop-after DURATION] --json",
		Short: "Play a local DASH manifest: acquire licenses, decrypt every segment in the TEE, write clear fMP4",
		Long: "A non-persistent license with secure stop opens a session in the TEE when its decryptor is released; when " +
			"playback ends (end of media, `--stop-after`, an error or a signal) the keys are closed, which records the stop " +
			"and wipes the key in one step, and the stopped sessions are sent to the license URL (`securestop send` " +
			"resends what a failure left pending; the play itself does not fail for it). `--stop-after` stops as a user " +
			"pressing stop at that media time: in each track the first fragment starting at or after it is not decrypted.\n\n" +
			"With `--json`: `{\"tracks\": [{\"type\", \"kid\", \"samples\", \"out\", \"secure_stop_session\": UUID|null, " +
			"\"stopped\": bool}], \"outputs\": […], \"exchange_files\", \"secure_stop_session\": UUID|null, " +
			"\"secure_stop\": {\"sent\", \"acknowledged\", \"pending\"}|null, \"secure_stop_error\", \"error\", \"detail\"}`.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.stopAfter < 0 {
				return usagef("--stop-after must not be negative")
			}
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
			out := playJSON{Tracks: []trackJSON{}}
			report := func(res ree.SendResult, err error) {
				out.SecureStop, out.SecureStopError = &res, errString(err)
				if det := errDetail(err); det != nil {
					out.SecureStopError = ptr(*out.SecureStopError + ": " + *det)
				}
			}
			tracks, perr := d.Client.Play(cmd.Context(), o.mpd, o.out, o.url, ree.WithStrategy(strategy),
				ree.WithStopAfter(o.stopAfter), ree.WithSecureStopReport(report))
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
				tj := trackJSON{Type: t.Type, Samples: t.Samples, Out: t.Out, Stopped: t.Stopped}
				if !t.KID.IsZero() {
					tj.KID = ptr(t.KID.String())
				}
				if t.SecureStopSession != nil {
					tj.SecureStopSession = ptr(sessionUUID(*t.SecureStopSession))
					if out.SecureStopSession == nil {
						out.SecureStopSession = tj.SecureStopSession
					}
				}
				out.Tracks = append(out.Tracks, tj)
			}
			return emit(cmd, o.json, out, perr, func(w io.Writer) {
				for _, t := range out.Tracks {
					id := "none (clear)"
					if t.KID != nil {
						id = *t.KID
					}
					fmt.Fprintf(w, "%s kid=%s samples=%d -> %s", t.Type, id, t.Samples, t.Out)
					if t.Stopped {
						fmt.Fprint(w, " (stopped)")
					}
					if t.SecureStopSession != nil {
						fmt.Fprintf(w, " secure-stop session %s", *t.SecureStopSession)
					}
					fmt.Fprintln(w)
				}
				if s := out.SecureStop; s != nil {
					fmt.Fprintf(w, "secure stops: sent %d, acknowledged %d, pending %d\n", s.Sent, s.Acknowledged, s.Pending)
				}
				if out.SecureStopError != nil {
					fmt.Fprintf(w, "secure stops not sent (pending; prsim securestop send resends them): %s\n", *out.SecureStopError)
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
	f.DurationVar(&o.stopAfter, "stop-after", 0, "stop playback at this media time (e.g. 1s), as a user pressing stop; 0 plays to the end")
	f.BoolVar(&o.json, "json", false, "print JSON")
	for _, n := range []string{"dev", "mpd", "out"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}
