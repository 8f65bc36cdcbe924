// Package oktaid makes identifiers that look like Okta's: a short type
// prefix and random base62 characters (domOa1b2C3d4E5f6G7h), so that people
// and tools used to Okta's API feel at home.
package oktaid

import (
	"crypto/rand"
	"crypto/sha256"
	"math/big"
)

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

// Derive returns an id shaped like New's (prefix and 17 base62
// characters) computed from seed: the same seed always gives the same id,
// for things Hallmark does not store but must name stably (the user an API
// token acts as).
func Derive(prefix, seed string) string {
	h := sha256.Sum256([]byte(seed))
	n := new(big.Int).SetBytes(h[:])
	base := big.NewInt(62)
	out := make([]byte, len(prefix)+17)
	copy(out, prefix)
	var d big.Int
	for i := len(out) - 1; i >= len(prefix); i-- {
		n.DivMod(n, base, &d)
		out[i] = alphabet[d.Int64()]
	}
	return string(out)
}
