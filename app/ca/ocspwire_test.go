package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// respondFixture returns a chain, a delegated responder, a leaf and a request for it.
func respondFixture(t testing.TB) (inter, responder *Authority, leaf *x509.Certificate,
	req []byte) {
	t.Helper()
	now := time.Now()
	_, inter = newTestChain(t, ECDSAP256, now)
	responder, err := inter.NewOCSPResponder(ECDSAP256, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf = issueLeaf(t, inter, "leaf.example.test", now)
	req, err = ocsp.CreateRequest(leaf, inter.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	return inter, responder, leaf, req
}

// answer returns a lookup giving status and counting its calls in calls.
func answer(status OCSPStatus, calls *int) func(*big.Int) (OCSPStatus, error) {
	return func(*big.Int) (OCSPStatus, error) {
		*calls++
		return status, nil
	}
}

func TestRespondMalformed(t *testing.T) {
	inter, responder, _, req := respondFixture(t)
	tests := []struct {
		name string
		der  []byte
	}{
		{"empty", nil},
		{"garbage", []byte("GET / HTTP/1.1")},
		{"truncated", req[:len(req)-3]},
		{"trailing data", append(bytes.Clone(req), 0x00)},
		{"empty sequence", []byte{0x30, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			resp, err := Respond(inter.Cert, responder, tt.der,
				answer(OCSPStatus{Status: ocsp.Good}, &calls), time.Now(), time.Hour)
			if err != nil || !bytes.Equal(resp, ocsp.MalformedRequestErrorResponse) {
				t.Errorf("respond: got %x, %v, want malformedRequest", resp, err)
			}
			if calls != 0 {
				t.Errorf("lookup: got %d calls, want none", calls)
			}
		})
	}
}

func TestRespondOtherIssuer(t *testing.T) {
	inter, responder, _, _ := respondFixture(t)
	now := time.Now()
	_, other := newTestChain(t, ECDSAP384, now)
	// Same names as inter, another key: only the key hash tells them apart.
	_, impostor := newTestChain(t, ECDSAP256, now)
	for name, issuer := range map[string]*Authority{"other": other, "same name": impostor} {
		t.Run(name, func(t *testing.T) {
			req, err := ocsp.CreateRequest(issueLeaf(t, issuer, "x.example.test", now),
				issuer.Cert, nil)
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			resp, err := Respond(inter.Cert, responder, req,
				answer(OCSPStatus{Status: ocsp.Good}, &calls), now, time.Hour)
			if err != nil || !bytes.Equal(resp, ocsp.UnauthorizedErrorResponse) || calls != 0 {
				t.Errorf("respond: got %x, %v after %d lookups, want unauthorized and none",
					resp, err, calls)
			}
		})
	}
}

func TestRespondHashAlgorithms(t *testing.T) {
	inter, responder, leaf, _ := respondFixture(t)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(h.String(), func(t *testing.T) {
			req, err := ocsp.CreateRequest(leaf, inter.Cert, &ocsp.RequestOptions{Hash: h})
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			resp, err := Respond(inter.Cert, responder, req,
				answer(OCSPStatus{Status: ocsp.Good}, &calls), time.Now(), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ocsp.ParseResponseForCert(resp, leaf, inter.Cert)
			if err != nil || got.Status != ocsp.Good || got.IssuerHash != h {
				t.Errorf("response: got %+v, %v, want good with hash %v", got, err, h)
			}
		})
	}
}

func TestRespondLookupError(t *testing.T) {
	inter, responder, _, req := respondFixture(t)
	boom := errors.New("database is down")
	resp, err := Respond(inter.Cert, responder, req,
		func(*big.Int) (OCSPStatus, error) { return OCSPStatus{}, boom },
		time.Now(), time.Hour)
	if !errors.Is(err, boom) || !bytes.Equal(resp, ocsp.InternalErrorErrorResponse) {
		t.Errorf("respond: got %x, %v, want internalError and the lookup error", resp, err)
	}
}

func TestRespondBadStatus(t *testing.T) {
	inter, responder, _, req := respondFixture(t)
	for name, status := range map[string]OCSPStatus{
		"unknown status":    {Status: 9},
		"hold":              {Status: ocsp.Revoked, RevokedAt: time.Now(), Reason: 6},
		"revoked sans time": {Status: ocsp.Revoked},
	} {
		calls := 0
		resp, err := Respond(inter.Cert, responder, req, answer(status, &calls), time.Now(),
			time.Hour)
		if err == nil || !bytes.Equal(resp, ocsp.InternalErrorErrorResponse) {
			t.Errorf("%s: got %x, %v, want internalError and an error", name, resp, err)
		}
	}
}

func TestRespondExpiredResponder(t *testing.T) {
	inter, responder, _, req := respondFixture(t)
	calls := 0
	resp, err := Respond(inter.Cert, responder, req, answer(OCSPStatus{}, &calls),
		responder.Cert.NotAfter.Add(time.Second), time.Hour)
	if err == nil || !strings.Contains(err.Error(), "is valid only from") ||
		!bytes.Equal(resp, ocsp.InternalErrorErrorResponse) || calls != 0 {
		t.Errorf("respond: got %x, %v after %d lookups, want internalError naming the "+
			"responder's validity", resp, err, calls)
	}
}

func TestRespondSignedByIssuer(t *testing.T) {
	inter, _, leaf, req := respondFixture(t)
	revokedAt := time.Now().Add(-time.Hour).Truncate(time.Second)
	calls := 0
	status := OCSPStatus{Status: ocsp.Revoked, RevokedAt: revokedAt, Reason: ReasonSuperseded}
	resp, err := Respond(inter.Cert, inter, req, answer(status, &calls), time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ocsp.ParseResponseForCert(resp, leaf, inter.Cert)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if got.Status != ocsp.Revoked || !got.RevokedAt.Equal(revokedAt) ||
		got.RevocationReason != ReasonSuperseded {
		t.Errorf("response: got status %d at %v for %d, want revoked at %v, superseded",
			got.Status, got.RevokedAt, got.RevocationReason, revokedAt)
	}
	if got.Certificate != nil {
		t.Error("response signed by the issuer carries a certificate, want none")
	}
}

func TestRespondRevokedUnspecifiedHasNoReason(t *testing.T) {
	inter, responder, _, req := respondFixture(t)
	calls := 0
	status := OCSPStatus{Status: ocsp.Revoked, RevokedAt: time.Now()}
	resp, err := Respond(inter.Cert, responder, req, answer(status, &calls), time.Now(),
		time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	single := decodeResponseData(t, resp).Responses[0].Status
	// revoked [1] holds only the 15-character GeneralizedTime: tag, length and value.
	if single.Tag != 1 || len(single.Bytes) != 17 {
		t.Errorf("revoked info: got tag %d with %d bytes, want tag 1 with the time only",
			single.Tag, len(single.Bytes))
	}
}

// decodeResponseData unwraps a successful response down to its ResponseData.
func decodeResponseData(t *testing.T, resp []byte) responseDataASN1 {
	t.Helper()
	var outer responseASN1
	if _, err := asn1.Unmarshal(resp, &outer); err != nil {
		t.Fatalf("response: %v", err)
	}
	var basic basicResponseASN1
	if _, err := asn1.Unmarshal(outer.Bytes.Response, &basic); err != nil {
		t.Fatalf("basic response: %v", err)
	}
	var data responseDataASN1
	if _, err := asn1.Unmarshal(basic.TBS.FullBytes, &data); err != nil {
		t.Fatalf("response data: %v", err)
	}
	return data
}

// withExtensions returns req with its requestExtensions replaced by exts.
func withExtensions(t testing.TB, req []byte, exts ...pkix.Extension) []byte {
	t.Helper()
	var r requestASN1
	if _, err := asn1.Unmarshal(req, &r); err != nil {
		t.Fatal(err)
	}
	r.TBS.Extensions = exts
	der, err := asn1.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func nonceExtension(t testing.TB, n int) pkix.Extension {
	t.Helper()
	value, err := asn1.Marshal(bytes.Repeat([]byte{0xA5}, n))
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidOCSPNonce, Value: value}
}

func TestRespondNonce(t *testing.T) {
	inter, responder, _, req := respondFixture(t)
	tests := []struct {
		name      string
		ext       *pkix.Extension
		malformed bool
	}{
		{"none", nil, false},
		{"1 octet", ptr(nonceExtension(t, 1)), false},
		{"16 octets", ptr(nonceExtension(t, 16)), false},
		{"128 octets", ptr(nonceExtension(t, 128)), false},
		{"empty", ptr(nonceExtension(t, 0)), true},
		{"129 octets", ptr(nonceExtension(t, 129)), true},
		{"not an octet string", &pkix.Extension{Id: oidOCSPNonce, Value: []byte{1, 2, 3}},
			true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der := req
			if tt.ext != nil {
				der = withExtensions(t, req, *tt.ext)
			}
			calls := 0
			resp, err := Respond(inter.Cert, responder, der,
				answer(OCSPStatus{Status: ocsp.Good}, &calls), time.Now(), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if tt.malformed {
				if !bytes.Equal(resp, ocsp.MalformedRequestErrorResponse) {
					t.Errorf("respond: got %x, want malformedRequest", resp)
				}
				return
			}
			checkNonceEcho(t, decodeResponseData(t, resp).Extensions, tt.ext)
		})
	}
}

func checkNonceEcho(t *testing.T, got []pkix.Extension, want *pkix.Extension) {
	t.Helper()
	if want == nil {
		if len(got) != 0 {
			t.Errorf("response extensions: got %d, want none", len(got))
		}
		return
	}
	if len(got) != 1 || !got[0].Id.Equal(oidOCSPNonce) || !bytes.Equal(got[0].Value, want.Value) {
		t.Errorf("response extensions: got %+v, want the nonce %x", got, want.Value)
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzRespond feeds arbitrary bytes to Respond: it must never panic, and must answer with
// a response or one of the fixed error responses.
func FuzzRespond(f *testing.F) {
	inter, responder, _, req := respondFixture(f)
	f.Add(req)
	f.Add(withExtensions(f, req, nonceExtension(f, 16)))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		calls := 0
		resp, err := Respond(inter.Cert, responder, der,
			answer(OCSPStatus{Status: ocsp.Good}, &calls), time.Now(), time.Hour)
		if err != nil {
			t.Fatalf("respond: %v", err)
		}
		if bytes.Equal(resp, ocsp.MalformedRequestErrorResponse) ||
			bytes.Equal(resp, ocsp.UnauthorizedErrorResponse) {
			return
		}
		if _, err := ocsp.ParseResponse(resp, inter.Cert); err != nil {
			t.Fatalf("parse own response: %v", err)
		}
	})
}
