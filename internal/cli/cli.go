// Package cli builds prsim's command tree. Each command is a constructor
// with its own options struct and a fresh flag set, so tests can run
// commands in parallel; RunE only calls library code.
//
// Exit codes: 0 success, 1 usage or other error, 2 DRM error (the JSON
// "error" field, or the message on stderr, names the DRM_E_* code).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/drm"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitUsage = 1
	ExitDRM   = 2
)

// version is set with -ldflags "-X github.com/prsim/prsim/internal/cli.version=…".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// usageError marks errors that are the caller's (bad flags, bad arguments).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// reportedError is an error whose JSON report was already printed.
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// New returns the root command writing to stdout and stderr.
func New(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "prsim",
		Short:         "prsim — a simulated PlayReady client device",
		Long:          "prsim simulates a PlayReady client device (REE + TPM-backed TEE) and ships a reference license server.",
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newPKICmd(),
		newServerCmd(),
		newDeviceCmd(),
		newLicenseCmd(),
		newPlayCmd(),
		newInspectCmd(),
		newDemoCmd(),
		newContentCmd(),
		newConformanceCmd(),
		newClockCmd(),
		newRevocationCmd(),
		newSecureStopCmd(),
	)
	for _, c := range root.Commands() {
		if c.HasSubCommands() && !c.Runnable() {
			c.RunE = unknownSubcommand
		}
	}
	return root
}

// unknownSubcommand runs a command group ("prsim license …"). Without it
// cobra answers "prsim license bogus" with help and exit 0; the contract
// makes an unknown subcommand a usage error.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
}

// Main runs prsim with args and returns the exit code. Every failure is
// reported once: with --json as exactly one JSON object on stdout
// ({"error": …, "detail": …}) — also when the command line itself is wrong,
// which cobra reports before any command runs — and always as one
// "prsim: ERROR: DETAIL" line on stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	root := New(out, stderr)
	root.SetArgs(args)
	started := false
	markStarted(root, &started)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if !started && !errors.As(err, new(usageError)) {
		// cobra's own complaints (unknown command, missing required flag,
		// flag groups): the caller's mistake.
		err = usageError{err}
	}
	f := describe(err)
	if f.Detail == nil && errors.As(err, new(usageError)) && cmd != nil {
		f.Detail = ptr(fmt.Sprintf("see '%s --help'", cmd.CommandPath()))
	}
	// A command that printed its own report (or anything else) already has
	// its one object on stdout: a second one would break the contract.
	if jsonRequested(args) && !errors.As(err, new(reportedError)) && out.n == 0 {
		if werr := writeJSON(stdout, f); werr != nil {
			fmt.Fprintf(stderr, "prsim: %v\n", werr)
		}
	}
	fmt.Fprintf(stderr, "prsim: %s\n", f.text())
	return exitCode(err)
}

// countingWriter counts what a command writes to stdout.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// markStarted wraps every command's RunE so that Main can tell a failure of
// the work from one of the command line (reported before RunE).
func markStarted(c *cobra.Command, started *bool) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			*started = true
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		markStarted(sub, started)
	}
}

// jsonRequested reports whether the command line asks for JSON. It is read
// from the raw arguments because a bad command line fails before cobra has
// parsed any flag.
func jsonRequested(args []string) bool {
	on := false
	for _, a := range args {
		switch {
		case a == "--":
			return on
		case a == "--json":
			on = true
		case strings.HasPrefix(a, "--json="):
			v, err := strconv.ParseBool(strings.TrimPrefix(a, "--json="))
			on = err == nil && v
		}
	}
	return on
}

func exitCode(err error) int {
	var ue usageError
	var ec exitCoder
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ec):
		return ec.ExitCode()
	}
	if _, ok := drm.CodeOf(err); ok {
		return ExitDRM
	}
	return ExitUsage
}

// errString renders an error for JSON: the DRM code when there is one
// ("DRM_E_… (0x8004….)"), else the message.
func errString(err error) *string {
	if err == nil {
		return nil
	}
	f := describe(err)
	return &f.Error
}

// errDetail renders the reason of an error for JSON's "detail" (see
// [describe]); nil without an error or a reason.
func errDetail(err error) *string {
	if err == nil {
		return nil
	}
	return describe(err).Detail
}

// emit writes a command's result: v as JSON, or human's text. A failure err
// is returned either way (for the exit code); with JSON it is marked as
// already reported, since v carries it.
func emit(cmd *cobra.Command, asJSON bool, v any, err error, human func(io.Writer)) error {
	if asJSON {
		if werr := writeJSON(cmd.OutOrStdout(), v); werr != nil {
			return werr
		}
		if err != nil {
			return reportedError{err}
		}
		return nil
	}
	human(cmd.OutOrStdout())
	return err
}

// writeJSON writes v as one indented JSON object. HTML escaping is off:
// outputs carry XML (headers, envelopes) that must read as XML.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func ptr[T any](v T) *T { return &v }

// args checks positional arguments as usage errors.
func exactArgs(n int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %d argument(s), got %d", n, len(args))
		}
		return nil
	}
}

// requireJSON: commands whose contract is JSON-only still accept the flag.
// devFlags adds what every command on one device takes: --dev DIR
// (required) and --json.
func devFlags(c *cobra.Command, dev *string, json *bool) {
	c.Flags().StringVar(dev, "dev", "", "device directory (required)")
	c.Flags().BoolVar(json, "json", false, "print JSON")
	_ = c.MarkFlagRequired("dev")
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}
