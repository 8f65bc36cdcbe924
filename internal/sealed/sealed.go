// Package sealed encrypts small secrets at rest (private keys of
// certificates, of the built-in CA and of the ACME account) with AES-256-GCM
// under one master key.
//
// A sealed value is version(1) || nonce(12) || ciphertext+tag. The
// additional data binds a sealed value to its place (for example
// "cert-key:login.acme.com"), so a value copied to another row does not open.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// KeySize is the size of the master key: AES-256.
const KeySize = 32

const (
	version   = 1
	nonceSize = 12
)

// ErrOpen means a sealed value could not be opened: wrong master key, wrong
// additional data, or a damaged value. It never says which, by design.
var ErrOpen = errors.New("sealed: cannot open value (wrong master key, wrong context or damaged data)")

// Box seals and opens values with one master key. It is safe for concurrent
// use. Its formatting methods never reveal the key.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte master key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sealed: master key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	return &Box{aead: aead}, nil
}

// LoadOrCreateKey reads the master key at path, or creates it with 32
// random bytes and mode 0600 when the file does not exist. An existing key
// file that other users can read is refused: the key protects every private
// key Hallmark holds.
func LoadOrCreateKey(path string) (*Box, error) {
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it between our read and create.
			key, err = readKey(path)
		}
	}
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return New(key)
}

// LoadKey reads the master key at path, which must exist (an error
// wrapping fs.ErrNotExist otherwise), with the checks of LoadOrCreateKey.
func LoadKey(path string) (*Box, error) {
	key, err := readKey(path)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return New(key)
}

func readKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("master key %s: mode %04o lets other users read it; run `chmod 600 %s` (or point --master-key-file at a private copy)", path, perm, path)
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	if len(key) != KeySize {
		clear(key)
		return nil, fmt.Errorf("master key %s: holds %d bytes, want exactly %d random bytes", path, len(key), KeySize)
	}
	return key, nil
}

func createKey(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("master key %s: creating directory: %w", path, err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	// Write a temporary file, then link it into place: a crash never
	// leaves a short key file behind, and O_EXCL semantics come from Link.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".master-key-*")
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		clear(key)
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	return key, nil
}

// Seal encrypts plaintext bound to aad.
func (b *Box) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+b.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		// crypto/rand.Read does not fail on supported platforms.
		panic("sealed: reading random nonce: " + err.Error())
	}
	return b.aead.Seal(out, out[1:1+nonceSize], plaintext, aad)
}

// Open decrypts a value made by Seal with the same aad.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// String, GoString and LogValue keep the key out of logs and %#v output.
func (b *Box) String() string       { return "sealed.Box{key:REDACTED}" }
func (b *Box) GoString() string     { return b.String() }
func (b *Box) LogValue() slog.Value { return slog.StringValue(b.String()) }

// The key check value: a known plaintext sealed with the master key. A
// database records one at its first start, so that a node holding another
// key is recognised before it seals anything. It reveals nothing of the
// key (AES-GCM under a random nonce).
var (
	checkPlaintext = []byte("hallmark master key check v1")
	checkAAD       = []byte("hallmark/master-key-check")
)

// CheckValue returns a fresh key check value for this Box's key.
func (b *Box) CheckValue() []byte { return b.Seal(checkPlaintext, checkAAD) }

// Matches reports whether check is a key check value made with this Box's
// key.
func (b *Box) Matches(check []byte) bool {
	pt, err := b.Open(check, checkAAD)
	return err == nil && string(pt) == string(checkPlaintext)
}
