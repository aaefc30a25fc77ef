// Package secret encrypts secrets at rest, such as CA private keys and provider credentials,
// with one 256-bit key that lives outside the database.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a Key in bytes.
const KeySize = 32

// version1 marks a sealed blob as AES-256-GCM with a 12-byte random nonce:
// version byte, nonce, then ciphertext followed by the 16-byte tag.
const version1 byte = 1

const (
	nonceSize = 12
	tagSize   = 16
)

// checkLabel is the message a key-check value authenticates. Changing it invalidates every
// stored check value, so it carries its own version.
const checkLabel = "certctl key check v1"

// ErrWrongKey reports that a sealed blob did not authenticate: the key is not the one that
// sealed it, the aad names another place, or the bytes were altered.
var ErrWrongKey = errors.New("secret does not authenticate: wrong key, wrong place or altered")

// ErrFormat reports a sealed blob that is too short or of an unknown version.
var ErrFormat = errors.New("sealed secret is malformed")

// Key is a 256-bit AES key. Its zero value is a valid but useless key; get one from NewKey or
// ParseKey.
type Key [KeySize]byte

// NewKey returns a random key.
func NewKey() Key {
	var k Key
	// crypto/rand.Read never returns an error; it crashes the program if the system
	// random source fails, which is the right outcome for key generation.
	_, _ = rand.Read(k[:])
	return k
}

// ParseKey decodes a key written as 64 hexadecimal characters. Surrounding whitespace, as
// left by a file or an environment variable, is ignored. Errors never repeat the input.
func ParseKey(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	if len(s) != 2*KeySize {
		return k, fmt.Errorf("parse key: want %d hex characters, got %d", 2*KeySize, len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return Key{}, errors.New("parse key: not hexadecimal")
	}
	return k, nil
}

// Hex returns the key in the form ParseKey reads. Keep it out of logs.
func (k Key) Hex() string { return hex.EncodeToString(k[:]) }

// String hides the key, so printing or logging a Key by mistake reveals nothing.
func (k Key) String() string { return "secret.Key(redacted)" }

// GoString hides the key from %#v as String does from %v.
func (k Key) GoString() string { return k.String() }

// Seal encrypts and authenticates plaintext, binding it to aad: a label for where the
// blob is stored, such as "ca-key:iss-local". Open must be given the same aad.
func (k Key) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+tagSize)
	out[0] = version1
	_, _ = rand.Read(out[1:])
	return k.aead().Seal(out, out[1:], plaintext, aad)
}

// Open decrypts a blob made by Seal with the same key and aad. It returns ErrFormat for a
// truncated blob or an unknown version and ErrWrongKey when authentication fails.
func (k Key) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, fmt.Errorf("open secret: empty: %w", ErrFormat)
	}
	if sealed[0] != version1 {
		return nil, fmt.Errorf("open secret: version %d: %w", sealed[0], ErrFormat)
	}
	if len(sealed) < 1+nonceSize+tagSize {
		return nil, fmt.Errorf("open secret: %d bytes is too short: %w", len(sealed), ErrFormat)
	}

	nonce, box := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	plain, err := k.aead().Open(nil, nonce, box, aad)
	if err != nil {
		return nil, fmt.Errorf("open secret: %w", ErrWrongKey)
	}
	return plain, nil
}

// CheckValue returns a value that identifies the key without revealing it: the hex of the
// first 16 bytes of HMAC-SHA256 keyed with k over a fixed label. Store it beside the data,
// so a replica started with another key can refuse to run before it writes anything.
func (k Key) CheckValue() string {
	mac := hmac.New(sha256.New, k[:])
	mac.Write([]byte(checkLabel))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// Matches reports whether check is k's check value, comparing in constant time.
func (k Key) Matches(check string) bool {
	return hmac.Equal([]byte(k.CheckValue()), []byte(check))
}

func (k Key) aead() cipher.AEAD {
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic("secret: aes with a 32-byte key: " + err.Error()) // cannot happen
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic("secret: gcm: " + err.Error()) // cannot happen with the standard block size
	}
	return gcm
}
