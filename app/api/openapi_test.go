package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"certctl/app/agentapi"
	"certctl/app/auth"
)

type spec struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

type operation struct {
	Role      string                     `json:"x-certctl-role"`
	Responses map[string]json.RawMessage `json:"responses"`
	Security  []json.RawMessage          `json:"security"`
}

func loadSpec(t *testing.T) spec {
	t.Helper()
	var s spec
	if err := json.Unmarshal(openAPISpec, &s); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	return s
}

var httpMethods = []string{"get", "put", "post", "patch", "delete", "head", "options"}

// TestSpecMatchesRoutes fails when a route is missing from openapi.json, the description
// names an operation no route serves, or the two disagree on the role a route requires.
func TestSpecMatchesRoutes(t *testing.T) {
	s := loadSpec(t)
	a := &API{}
	routes := map[string]route{}
	for _, rt := range a.routes() {
		routes[strings.ToLower(rt.method)+" "+rt.pattern] = rt
	}
	described := map[string]bool{}
	for path, item := range s.Paths {
		for method, raw := range item {
			if !slices.Contains(httpMethods, method) {
				continue
			}
			key := method + " " + path
			described[key] = true
			rt, ok := routes[key]
			if !ok {
				t.Errorf("openapi.json describes %s, which no route serves", key)
				continue
			}
			checkOperation(t, key, rt, raw)
		}
	}
	for key := range routes {
		if !described[key] {
			t.Errorf("route %s is missing from openapi.json", key)
		}
	}
}

func checkOperation(t *testing.T, key string, rt route, raw json.RawMessage) {
	t.Helper()
	var op operation
	if err := json.Unmarshal(raw, &op); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	want := rt.role.String()
	if rt.role == auth.RoleNone {
		want = "none"
	}
	if op.Role != want {
		t.Errorf("%s: openapi.json says role %q, the route requires %q", key, op.Role, want)
	}
	if (rt.role == auth.RoleNone) != (len(op.Security) == 0) {
		t.Errorf("%s: security requirement does not match whether the route authenticates", key)
	}
	if _, ok := op.Responses["304"]; ok != rt.etag {
		t.Errorf("%s: documents 304 = %v, route answers conditional requests = %v", key, ok,
			rt.etag)
	}
}

// TestSchemasMatchWireTypes fails when a wire struct and its schema list different fields.
func TestSchemasMatchWireTypes(t *testing.T) {
	s := loadSpec(t)
	types := map[string]any{
		"Error": Error{}, "Version": Version{}, "Team": Team{}, "TeamInput": TeamInput{},
		"Owner": Owner{}, "OwnerInput": OwnerInput{}, "AuditEvent": AuditEvent{},
		"APIKey": APIKey{}, "APIKeyInput": APIKeyInput{}, "APIKeyCreated": APIKeyCreated{},
		"Certificate": Certificate{}, "CertificateInput": CertificateInput{},
		"CertificateCreated": CertificateCreated{}, "RevokeInput": RevokeInput{},
		"CertificateVersion": CertificateVersion{}, "Job": Job{}, "CSRInput": CSRInput{},
		"Issuer": Issuer{}, "Profile": Profile{}, "RenewalPolicy": RenewalPolicy{},
		"ImportInput": ImportInput{}, "BulkInput": BulkInput{}, "BulkResult": BulkResult{},
		"PKCS12Input": PKCS12Input{}, "ProfileInput": ProfileInput{},
		"PolicyInput": PolicyInput{}, "Agent": Agent{}, "RetireInput": RetireInput{},
		"CredentialRotated": CredentialRotated{}, "EnrollmentToken": EnrollmentToken{},
		"EnrollmentTokenInput":   EnrollmentTokenInput{},
		"EnrollmentTokenCreated": EnrollmentTokenCreated{}, "Target": Target{},
		"TargetInput": TargetInput{}, "Deployment": Deployment{}, "DeployInput": DeployInput{},
		"DiscoveredCertificate": DiscoveredCertificate{}, "ClaimInput": ClaimInput{},
		"NetworkScanTarget":      NetworkScanTarget{},
		"NetworkScanTargetInput": NetworkScanTargetInput{}, "ScanResult": ScanResult{},
		"DiscoveryAccepted":  DiscoveryAccepted{},
		"AgentEnrollRequest": agentapi.EnrollRequest{}, "AgentEnrollResponse": agentapi.EnrollResponse{},
		"AgentHeartbeat": agentapi.Heartbeat{}, "AgentWork": agentapi.Work{},
		"AgentCSR": agentapi.CSR{}, "AgentMaterial": agentapi.Material{},
		"AgentReport": agentapi.Report{}, "AgentDiscovery": agentapi.Discovery{},
	}
	for name, v := range types {
		schema, ok := s.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s is missing", name)
			continue
		}
		var got []string
		for p := range schema.Properties {
			got = append(got, p)
		}
		sort.Strings(got)
		want := jsonFields(reflect.TypeOf(v))
		if !slices.Equal(got, want) {
			t.Errorf("schema %s has %v, the Go type %T has %v", name, got, v, want)
		}
	}
	if len(s.Components.Schemas) != len(types) {
		t.Errorf("openapi.json has %d schemas, the test knows %d: add the new one here",
			len(s.Components.Schemas), len(types))
	}
}

func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
