package store

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrBadCursor reports a keyset position that this store did not produce.
var ErrBadCursor = errors.New("invalid cursor")

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewID returns prefix, a dash and 26 characters: 48 bits of the current time in
// milliseconds and 80 random bits in Crockford base32, so IDs sort by creation time.
func NewID(prefix string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err)) // crypto/rand never fails on Linux
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + 27)
	sb.WriteString(prefix)
	sb.WriteByte('-')
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	// 128 bits as 26 five-bit digits, the first digit holding the top 3 bits.
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var d uint64
		switch {
		case shift >= 64:
			d = hi >> (shift - 64)
		case shift+5 > 64:
			d = lo>>shift | hi<<(64-shift)
		default:
			d = lo >> shift
		}
		sb.WriteByte(crockford[d&31])
	}
	return sb.String()
}

// EncodeKey packs the sort columns of a list's last row into an opaque keyset position.
func EncodeKey(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x00")))
}

// DecodeKey unpacks a keyset position made by EncodeKey with n parts.
func DecodeKey(key string, n int) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil {
		return nil, ErrBadCursor
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != n {
		return nil, ErrBadCursor
	}
	return parts, nil
}
