package pebbletest

import "syscall"

// sysProcAttr has Linux kill Pebble when the test process dies, so no
// Pebble outlives a crashed test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
