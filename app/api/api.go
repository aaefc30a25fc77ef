// Package api serves the JSON API under /api/v1 that agents, scripts and the CLI use.
package api

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"certctl/app/agents"
	"certctl/app/apikey"
	"certctl/app/auth"
	"certctl/app/certs"
	"certctl/app/middleware"
	"certctl/app/org"
	"certctl/store"
)

// API holds what the handlers need.
type API struct {
	st     store.Store
	org    *org.Service
	certs  *certs.Service
	agents *agents.Service
	keys   *apikey.Keys
	authn  *auth.Authenticator
	log    *slog.Logger
	counts *countCache
	pages  *pageCache
}

// Deps are the API's collaborators.
type Deps struct {
	Store         store.Store
	Org           *org.Service
	Certs         *certs.Service
	Agents        *agents.Service
	Keys          *apikey.Keys
	Authenticator *auth.Authenticator
	Log           *slog.Logger
	Now           func() time.Time
}

// New returns the API.
func New(d Deps) *API {
	return &API{st: d.Store, org: d.Org, certs: d.Certs, agents: d.Agents, keys: d.Keys, authn: d.Authenticator,
		log: d.Log.With("component", "api"), counts: newCountCache(),
		pages: newPageCache()}
}

// Register adds the API's routes to mux, with authentication and role checks applied per
// route, and JSON errors for unknown paths and methods under /api/.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range a.routes() {
		var h http.Handler = rt.handler
		if rt.etag {
			h = middleware.ETag(h)
		}
		switch rt.role {
		case auth.RoleNone:
		case auth.RoleAgent:
			h = a.agentOnly(h)
		default:
			h = a.authn.Require(rt.role, a.fail, h)
		}
		mux.Handle(rt.method+" "+rt.pattern, h)
	}
	mux.Handle("/api/", a.unrouted(mux))
}

// probeMethods are the methods unrouted tries when it tells 405 from 404.
var probeMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// unrouted answers requests no route matches: 405 with Allow when the path exists for
// other methods, else 404.
func (a *API) unrouted(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range probeMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) == 0 {
			a.fail(w, r, &badRequest{status: http.StatusNotFound, code: "not_found",
				msg: "no API route matches " + r.URL.Path})
			return
		}
		allow := strings.Join(allowed, ", ")
		w.Header().Set("Allow", allow)
		a.fail(w, r, &badRequest{status: http.StatusMethodNotAllowed,
			code: "method_not_allowed", msg: r.Method + " is not allowed here; use " + allow})
	})
}

// Fail writes err as the API's JSON error answer; other surfaces use it for JSON clients.
func (a *API) Fail(w http.ResponseWriter, r *http.Request, err error) { a.fail(w, r, err) }
