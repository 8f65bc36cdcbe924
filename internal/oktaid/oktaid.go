// Package oktaid makes identifiers that look like Okta's: a short type
// prefix and random base62 characters (domOa1b2C3d4E5f6G7h), so that people
// and tools used to Okta's API feel at home.
package oktaid

import "crypto/rand"

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// New returns prefix followed by 17 random base62 characters (about 101
// bits), drawn without modulo bias.
func New(prefix string) string {
	out := make([]byte, 0, len(prefix)+17)
	out = append(out, prefix...)
	var buf [32]byte
	for len(out) < len(prefix)+17 {
		rand.Read(buf[:])
		for _, b := range buf {
			if b < 248 && len(out) < len(prefix)+17 { // 248 = 4 × 62
				out = append(out, alphabet[b%62])
			}
		}
	}
	return string(out)
}

// Valid reports whether s could be an id made by New with prefix.
func Valid(prefix, s string) bool {
	if len(s) != len(prefix)+17 || s[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
