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

// Main runs prsim with args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := New(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var rep reportedError
	if !errors.As(err, &rep) {
		fmt.Fprintf(stderr, "prsim: %v\n", err)
	}
	return exitCode(err)
}

func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
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
	s := err.Error()
	if c, ok := drm.CodeOf(err); ok {
		s = c.String()
	}
	return &s
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

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
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}
