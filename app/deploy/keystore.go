package deploy

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"unicode/utf16"

	"software.sslmate.com/src/go-pkcs12"
)

// encodeKeystore returns a PKCS#12 file with m's key, leaf and chain, protected by
// password with PBES2 (AES-256) and an HMAC-SHA-256 MAC, which OpenSSL 1.1.1 and later and
// Java 12 and later read. With alias set, the key carries it as its friendly name: the
// alias Java's keytool lists the entry under.
func encodeKeystore(m *material, password, alias string) ([]byte, error) {
	der, err := pkcs12.Modern.Encode(m.key, m.leaf, m.chain, password)
	if err != nil {
		return nil, fmt.Errorf("encode PKCS#12: %w", err)
	}
	if alias == "" {
		return der, nil
	}
	p, err := parsePFX(der)
	if err != nil {
		return nil, err
	}
	bag := p.keyBag()
	if bag == nil {
		return nil, errors.New("the PKCS#12 encoder wrote no key bag")
	}
	bag.setFriendlyName(alias)
	return p.encode(password)
}

// keystoreHolds reports whether the PKCS#12 file old opens with password and holds m's
// key, leaf and chain under alias (or under no particular alias when alias is empty).
func keystoreHolds(old []byte, m *material, password, alias string) bool {
	key, leaf, chain, err := pkcs12.DecodeChain(old, password)
	if err != nil || !bytes.Equal(leaf.Raw, m.leaf.Raw) || len(chain) != len(m.chain) {
		return false
	}
	for i := range chain {
		if !bytes.Equal(chain[i].Raw, m.chain[i].Raw) {
			return false
		}
	}
	k, ok := key.(interface{ Equal(crypto.PrivateKey) bool })
	if !ok || !k.Equal(m.key) {
		return false
	}
	if alias == "" {
		return true
	}
	p, err := parsePFX(old)
	if err != nil || p.keyBag() == nil {
		return false
	}
	return p.keyBag().friendlyName() == alias
}

var (
	oidData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidShroudedKeyBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidFriendlyName   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidSHA256         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

// The structures of RFC 7292, as far as adding a friendly name to a key bag needs them.
// The RawValues carry their own tags, so they encode back to the bytes they came from.
type pfxPDU struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT
}

type macData struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type digestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue  // [0] EXPLICIT
	Attributes []bagAttribute `asn1:"set,optional"`
}

type bagAttribute struct {
	ID     asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF
}

// pfx is a parsed PKCS#12 file whose unencrypted safe contents can be changed.
type pfx struct {
	pdu   pfxPDU
	safes []contentInfo
	bags  map[int][]safeBag // the bags of each unencrypted entry of safes
}

func parsePFX(der []byte) (*pfx, error) {
	p := &pfx{bags: map[int][]safeBag{}}
	rest, err := asn1.Unmarshal(der, &p.pdu)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#12: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("parse PKCS#12: trailing data")
	}
	authSafe, err := dataContent(p.pdu.AuthSafe)
	if err != nil {
		return nil, err
	}
	if _, err := asn1.Unmarshal(authSafe, &p.safes); err != nil {
		return nil, fmt.Errorf("parse PKCS#12 safes: %w", err)
	}
	for i, ci := range p.safes {
		if !ci.ContentType.Equal(oidData) {
			continue // encrypted: the certificates
		}
		contents, err := dataContent(ci)
		if err != nil {
			return nil, err
		}
		var bags []safeBag
		if _, err := asn1.Unmarshal(contents, &bags); err != nil {
			return nil, fmt.Errorf("parse PKCS#12 bags: %w", err)
		}
		p.bags[i] = bags
	}
	return p, nil
}

// dataContent returns the octets of a ContentInfo of type data.
func dataContent(ci contentInfo) ([]byte, error) {
	var octets []byte
	if !ci.ContentType.Equal(oidData) {
		return nil, errors.New("PKCS#12 content is not of type data")
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &octets); err != nil {
		return nil, fmt.Errorf("parse PKCS#12 data: %w", err)
	}
	return octets, nil
}

func dataInfo(octets []byte) (contentInfo, error) {
	inner, err := asn1.Marshal(octets)
	return contentInfo{ContentType: oidData, Content: asn1.RawValue{
		Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}}, err
}

// keyBag returns the first shrouded key bag, or nil.
func (p *pfx) keyBag() *safeBag {
	for i := range p.safes {
		for j := range p.bags[i] {
			if p.bags[i][j].ID.Equal(oidShroudedKeyBag) {
				return &p.bags[i][j]
			}
		}
	}
	return nil
}

// encode writes p back with a MAC computed afresh under password.
func (p *pfx) encode(password string) ([]byte, error) {
	for i, bags := range p.bags {
		contents, err := asn1.Marshal(bags)
		if err != nil {
			return nil, err
		}
		if p.safes[i], err = dataInfo(contents); err != nil {
			return nil, err
		}
	}
	authSafe, err := asn1.Marshal(p.safes)
	if err != nil {
		return nil, err
	}
	if p.pdu.AuthSafe, err = dataInfo(authSafe); err != nil {
		return nil, err
	}
	mac := &p.pdu.MacData
	if !mac.Mac.Algorithm.Algorithm.Equal(oidSHA256) {
		return nil, fmt.Errorf("PKCS#12 MAC algorithm %v is not HMAC-SHA-256",
			mac.Mac.Algorithm.Algorithm)
	}
	h := hmac.New(sha256.New, macKey(bmpZero(password), mac.MacSalt, mac.Iterations))
	h.Write(authSafe)
	mac.Mac.Digest = h.Sum(nil)
	return asn1.Marshal(p.pdu)
}

// setFriendlyName gives the bag the friendly name name, replacing one it had.
func (b *safeBag) setFriendlyName(name string) {
	bmp, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagBMPString, Bytes: bmp(name)})
	attr := bagAttribute{ID: oidFriendlyName, Values: asn1.RawValue{Tag: asn1.TagSet,
		IsCompound: true, Bytes: bmp}}
	for i := range b.Attributes {
		if b.Attributes[i].ID.Equal(oidFriendlyName) {
			b.Attributes[i] = attr
			return
		}
	}
	b.Attributes = append(b.Attributes, attr)
}

// friendlyName returns the bag's friendly name, or "".
func (b *safeBag) friendlyName() string {
	for _, a := range b.Attributes {
		var v asn1.RawValue
		if !a.ID.Equal(oidFriendlyName) {
			continue
		}
		if _, err := asn1.Unmarshal(a.Values.Bytes, &v); err != nil || len(v.Bytes)%2 != 0 {
			return ""
		}
		units := make([]uint16, len(v.Bytes)/2)
		for i := range units {
			units[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(units))
	}
	return ""
}

// bmp encodes s as a BMPString: UTF-16, big-endian.
func bmp(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

// bmpZero is a password as PKCS#12 feeds it to its key derivation: BMPString and two zero
// bytes.
func bmpZero(s string) []byte { return append(bmp(s), 0, 0) }

// macKey derives the 32-byte key of an HMAC-SHA-256 PKCS#12 MAC from a password
// (bmpZero), following RFC 7292, appendix B.2, with the ID byte 3. One hash output is the
// whole key, so the algorithm's later rounds, which stretch longer keys, never run.
func macKey(password, salt []byte, iterations int) []byte {
	const v = 64 // SHA-256's block size
	in := bytes.Repeat([]byte{3}, v)
	in = append(in, fill(salt, v)...)
	in = append(in, fill(password, v)...)
	sum := sha256.Sum256(in)
	for i := 1; i < iterations; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return sum[:]
}

// fill repeats b to the next multiple of v bytes.
func fill(b []byte, v int) []byte {
	if len(b) == 0 {
		return nil
	}
	out := make([]byte, v*((len(b)+v-1)/v))
	for i := range out {
		out[i] = b[i%len(b)]
	}
	return out
}
