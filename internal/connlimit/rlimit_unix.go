//go:build unix

package connlimit

import "syscall"

// fileLimit is the process's RLIMIT_NOFILE soft limit.
func fileLimit() (int, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return int(rl.Cur), true
}
