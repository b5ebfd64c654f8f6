// Command prsim is a simulated PlayReady client device with a reference
// license server. Run "prsim demo" for a tour, "prsim --help" for commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/prsim/prsim/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
