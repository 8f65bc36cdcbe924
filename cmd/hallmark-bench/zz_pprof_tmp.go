//go:build pproftmp

package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if a := os.Getenv("BARE_PPROF"); a != "" && len(os.Args) > 1 && os.Args[1] == "bare" {
		go http.ListenAndServe(a, nil)
	}
}
