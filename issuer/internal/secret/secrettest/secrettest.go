// Package secrettest is AWS Secrets Manager and SSM Parameter Store on
// 127.0.0.1 for tests: one endpoint that speaks the two operations package
// secret calls, GetSecretValue and GetParameter, in the services' JSON
// protocol (awsJson1_1), so the real SDK clients run against it, in the test
// process or inside a real bootstrap binary. It checks that each request is
// signed for its service and counts the reads.
package secrettest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Account and Region are the ones ARNs the endpoint makes name.
const (
	Account = "111122223333"
	Region  = "eu-west-1"
)

// Endpoint is the two services.
type Endpoint struct {
	URL string

	mu      sync.Mutex
	secrets map[string]value // by name
	params  map[string]value // by name
	reads   map[string]int   // by the id asked for, found or not
	regions []string         // the region each request was signed for
}

type value struct {
	text   string
	binary []byte
	typ    string // a parameter's type
}

// New starts an endpoint, closed when the test ends.
func New(t testing.TB) *Endpoint {
	t.Helper()
	e := &Endpoint{secrets: map[string]value{}, params: map[string]value{}, reads: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

// Env is the environment a process needs to reach the endpoint: the SDK's
// endpoint variables for both services, dummy credentials, and no EC2
// metadata lookups.
func (e *Endpoint) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + e.URL, "AWS_ENDPOINT_URL_SSM=" + e.URL,
		"AWS_ACCESS_KEY_ID=AKIDTENURETEST", "AWS_SECRET_ACCESS_KEY=not-a-secret",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=" + Region,
	}
}

// PutSecret stores a secret string under name and returns its ARN.
func (e *Endpoint) PutSecret(name, text string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets[name] = value{text: text}
	return SecretARN(name)
}

// PutSecretBinary stores a binary secret under name.
func (e *Endpoint) PutSecretBinary(name string, b []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets[name] = value{binary: b}
}

// PutParameter stores a parameter of type typ ("SecureString", "String").
func (e *Endpoint) PutParameter(name, typ, text string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.params[name] = value{text: text, typ: typ}
}

// Reads is how often id (a name or an ARN, as asked) was read, found or not.
func (e *Endpoint) Reads(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reads[id]
}

// Total is how many reads of anything the endpoint has answered.
func (e *Endpoint) Total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.reads {
		n += c
	}
	return n
}

// Regions are the regions the requests were signed for, in order.
func (e *Endpoint) Regions() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.regions...)
}

// SecretARN is the ARN of the secret name, with the random suffix Secrets
// Manager adds.
func SecretARN(name string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", Region, Account, name)
}

// scope is the credential scope of a SigV4 Authorization header.
var scope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request`)

func (e *Endpoint) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	target := r.Header.Get("X-Amz-Target")
	service := map[string]string{"secretsmanager.GetSecretValue": "secretsmanager", "AmazonSSM.GetParameter": "ssm"}[target]
	if service == "" {
		fail(http.StatusBadRequest, "UnknownOperationException", "this endpoint answers GetSecretValue and GetParameter only, not "+target)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		fail(http.StatusBadRequest, "SerializationException", "want a POST of application/x-amz-json-1.1")
		return
	}
	m := scope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil || m[2] != service {
		fail(http.StatusForbidden, "InvalidSignatureException", "the request is not signed for "+service)
		return
	}
	var in struct {
		SecretId       string
		Name           string
		WithDecryption bool
		VersionStage   string
		VersionId      string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.regions = append(e.regions, m[1])
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch service {
	case "secretsmanager":
		e.reads[in.SecretId]++
		name := in.SecretId
		if strings.HasPrefix(name, "arn:") {
			name = strings.TrimSuffix(name[strings.LastIndex(name, ":secret:")+len(":secret:"):], "-AbCdEf")
		}
		v, ok := e.secrets[name]
		if !ok || (in.VersionStage != "" && in.VersionStage != "AWSCURRENT") || in.VersionId != "" {
			fail(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		out := map[string]any{"ARN": SecretARN(name), "Name": name, "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1",
			"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": 1.523477145713e9}
		if v.binary != nil {
			out["SecretBinary"] = v.binary
		} else {
			out["SecretString"] = v.text
		}
		json.NewEncoder(w).Encode(out)
	case "ssm":
		e.reads[in.Name]++
		v, ok := e.params[in.Name]
		if !ok {
			fail(http.StatusBadRequest, "ParameterNotFound", "")
			return
		}
		text := v.text
		if v.typ == "SecureString" && !in.WithDecryption {
			text = "AQICAHh-ciphertext-not-the-token"
		}
		json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
			"Name": in.Name, "Type": v.typ, "Value": text, "Version": 1, "DataType": "text",
			"ARN": fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", Region, Account, strings.TrimPrefix(in.Name, "/")),
		}})
	}
}
