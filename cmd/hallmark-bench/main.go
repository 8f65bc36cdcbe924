//go:build linux

// Command hallmark-bench measures the real `hallmark serve` binary beside
// its peers on loopback, with one Go load generator for all: bare
// crypto/tls with one certificate, a bare net/http reverse proxy, and
// Debian's caddy and nginx where installed. `make bench-edge` runs it; it
// is not part of the shipped binary nor of `make test`.
//
//	hallmark-bench run -hallmark bin/hallmark -dir /tmp/hallmark-bench-edge
//
// Figures are ratios measured in one run with the rounds alternated, and
// the server's CPU per operation read from /proc/<pid>/stat, because the
// machine's cores are shared with the load generator and other work.
// Linux only (it reads /proc).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hallmark-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: hallmark-bench run|seed|upstream|bare|handshakes [flags]")
	}
	switch args[0] {
	case "run":
		return runBench(ctx, args[1:])
	case "seed":
		return seedCmd(ctx, args[1:])
	case "upstream":
		return upstreamCmd(ctx, args[1:])
	case "bare":
		return bareCmd(ctx, args[1:])
	case "handshakes":
		return handshakesCmd(ctx, args[1:])
	}
	return fmt.Errorf("unknown command %q: want run, seed, upstream, bare or handshakes", args[0])
}
