//go:build !unix

package connlimit

// fileLimit: Windows has no descriptor limit of this kind (sockets are
// bounded by memory), so DefaultMax takes its fixed default.
func fileLimit() (int, bool) { return 0, false }
