package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/kid"
)

func newSecureStopCmd() *cobra.Command {
	c := &cobra.Command{Use: "securestop", Short: "List and send the TEE's secure-stop sessions"}
	c.AddCommand(newSecureStopListCmd(), newSecureStopSendCmd())
	return c
}

// sessionJSON is one secure-stop session of prsim securestop list.
type sessionJSON struct {
	ID      string   `json:"id"`
	KIDs    []string `json:"kids"`
	State   string   `json:"state"` // active | stopped
	Version int      `json:"version"`
	Start   string   `json:"start"`
	Update  string   `json:"update"`
}

// sessionUUID renders a session ID as the server's reports do.
func sessionUUID(id [16]byte) string { return kid.ID(id).String() }

func sessionsJSON(ss []tee.SecureStopSession) []sessionJSON {
	out := make([]sessionJSON, 0, len(ss))
	for _, s := range ss {
		j := sessionJSON{ID: sessionUUID(s.ID), KIDs: make([]string, 0, len(s.KIDs)), State: "stopped", Version: s.Version,
			Start: s.Start.UTC().Format(time.RFC3339), Update: s.Update.UTC().Format(time.RFC3339)}
		if s.Active {
			j.State = "active"
		}
		for _, k := range s.KIDs {
			j.KIDs = append(j.KIDs, k.String())
		}
		out = append(out, j)
	}
	return out
}

type secureStopListOptions struct {
	dev  string
	json bool
}

func newSecureStopListCmd() *cobra.Command {
	o := &secureStopListOptions{}
	c := &cobra.Command{
		Use:   "list --dev DEV --json",
		Short: "List the secure-stop sessions the TEE keeps: active ones and stopped ones waiting to be sent",
		Long: "A session opens when a non-persistent license with SECURE_STOP first releases its decryptor on an SL3000 " +
			"device of PlayReady 3.0 or later (version 2, SecureStop2, from 4.3 when the license carries its key), and is " +
			"stopped when playback stops. Opening the device reports sessions a crash left active as stopped at their last " +
			"update, so this command shows them stopped. A session is deleted only when a server's verified acknowledgement " +
			"names it (`securestop send`).\n\n" +
			"With `--json`: `{\"sessions\": [{\"id\": UUID, \"kids\": [UUID], \"state\": \"active|stopped\", " +
			"\"version\": 1|2, \"start\": RFC3339, \"update\": RFC3339}]}` (`update` is the stop time once stopped).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			out := struct {
				Sessions []sessionJSON `json:"sessions"`
			}{Sessions: sessionsJSON(d.Client.SecureStopSessions())}
			return emit(cmd, o.json, out, nil, func(w io.Writer) {
				if len(out.Sessions) == 0 {
					fmt.Fprintln(w, "no secure-stop session")
				}
				for _, s := range out.Sessions {
					fmt.Fprintf(w, "%s %s v%d kids=%s start=%s update=%s\n", s.ID, s.State, s.Version,
						strings.Join(s.KIDs, ","), s.Start, s.Update)
				}
			})
		},
	}
	devFlags(c, &o.dev, &o.json)
	return c
}

type secureStopSendOptions struct {
	dev  string
	url  string
	json bool
}

// sendJSON is the result of prsim securestop send.
type sendJSON struct {
	ree.SendResult
	Error  *string `json:"error"`
	Detail *string `json:"detail"`
}

func newSecureStopSendCmd() *cobra.Command {
	o := &secureStopSendOptions{}
	c := &cobra.Command{
		Use:   "send --dev DEV [--url URL] --json",
		Short: "Send the stopped secure-stop sessions to a license server (ProcessSecureStopData)",
		Long: "The TEE builds and signs a ProcessSecureStopData challenge carrying every stopped session (SecureStop2 " +
			"ones MACed with their license's key); the server answers with a signed acknowledgement naming the sessions " +
			"it stored, and the TEE deletes those only after verifying it (chain to the device's root, SIGN_RESPONSE " +
			"key, signature, nonce). A lost or refused answer deletes nothing: the sessions stay pending and a later send " +
			"resends them (the server counts a session once). With no stopped session nothing is sent. Without `--url` " +
			"the device uses the only license server it has acquired from, at `ORIGIN/rightsmanager.asmx`.\n\n" +
			"With `--json`: `{\"sent\": N, \"acknowledged\": N, \"pending\": N, \"error\": null, \"detail\": null}` (`error` and `detail` say why a send failed; the counts still hold).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLicenseURL(o.url); err != nil {
				return err
			}
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			u := o.url
			if u == "" {
				// Nothing to send needs no server.
				if d.Client.PendingSecureStops() == 0 {
					return emit(cmd, o.json, sendJSON{}, nil, func(w io.Writer) { fmt.Fprintln(w, "no secure stop to send") })
				}
				if u, err = defaultServerURL(d); err != nil {
					return err
				}
			}
			res, serr := d.Client.SendSecureStops(cmd.Context(), u)
			out := sendJSON{SendResult: res, Error: errString(serr), Detail: errDetail(serr)}
			return emit(cmd, o.json, out, serr, func(w io.Writer) {
				fmt.Fprintf(w, "sent %d, acknowledged %d, pending %d\n", res.Sent, res.Acknowledged, res.Pending)
			})
		},
	}
	devFlags(c, &o.dev, &o.json)
	c.Flags().StringVar(&o.url, "url", "", "license server URL (default: the only server the device's store knows)")
	return c
}
