// Command hallmark runs the custom-domain service (serve), diagnoses trust
// failures (doctor) and drives the API (domains, logs).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		defaultGC()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// run builds the command tree and executes it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// exitError carries an exit status other than 1. Code 1 with a nil Err
// means "ran, found problems" and prints nothing more.
type exitError struct {
	Code int
	Err  error
}

func (e *exitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitError) Unwrap() error { return e.Err }

// usageError marks bad arguments: exit status 2.
func usageError(format string, args ...any) error {
	return &exitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "hallmark:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "hallmark:", err)
	return 1
}

// serveGCPercent is the collector's target for `hallmark serve` unless
// GOGC is set: the heap may grow to three times what is live between
// collections instead of twice. A full TLS handshake allocates about
// 40 KB, and at the default of 100 the collector marking the cached
// certificates was about 7 % of the CPU of a handshake at 10,000 hot
// names; at 200 it is half that, for about 15 MiB more resident memory
// at that size (BENCHMARKS.md, issue 15). GOGC, and GOMEMLIMIT for a
// ceiling, override it as for any Go program.
const serveGCPercent = 200

func defaultGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}
