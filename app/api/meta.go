package api

import (
	_ "embed"
	"net/http"

	"certctl/app/version"
)

// Version is the answer of GET /api/v1/version.
type Version struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

func (a *API) version(w http.ResponseWriter, r *http.Request) {
	v := version.Get()
	writeJSON(w, http.StatusOK, Version{Version: v.Version, Commit: v.Commit,
		GoVersion: v.GoVersion, Platform: v.Platform})
}

//go:embed openapi.json
var openAPISpec []byte

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPISpec)
}
