//go:build !linux

package pebbletest

import "syscall"

// sysProcAttr is empty where there is no parent-death signal; Stop and the
// test's cleanup still kill Pebble by its PID.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
