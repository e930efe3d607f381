package secret_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/issuer/internal/secret"
	"github.com/tenurehq/tenure/issuer/internal/secret/secrettest"
)

// endpoint starts the local services and points this process's AWS SDK at
// them, with no shared config files of the machine's.
func endpoint(t *testing.T) *secrettest.Endpoint {
	e := secrettest.New(t)
	for _, kv := range e.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_PROFILE", "")
	return e
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		spec, err string
	}{
		{"secretsmanager:tenure-issuer/admin-token", ""},
		{"secretsmanager:" + secrettest.SecretARN("tenure-admin"), ""},
		{"ssm:/tenure/admin-token", ""},
		{"ssm:arn:aws:ssm:eu-west-1:111122223333:parameter/tenure/admin-token", ""},
		{"", "write secretsmanager:NAME_OR_ARN or ssm:"},
		{"tenure-admin", "write secretsmanager:NAME_OR_ARN or ssm:"},
		{"secrets-manager:tenure-admin", "write secretsmanager:NAME_OR_ARN or ssm:"},
		{"kms:alias/tenure", "write secretsmanager:NAME_OR_ARN or ssm:"},
		{"secretsmanager:", "names no secretsmanager"},
		{"ssm: /tenure/admin-token", "names no ssm"},
		{"secretsmanager:arn:aws:ssm:eu-west-1:111122223333:parameter/x", "the ARN is of ssm, not secretsmanager"},
		{"ssm:arn:aws:bogus", "bad ARN"},
	} {
		s, err := secret.Parse(c.spec)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("Parse(%q): %v", c.spec, err)
		case c.err == "" && s.String() != c.spec:
			t.Errorf("Parse(%q).String() = %q", c.spec, s.String())
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Parse(%q) = %v, want an error saying %q", c.spec, err, c.err)
		}
	}
}

func TestRead(t *testing.T) {
	e := endpoint(t)
	ctx := context.Background()
	arn := e.PutSecret("tenure-issuer/admin-token", "tna_from-secrets-manager\n")
	e.PutParameter("/tenure/admin-token", "SecureString", "tna_from-ssm")
	e.PutParameter("/tenure/plain", "String", "tna_in-the-clear")
	e.PutParameter("/tenure/empty", "SecureString", " \n")
	e.PutSecretBinary("tenure-issuer/binary", []byte("tna_binary"))
	otherRegion := strings.Replace(secrettest.SecretARN("tenure-issuer/admin-token"), secrettest.Region, "us-west-2", 1)

	for _, c := range []struct {
		spec, want, err, region string
	}{
		{spec: "secretsmanager:tenure-issuer/admin-token", want: "tna_from-secrets-manager", region: secrettest.Region},
		{spec: "secretsmanager:" + arn, want: "tna_from-secrets-manager", region: secrettest.Region},
		// An ARN's own region wins over AWS_REGION.
		{spec: "secretsmanager:" + otherRegion, want: "tna_from-secrets-manager", region: "us-west-2"},
		{spec: "ssm:/tenure/admin-token", want: "tna_from-ssm", region: secrettest.Region},
		{spec: "secretsmanager:tenure-issuer/missing", err: "ResourceNotFoundException"},
		{spec: "ssm:/tenure/missing", err: "ParameterNotFound"},
		{spec: "ssm:/tenure/plain", err: "store the token as a SecureString"},
		{spec: "ssm:/tenure/empty", err: "is empty"},
		{spec: "secretsmanager:tenure-issuer/binary", err: "holds binary data"},
	} {
		s, err := secret.Parse(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		before := e.Total()
		got, err := s.Read(ctx)
		if n := e.Total() - before; n != 1 {
			t.Errorf("%s: %d requests, want one", c.spec, n)
		}
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), c.spec) {
				t.Errorf("%s: Read = %q, %v; want an error naming the source and saying %q", c.spec, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: Read = %q, %v; want %q", c.spec, got, err, c.want)
		}
		if r := e.Regions(); r[len(r)-1] != c.region {
			t.Errorf("%s: signed for region %s, want %s", c.spec, r[len(r)-1], c.region)
		}
	}
}

// TestReadLater: Parse makes no request and a failed Read can be retried,
// so a secret created after the issuer started is found.
func TestReadLater(t *testing.T) {
	e := endpoint(t)
	s, err := secret.Parse("secretsmanager:tenure-issuer/admin-token")
	if err != nil {
		t.Fatal(err)
	}
	if n := e.Total(); n != 0 {
		t.Fatalf("Parse made %d requests", n)
	}
	if _, err := s.Read(context.Background()); err == nil {
		t.Fatal("Read found a secret that does not exist yet")
	}
	e.PutSecret("tenure-issuer/admin-token", "tna_later")
	got, err := s.Read(context.Background())
	if err != nil || got != "tna_later" {
		t.Fatalf("Read after the secret was made = %q, %v", got, err)
	}
	if n := e.Reads("tenure-issuer/admin-token"); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
	if !slices.Equal(e.Regions(), []string{secrettest.Region, secrettest.Region}) {
		t.Errorf("regions %v", e.Regions())
	}
}
