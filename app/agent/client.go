package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// errRetired is the server saying that this agent was retired: it stops.
var errRetired = errors.New("the server says this agent was retired")

// statusError is an answer the agent did not expect.
type statusError struct {
	status  int
	code    string
	message string
}

func (e *statusError) Error() string {
	if e.message != "" {
		return fmt.Sprintf("server answered %d %s: %s", e.status, e.code, e.message)
	}
	return fmt.Sprintf("server answered %d", e.status)
}

// permanent reports whether retrying the same request cannot help.
func (e *statusError) permanent() bool {
	return e.status >= 400 && e.status < 500 && e.status != http.StatusTooManyRequests &&
		e.status != http.StatusRequestTimeout
}

// client calls the server's agent protocol.
type client struct {
	base       string
	http       *http.Client
	credential string
}

// newHTTPClient returns an HTTP client that trusts the CA bundle, when one is given, instead
// of the system's roots.
func newHTTPClient(cfg Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12,
		InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CABundlePath != "" {
		b, err := os.ReadFile(cfg.CABundlePath)
		if err != nil {
			return nil, fmt.Errorf("CERTCTL_SERVER_CA_BUNDLE_PATH: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CERTCTL_SERVER_CA_BUNDLE_PATH: %s holds no PEM "+
				"certificate", cfg.CABundlePath)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	tr.MaxIdleConnsPerHost = 2
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// maxAnswer bounds what the agent reads of one answer.
const maxAnswer = 16 << 20

// call sends body as JSON to path and decodes a 2xx answer into out (when not nil). It
// returns the status and headers; 410 comes back as errRetired, other non-2xx answers but
// 304 as *statusError.
func (c *client) call(ctx context.Context, method, path string, body, out any,
	header ...string) (int, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.credential != "" {
		req.Header.Set("Authorization", "Bearer "+c.credential)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, resp.Header, fmt.Errorf("read answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusGone:
		return resp.StatusCode, resp.Header, errRetired
	case resp.StatusCode == http.StatusNotModified:
		return resp.StatusCode, resp.Header, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		var e struct{ Error, Message string }
		json.Unmarshal(raw, &e)
		return resp.StatusCode, resp.Header, &statusError{status: resp.StatusCode,
			code: e.Error, message: e.Message}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, resp.Header, fmt.Errorf("the server's answer to %s %s "+
				"is not the JSON expected: %w", method, path, err)
		}
	}
	return resp.StatusCode, resp.Header, nil
}

// pathFor fills the agent protocol path p with the agent's and a job's ID.
func pathFor(p, agentID, jobID string) string {
	return strings.NewReplacer("{id}", agentID, "{job}", jobID).Replace(p)
}
