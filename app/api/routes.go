package api

import (
	"net/http"

	"certctl/app/auth"
)

// route is one entry of the API's route table.
type route struct {
	method  string
	pattern string
	role    auth.Role // RoleNone: no authentication
	etag    bool      // answer conditional GETs with 304
	handler http.HandlerFunc
}

// routes is the API's whole surface; openapi.json describes exactly these.
func (a *API) routes() []route {
	return []route{
		{"GET", "/api/v1/version", auth.RoleNone, false, a.version},
		{"GET", "/api/v1/openapi.json", auth.RoleNone, false, a.openAPI},

		{"GET", "/api/v1/teams", auth.RoleViewer, false, a.listTeams},
		{"POST", "/api/v1/teams", auth.RoleOperator, false, a.createTeam},
		{"GET", "/api/v1/teams/{id}", auth.RoleViewer, false, a.getTeam},
		{"PUT", "/api/v1/teams/{id}", auth.RoleOperator, false, a.replaceTeam},
		{"PATCH", "/api/v1/teams/{id}", auth.RoleOperator, false, a.patchTeam},
		{"DELETE", "/api/v1/teams/{id}", auth.RoleOperator, false, a.deleteTeam},

		{"GET", "/api/v1/owners", auth.RoleViewer, false, a.listOwners},
		{"POST", "/api/v1/owners", auth.RoleOperator, false, a.createOwner},
		{"GET", "/api/v1/owners/{id}", auth.RoleViewer, false, a.getOwner},
		{"PUT", "/api/v1/owners/{id}", auth.RoleOperator, false, a.replaceOwner},
		{"PATCH", "/api/v1/owners/{id}", auth.RoleOperator, false, a.patchOwner},
		{"DELETE", "/api/v1/owners/{id}", auth.RoleOperator, false, a.deleteOwner},

		{"GET", "/api/v1/audit", auth.RoleViewer, true, a.listAudit},
		{"GET", "/api/v1/audit/{id}", auth.RoleViewer, false, a.getAudit},

		{"GET", "/api/v1/api-keys", auth.RoleAdmin, false, a.listAPIKeys},
		{"POST", "/api/v1/api-keys", auth.RoleAdmin, false, a.createAPIKey},
		{"DELETE", "/api/v1/api-keys/{id}", auth.RoleAdmin, false, a.revokeAPIKey},
	}
}
