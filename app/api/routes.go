package api

import (
	"net/http"

	"certctl/app/agentapi"
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

		{"GET", "/api/v1/certificates", auth.RoleViewer, true, a.listCertificates},
		{"POST", "/api/v1/certificates", auth.RoleOperator, false, a.createCertificate},
		{"POST", "/api/v1/certificates/import", auth.RoleOperator, false, a.importCertificate},
		{"POST", "/api/v1/certificates/bulk-renew", auth.RoleOperator, false, a.bulkRenew},
		{"POST", "/api/v1/certificates/bulk-revoke", auth.RoleOperator, false, a.bulkRevoke},
		{"GET", "/api/v1/certificates/{id}", auth.RoleViewer, false, a.getCertificate},
		{"PATCH", "/api/v1/certificates/{id}", auth.RoleOperator, false, a.patchCertificate},
		{"DELETE", "/api/v1/certificates/{id}", auth.RoleOperator, false,
			a.archiveCertificate},
		{"GET", "/api/v1/certificates/{id}/versions", auth.RoleViewer, false, a.listVersions},
		{"POST", "/api/v1/certificates/{id}/renew", auth.RoleOperator, false,
			a.renewCertificate},
		{"POST", "/api/v1/certificates/{id}/revoke", auth.RoleOperator, false,
			a.revokeCertificate},
		{"GET", "/api/v1/certificates/{id}/export/pem", auth.RoleViewer, false, a.exportPEM},
		{"POST", "/api/v1/certificates/{id}/export/pkcs12", auth.RoleAdmin, false,
			a.exportPKCS12},

		{"GET", "/api/v1/certificates/{id}/deployments", auth.RoleViewer, false,
			a.listDeployments},
		{"POST", "/api/v1/certificates/{id}/deploy", auth.RoleOperator, false,
			a.deployCertificate},

		{"GET", "/api/v1/jobs", auth.RoleViewer, true, a.listJobs},
		{"GET", "/api/v1/jobs/{id}", auth.RoleViewer, false, a.getJob},
		{"POST", "/api/v1/jobs/{id}/csr", auth.RoleOperator, false, a.submitCSR},
		{"POST", "/api/v1/jobs/{id}/approve", auth.RoleOperator, false, a.approveJob},
		{"POST", "/api/v1/jobs/{id}/reject", auth.RoleOperator, false, a.rejectJob},
		{"POST", "/api/v1/jobs/{id}/cancel", auth.RoleOperator, false, a.cancelJob},

		{"GET", "/api/v1/issuers", auth.RoleViewer, false, a.listIssuers},
		{"GET", "/api/v1/issuers/{id}", auth.RoleViewer, false, a.getIssuer},
		{"GET", "/api/v1/profiles", auth.RoleViewer, false, a.listProfiles},
		{"POST", "/api/v1/profiles", auth.RoleAdmin, false, a.createProfile},
		{"GET", "/api/v1/profiles/{id}", auth.RoleViewer, false, a.getProfile},
		{"PUT", "/api/v1/profiles/{id}", auth.RoleAdmin, false, a.replaceProfile},
		{"DELETE", "/api/v1/profiles/{id}", auth.RoleAdmin, false, a.deleteProfile},
		{"GET", "/api/v1/renewal-policies", auth.RoleViewer, false, a.listPolicies},
		{"POST", "/api/v1/renewal-policies", auth.RoleAdmin, false, a.createPolicy},
		{"GET", "/api/v1/renewal-policies/{id}", auth.RoleViewer, false, a.getPolicy},
		{"PUT", "/api/v1/renewal-policies/{id}", auth.RoleAdmin, false, a.replacePolicy},
		{"DELETE", "/api/v1/renewal-policies/{id}", auth.RoleAdmin, false, a.deletePolicy},

		{"GET", "/api/v1/agents", auth.RoleViewer, true, a.listAgents},
		{"GET", "/api/v1/agents/{id}", auth.RoleViewer, false, a.getAgent},
		{"DELETE", "/api/v1/agents/{id}", auth.RoleOperator, false, a.retireAgent},
		{"POST", "/api/v1/agents/{id}/rotate-credential", auth.RoleAdmin, false,
			a.rotateAgentCredential},
		{"GET", "/api/v1/agent-enrollment-tokens", auth.RoleAdmin, false,
			a.listEnrollmentTokens},
		{"POST", "/api/v1/agent-enrollment-tokens", auth.RoleAdmin, false,
			a.createEnrollmentToken},
		{"DELETE", "/api/v1/agent-enrollment-tokens/{id}", auth.RoleAdmin, false,
			a.deleteEnrollmentToken},

		{"POST", agentapi.PathEnroll, auth.RoleNone, false, a.enrollAgent},
		{"POST", agentapi.PathHeartbeat, auth.RoleAgent, false, a.agentHeartbeat},
		{"GET", agentapi.PathWork, auth.RoleAgent, true, a.agentWork},
		{"POST", agentapi.PathCSR, auth.RoleAgent, false, a.agentCSR},
		{"GET", agentapi.PathMaterial, auth.RoleAgent, false, a.agentMaterial},
		{"POST", agentapi.PathReport, auth.RoleAgent, false, a.agentReport},
		{"POST", agentapi.PathDiscovery, auth.RoleAgent, false, a.agentDiscovery},

		{"GET", "/api/v1/targets", auth.RoleViewer, false, a.listTargets},
		{"POST", "/api/v1/targets", auth.RoleOperator, false, a.createTarget},
		{"GET", "/api/v1/targets/{id}", auth.RoleViewer, false, a.getTarget},
		{"PUT", "/api/v1/targets/{id}", auth.RoleOperator, false, a.replaceTarget},
		{"DELETE", "/api/v1/targets/{id}", auth.RoleOperator, false, a.deleteTarget},

		{"GET", "/api/v1/discovered-certificates", auth.RoleViewer, true, a.listDiscovered},
		{"GET", "/api/v1/discovered-certificates/{id}", auth.RoleViewer, false,
			a.getDiscovered},
		{"POST", "/api/v1/discovered-certificates/{id}/claim", auth.RoleOperator, false,
			a.claimDiscovered},
		{"POST", "/api/v1/discovered-certificates/{id}/dismiss", auth.RoleOperator, false,
			a.dismissDiscovered},
		{"GET", "/api/v1/network-scan-targets", auth.RoleViewer, false, a.listScanTargets},
		{"POST", "/api/v1/network-scan-targets", auth.RoleAdmin, false, a.saveScanTarget},
		{"GET", "/api/v1/network-scan-targets/{id}", auth.RoleViewer, false, a.getScanTarget},
		{"PUT", "/api/v1/network-scan-targets/{id}", auth.RoleAdmin, false, a.saveScanTarget},
		{"DELETE", "/api/v1/network-scan-targets/{id}", auth.RoleAdmin, false,
			a.deleteScanTarget},
		{"POST", "/api/v1/network-scan-targets/{id}/scan", auth.RoleAdmin, false,
			a.runScanTarget},

		{"GET", "/api/v1/api-keys", auth.RoleAdmin, false, a.listAPIKeys},
		{"POST", "/api/v1/api-keys", auth.RoleAdmin, false, a.createAPIKey},
		{"DELETE", "/api/v1/api-keys/{id}", auth.RoleAdmin, false, a.revokeAPIKey},
	}
}
