package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/ree"
)

func newClockCmd() *cobra.Command {
	c := &cobra.Command{Use: "clock", Short: "Show and sync a device's trusted clock"}
	c.AddCommand(newClockStatusCmd(), newClockSyncCmd())
	return c
}

type clockStatusOptions struct {
	dev  string
	json bool
}

func newClockStatusCmd() *cobra.Command {
	o := &clockStatusOptions{}
	c := &cobra.Command{
		Use:   "status --dev DEV --json",
		Short: "Show the trusted clock: kind, whether it is set, its time, the last-known-good time and a detected rollback",
		Long: "With `--json`: `{\"kind\": \"secure|anti-rollback|none\", \"set\": bool, \"now\": RFC3339|null, " +
			"\"last_known_good\": RFC3339|null, \"rollback_detected\": bool}`. `now` is the trusted time (null when the clock " +
			"is not set or refuses the wall clock); `last_known_good` is an anti-rollback clock's last accepted time; " +
			"`rollback_detected` says the wall clock is more than 60 s earlier than that time raised by the TPM Clock " +
			"time elapsed since (less 1/16 for oscillator drift). The command changes nothing.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			st, err := d.TEE.ClockStatus()
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			fmt.Fprintln(cmd.OutOrStdout(), clockText(st))
			return nil
		},
	}
	devFlags(c, &o.dev, &o.json)
	return c
}

// clockText is a clock status on one line.
func clockText(st clock.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "clock %s: ", st.Kind)
	switch {
	case st.Kind == clock.KindNone:
		b.WriteString("no trusted clock (time-based licenses do not bind)")
	case st.Set && st.Now != nil:
		fmt.Fprintf(&b, "set, now %s", st.Now.UTC().Format(time.RFC3339))
	default:
		b.WriteString("not set")
	}
	if st.LastKnownGood != nil {
		fmt.Fprintf(&b, ", last known good %s", st.LastKnownGood.UTC().Format(time.RFC3339))
	}
	if st.RollbackDetected {
		b.WriteString(", ROLLBACK DETECTED (the wall clock is behind the last-known-good time, raised by the TPM Clock time since: set it forward)")
	}
	return b.String()
}

type clockSyncOptions struct {
	dev  string
	url  string
	json bool
}

func newClockSyncCmd() *cobra.Command {
	o := &clockSyncOptions{}
	c := &cobra.Command{
		Use:   "sync --dev DEV [--url URL] --json",
		Short: "Set a secure clock from server-signed time (License Server Time or the secure time endpoint)",
		Long: "A PlayReady 4.5 device with a secure clock makes a License Server Time acquisition (a 4.3 header with " +
			"LICENSEREQUESTED=\"false\", answered with no license and signed time); other secure-clock devices ask the " +
			"server's secure time endpoint (`/prsim/time`). An anti-rollback clock takes no server time (method `none`); " +
			"a device without a trusted clock fails with DRM_E_NO_CLK_SUPPORTED. Without `--url` the device uses the only " +
			"license server it has acquired from, at `ORIGIN/rightsmanager.asmx` (the reference server's path).\n\n" +
			"With `--json`: `{\"method\": \"license-server-time|time-service|none\", \"time\": RFC3339|null, " +
			"\"status\": {…as clock status…}}`.",
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
				if u, err = defaultServerURL(d); err != nil {
					return err
				}
			}
			res, err := d.Client.SyncClock(cmd.Context(), u)
			if err != nil {
				return err
			}
			return emit(cmd, o.json, res, nil, func(w io.Writer) {
				if res.Time != nil {
					fmt.Fprintf(w, "synced by %s to %s\n", res.Method, res.Time.UTC().Format(time.RFC3339))
				} else {
					fmt.Fprintf(w, "no server time taken (method %s)\n", res.Method)
				}
				fmt.Fprintln(w, clockText(res.Status))
			})
		},
	}
	devFlags(c, &o.dev, &o.json)
	c.Flags().StringVar(&o.url, "url", "", "license server URL (default: the only server the device's store knows)")
	return c
}

// defaultServerURL is the license URL of the only server whose certificate
// the device's store caches; with none or several the user must choose.
func defaultServerURL(d *ree.Device) (string, error) {
	origins, err := d.ServerOrigins()
	if err != nil {
		return "", err
	}
	switch len(origins) {
	case 1:
		return origins[0] + "/rightsmanager.asmx", nil
	case 0:
		return "", usagef("--url is required: the device has not acquired a license from any server yet")
	}
	return "", usagef("--url is required: the device knows %d license servers", len(origins))
}

type setTimeOptions struct {
	dev  string
	time string
	json bool
}

// wallClockJSON is the result of prsim device set-time.
type wallClockJSON struct {
	// WallClock is the HAL wall clock after the move.
	WallClock string `json:"wall_clock"`
	// OffsetS is how far it now is from the host's clock, in seconds.
	OffsetS int64 `json:"offset_s"`
}

func newDeviceSetTimeCmd() *cobra.Command {
	o := &setTimeOptions{}
	c := &cobra.Command{
		Use:   "set-time --dev DEV --time RFC3339|+DURATION|-DURATION",
		Short: "Move the device's HAL wall clock, as a user can (the TEE's anti-rollback clock judges it)",
		Long: "The offset from the host's clock is kept in device.json (`wall_clock_offset_s`): the wall clock is the " +
			"user's to set. Setting it back below an anti-rollback clock's last-known-good time makes the TEE refuse " +
			"time-based licenses with DRM_E_TEE_CLOCK_DRIFTED until it is set forward again.\n\n" +
			"With `--json`: `{\"wall_clock\": RFC3339, \"offset_s\": N}` (the wall clock after the move, and its " +
			"offset from the host's clock in seconds).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			at, by, err := parseSetTime(o.time)
			if err != nil {
				return err
			}
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			if at.IsZero() {
				err = d.AdvanceWallClock(by)
			} else {
				err = d.SetWallClock(at)
			}
			if err != nil {
				return err
			}
			out := wallClockJSON{WallClock: d.Wall.Now().UTC().Format(time.RFC3339),
				OffsetS: int64(d.Wall.Offset().Round(time.Second) / time.Second)}
			return emit(cmd, o.json, out, nil, func(w io.Writer) {
				fmt.Fprintf(w, "wall clock %s (host %+ds)\n", out.WallClock, out.OffsetS)
			})
		},
	}
	devFlags(c, &o.dev, &o.json)
	c.Flags().StringVar(&o.time, "time", "", "new wall clock time (RFC 3339), or a move from the current one: +DURATION or -DURATION, e.g. -2h (required)")
	_ = c.MarkFlagRequired("time")
	return c
}

// parseSetTime reads --time: an RFC 3339 instant (at), or a signed Go
// duration (by).
func parseSetTime(s string) (at time.Time, by time.Duration, err error) {
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		by, err = time.ParseDuration(s)
		if err != nil {
			return time.Time{}, 0, usagef("--time: +DURATION / -DURATION must be a duration such as +90m or -2h")
		}
		return time.Time{}, by, nil
	}
	at, err = time.Parse(time.RFC3339, s)
	if err != nil || at.IsZero() {
		return time.Time{}, 0, usagef("--time must be an RFC 3339 time (2030-01-02T15:04:05Z) or +DURATION / -DURATION")
	}
	return at, 0, nil
}

type advanceTPMClockOptions struct {
	dev  string
	by   time.Duration
	json bool
}

// advanceJSON is the result of prsim device advance-tpm-clock.
type advanceJSON struct {
	AdvancedS int64        `json:"advanced_s"`
	Clock     clock.Status `json:"clock"`
}

func newDeviceAdvanceTPMClockCmd() *cobra.Command {
	o := &advanceTPMClockOptions{}
	c := &cobra.Command{
		Use:   "advance-tpm-clock --dev DEV --by DURATION",
		Short: "Move the TPM Clock forward (TPM2_ClockSet; it never moves back): expiry without waiting",
		Long: "On sim and soft devices the TPM Clock is emulated in the TEE state and moves the same way. A secure " +
			"clock runs on the TPM Clock, so its time moves forward by as much. An anti-rollback clock takes the TPM " +
			"Clock as its witness that time passed: after this, a wall clock not moved forward as far (`device set-time " +
			"--time +DURATION`) is refused as set back (DRM_E_TEE_CLOCK_DRIFTED). A negative `--by` is a usage error.\n\n" +
			"With `--json`: `{\"advanced_s\": N, \"clock\": {…as clock status…}}`.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.by < 0 {
				return usagef("--by must not be negative: the TPM Clock only moves forward")
			}
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			if err := d.TEE.AdvanceTPMClock(o.by); err != nil {
				return err
			}
			st, err := d.TEE.ClockStatus()
			if err != nil {
				return err
			}
			out := advanceJSON{AdvancedS: int64(o.by / time.Second), Clock: st}
			return emit(cmd, o.json, out, nil, func(w io.Writer) {
				fmt.Fprintf(w, "TPM Clock advanced %ds\n%s\n", out.AdvancedS, clockText(st))
			})
		},
	}
	devFlags(c, &o.dev, &o.json)
	c.Flags().DurationVar(&o.by, "by", 0, "how far to move the TPM Clock forward, e.g. 90m (required)")
	_ = c.MarkFlagRequired("by")
	return c
}
