package server

import (
	"context"
	"net/http"
	"time"

	"certctl/app/api"
	"certctl/app/apikey"
	"certctl/app/auth"
	"certctl/app/localca"
	"certctl/app/middleware"
	"certctl/app/org"
	"certctl/app/pki"
	"certctl/store"
)

// readyTimeout bounds the database check behind /ready.
const readyTimeout = time.Second

// requestDeadline bounds the work done for one request; the server's write timeout is a
// little longer, so the answer saying so still reaches the client.
const requestDeadline = 50 * time.Second

// Handler returns the whole HTTP surface of the server: probes, metrics, the PKI endpoints
// and the JSON API, behind the shared middleware.
func (a *App) Handler() http.Handler {
	cfg, st, log, m := a.cfg, a.st, a.log, a.Metrics
	now := time.Now
	authn := auth.NewAuthenticator(st, cfg.AuthSecret, cfg.AuthType == "none", log)
	jsonAPI := api.New(api.Deps{
		Store: st, Org: org.NewService(st, now), Keys: apikey.NewKeys(st, now),
		Certs: a.Certs, Agents: a.Agents, Authenticator: authn, Log: log, Now: now,
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", health)
	mux.Handle("GET /ready", ready(st))
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /{$}", home)
	pki.New(map[string]pki.Authority{localca.IssuerID: a.CA}, now, log).Register(mux)
	jsonAPI.Register(mux)

	var h http.Handler = middleware.RecordRoute(mux)
	h = middleware.LimitBody(cfg.MaxBodyBytes, h)
	h = middleware.Deadline(requestDeadline, h)
	h = m.Instrument(h)
	h = middleware.SecurityHeaders(h)
	h = middleware.Recover(log, jsonAPI.Fail, h)
	h = middleware.AccessLog(log.With("component", "http"), h)
	return middleware.RequestID(h)
}

func health(w http.ResponseWriter, r *http.Request) {
	writeStatus(w, http.StatusOK, `{"status":"healthy"}`)
}

// ready answers 503 while the database does not answer, and 200 again as soon as it does.
func ready(st store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			writeStatus(w, http.StatusServiceUnavailable,
				`{"status":"unavailable","database":"unreachable"}`)
			return
		}
		writeStatus(w, http.StatusOK, `{"status":"ready","database":"ok"}`)
	})
}

func writeStatus(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write([]byte(body + "\n"))
}

func home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("certctl is running.\n\nJSON API: /api/v1 (described at " +
		"/api/v1/openapi.json)\nProbes: /health, /ready\nMetrics: /metrics\n"))
}
