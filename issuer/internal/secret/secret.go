// Package secret reads a value the issuer keeps out of its environment, the
// admin token, from AWS Secrets Manager or an SSM Parameter Store
// SecureString parameter. A source is named by a spec:
//
//	secretsmanager:NAME_OR_ARN   a secret's string (its AWSCURRENT version)
//	ssm:NAME_OR_ARN              a SecureString parameter, decrypted
//
// such as
//
//	TENURE_ADMIN_TOKEN_SECRET=secretsmanager:tenure-issuer/admin-token
//	TENURE_ADMIN_TOKEN_SECRET=secretsmanager:arn:aws:secretsmanager:eu-west-1:111122223333:secret:tenure-admin-AbCdEf
//	TENURE_ADMIN_TOKEN_SECRET=ssm:/tenure/admin-token
//
// The value is the token itself, as plain text (a JSON secret is not
// unpacked); spaces and newlines around it are dropped.
//
// # When it is read
//
// [Parse] checks the spec and makes no request, and loads no AWS
// configuration: a Lambda cold start pays nothing for a source. [Source.Read]
// loads the configuration on its first call, and makes one request a call;
// the caller keeps what it read (the issuer reads on its first admin
// request). A failed Read may be called again.
//
// # AWS
//
// Credentials and region come from the AWS SDK's usual chain (on Lambda, the
// function's role); an ARN names its own region, which wins. The function
// needs secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its
// key if that is a customer managed one), or ssm:GetParameter on the
// parameter and kms:Decrypt on its key. AWS_ENDPOINT_URL_SECRETS_MANAGER
// and AWS_ENDPOINT_URL_SSM point the clients at other endpoints, as the SDK
// reads them.
package secret

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// readTimeout bounds one Read, retries included: the request that waits for
// it should fail with a clear answer well inside Lambda's own timeout (the
// template's is 10 s).
const readTimeout = 5 * time.Second

// Source is where a secret is kept.
type Source struct {
	spec    string
	service string // "secretsmanager" or "ssm"
	id      string // the secret's or parameter's name or ARN
	region  string // the ARN's, if it names one

	mu  sync.Mutex // guards get
	get func(ctx context.Context) (string, error)
}

// Parse checks a spec (see the package doc) without making a request.
func Parse(spec string) (*Source, error) {
	service, id, _ := strings.Cut(spec, ":")
	if service != "secretsmanager" && service != "ssm" {
		return nil, fmt.Errorf("secret %q: write secretsmanager:NAME_OR_ARN or ssm:PARAMETER_NAME_OR_ARN", spec)
	}
	if strings.TrimSpace(id) != id || id == "" {
		return nil, fmt.Errorf("secret %q names no %s; write %s:NAME_OR_ARN", spec, service, service)
	}
	s := &Source{spec: spec, service: service, id: id}
	if strings.HasPrefix(id, "arn:") {
		a, err := arn.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("secret %q: bad ARN: %w", spec, err)
		}
		if a.Service != service {
			return nil, fmt.Errorf("secret %q: the ARN is of %s, not %s", spec, a.Service, service)
		}
		s.region = a.Region
	}
	return s, nil
}

// String is the spec.
func (s *Source) String() string { return s.spec }

// Read fetches the secret's value, trimmed; an empty value is an error.
func (s *Source) Read(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	get, err := s.client(ctx)
	if err != nil {
		return "", err
	}
	v, err := get(ctx)
	if err != nil {
		return "", fmt.Errorf("failed to read %s: %w", s.spec, err)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("%s is empty; store the token in it", s.spec)
	}
	return v, nil
}

// client makes the service's client on the first Read and keeps it; loading
// the AWS configuration reads the environment and the shared config files,
// which a cold start need not wait for.
func (s *Source) client(ctx context.Context) (func(context.Context) (string, error), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.get != nil {
		return s.get, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to load the AWS configuration for %s: %w", s.spec, err)
	}
	if s.region != "" {
		cfg.Region = s.region
	}
	switch s.service {
	case "secretsmanager":
		c := secretsmanager.NewFromConfig(cfg)
		s.get = func(ctx context.Context) (string, error) {
			out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.id)})
			if err != nil {
				return "", err
			}
			if out.SecretString == nil {
				return "", errors.New("the secret holds binary data; store the token as the secret's string")
			}
			return *out.SecretString, nil
		}
	default:
		c := ssm.NewFromConfig(cfg)
		s.get = func(ctx context.Context) (string, error) {
			out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.id), WithDecryption: aws.Bool(true)})
			if err != nil {
				return "", err
			}
			if out.Parameter == nil || out.Parameter.Value == nil {
				return "", errors.New("SSM returned no parameter")
			}
			// A String parameter is readable by anyone with
			// ssm:GetParameter and shows in the console: not the place
			// for a token that creates contracts.
			if out.Parameter.Type != ssmtypes.ParameterTypeSecureString {
				return "", fmt.Errorf("the parameter is a %s; store the token as a SecureString", out.Parameter.Type)
			}
			return *out.Parameter.Value, nil
		}
	}
	return s.get, nil
}
