package cli

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
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"certctl/app/api"
	"certctl/app/config"
	"certctl/app/version"
)

// Client settings. The client reads its own variables rather than the server's table in
// app/config: a workstation running `certctl certs list` has no server configuration.
const (
	defaultServerURL = "https://localhost:8443"
	clientTimeout    = 30 * time.Second
	// maxAnswer bounds how much of an answer the client reads, so a confused peer cannot
	// exhaust its memory.
	maxAnswer = 64 << 20
)

// client calls the certctl JSON API with an API key.
type client struct {
	base string // server URL without a trailing slash
	key  string
	http *http.Client
}

// newClient builds a client from CERTCTL_SERVER_URL, CERTCTL_API_KEY (or its _FILE twin),
// CERTCTL_SERVER_CA_BUNDLE_PATH and CERTCTL_TLS_INSECURE_SKIP_VERIFY. A missing or unusable
// value is a *config.Error, which exits with code 2.
func newClient(env Env) (*client, error) {
	base, err := serverURL(env.Lookup)
	if err != nil {
		return nil, err
	}
	key, err := apiKey(env.Lookup)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := clientTLS(env)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	return &client{base: base, key: key,
		http: &http.Client{Timeout: clientTimeout, Transport: tr}}, nil
}

func lookupVar(env config.Source, name string) string {
	if env == nil {
		return ""
	}
	v, _ := env(name)
	return strings.TrimSpace(v)
}

func serverURL(env config.Source) (string, error) {
	raw := lookupVar(env, "CERTCTL_SERVER_URL")
	if raw == "" {
		return defaultServerURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", &config.Error{Var: "CERTCTL_SERVER_URL", Problem: fmt.Sprintf(
			"%q is not an absolute http or https URL, e.g. https://certctl.example.com", raw)}
	}
	return strings.TrimRight(raw, "/"), nil
}

// apiKey reads the key from CERTCTL_API_KEY or from the file CERTCTL_API_KEY_FILE names,
// never both, as the server does for its own secrets.
func apiKey(env config.Source) (string, error) {
	key, path := lookupVar(env, "CERTCTL_API_KEY"), lookupVar(env, "CERTCTL_API_KEY_FILE")
	switch {
	case key != "" && path != "":
		return "", &config.Error{Var: "CERTCTL_API_KEY",
			Problem: "set both directly and through CERTCTL_API_KEY_FILE; use one"}
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return "", &config.Error{Var: "CERTCTL_API_KEY_FILE", Problem: err.Error()}
		}
		key = strings.TrimSpace(string(b))
	}
	if key == "" {
		return "", &config.Error{Var: "CERTCTL_API_KEY", Problem: "is not set; the client " +
			"needs an API key (create one with `certctl apikey create`)"}
	}
	return key, nil
}

// clientTLS trusts the system roots, or only the roots in CERTCTL_SERVER_CA_BUNDLE_PATH when
// it is set, such as the server's DATA_DIR/tls/ca.pem.
func clientTLS(env Env) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if path := lookupVar(env.Lookup, "CERTCTL_SERVER_CA_BUNDLE_PATH"); path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, &config.Error{Var: "CERTCTL_SERVER_CA_BUNDLE_PATH", Problem: err.Error()}
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &config.Error{Var: "CERTCTL_SERVER_CA_BUNDLE_PATH",
				Problem: path + " holds no PEM certificate"}
		}
	}
	raw := lookupVar(env.Lookup, "CERTCTL_TLS_INSECURE_SKIP_VERIFY")
	if raw == "" {
		return cfg, nil
	}
	skip, err := strconv.ParseBool(raw)
	if err != nil {
		return nil, &config.Error{Var: "CERTCTL_TLS_INSECURE_SKIP_VERIFY",
			Problem: fmt.Sprintf("%q is not true or false", raw)}
	}
	if skip {
		fmt.Fprintln(env.Stderr, "certctl: warning: CERTCTL_TLS_INSECURE_SKIP_VERIFY is set: "+
			"the server's certificate is not checked; use this only in development")
		cfg.InsecureSkipVerify = true //nolint:gosec // asked for explicitly, with a warning
	}
	return cfg, nil
}

// apiError is an error answer from the server.
type apiError struct {
	body api.Error
}

// Error reads "<message> (<code>, request <id>)", then one line per field problem.
func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, request %s)", e.body.Message, e.body.Error, e.body.RequestID)
	fields := make([]string, 0, len(e.body.Fields))
	for f := range e.body.Fields {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		fmt.Fprintf(&b, "\n  %s: %s", f, e.body.Fields[f])
	}
	return b.String()
}

// call sends one request and returns the answer's body when the status is 2xx. in, when not
// nil, is sent as JSON; other statuses become an *apiError.
func (c *client) call(ctx context.Context, method, path string, query url.Values,
	in any) ([]byte, error) {
	req, err := c.request(ctx, method, path, query, in)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error repeats the method and the whole URL with the query; the path is enough.
		err = ue.Err
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, answerError(resp, body)
	}
	return body, nil
}

func (c *client) request(ctx context.Context, method, path string, query url.Values,
	in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "certctl-cli/"+version.Get().Version)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// answerError turns an error answer into an *apiError. An answer that is not the API's
// error shape (a proxy's page, say) still names the status and request.
func answerError(resp *http.Response, body []byte) error {
	e := &apiError{}
	if err := json.Unmarshal(body, &e.body); err != nil || e.body.Error == "" {
		e.body = api.Error{Error: strings.ToLower(strings.ReplaceAll(
			http.StatusText(resp.StatusCode), " ", "_")),
			Message: "the server answered " + resp.Status}
	}
	if e.body.RequestID == "" {
		e.body.RequestID = orNone(resp.Header.Get("X-Request-ID"))
	}
	return e
}

// get fetches path and decodes the JSON answer into out.
func (c *client) get(ctx context.Context, path string, query url.Values, out any) error {
	body, err := c.call(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	return decodeAnswer(body, out)
}

// post sends in to path and decodes the JSON answer into out.
func (c *client) post(ctx context.Context, path string, in, out any) error {
	body, err := c.call(ctx, http.MethodPost, path, nil, in)
	if err != nil {
		return err
	}
	return decodeAnswer(body, out)
}

func decodeAnswer(body []byte, out any) error {
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], body...)
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	return nil
}

// errCursorLoop is returned when a paged list hands back a cursor it gave before.
var errCursorLoop = errors.New("the server repeated a page cursor; stopping")

// list fetches a list at path: one page, or with all every page by following next_cursor.
// It returns the raw items, the total the first page reported and whether more remain.
func (c *client) list(ctx context.Context, path string, query url.Values,
	all bool) ([]json.RawMessage, int, bool, error) {
	if query == nil {
		query = url.Values{}
	}
	var items []json.RawMessage
	total, seen := 0, map[string]bool{}
	for first := true; ; first = false {
		var page api.List[json.RawMessage]
		if err := c.get(ctx, path, query, &page); err != nil {
			return nil, 0, false, err
		}
		if first {
			total = page.Total
		}
		items = append(items, page.Data...)
		next := page.NextCursor
		if next == "" || len(page.Data) == 0 {
			return items, total, false, nil
		}
		if !all {
			return items, total, true, nil
		}
		if seen[next] {
			return nil, 0, false, errCursorLoop
		}
		seen[next] = true
		query.Set("cursor", next)
	}
}
