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
	// The first SIGINT or SIGTERM cancels the context: commands stop at
	// their next check, close the device (releasing the store lock) and
	// report. Once it has come, the signals get their default action back,
	// so a second one ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
