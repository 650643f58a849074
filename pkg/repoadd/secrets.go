package repoadd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
)

// secretsAPI is the Secrets Manager calls registering a repository makes: find the
// repository's secret by its tag, create it, or read and extend it for a rotation.
type secretsAPI interface {
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

var _ secretsAPI = (*secretsmanager.Client)(nil)

// TagKey is the tag every repository secret carries; its value is provider:owner/repo in
// lower case (the webhook compares repositories without regard to case). A secret written
// by hand lacks it, and is then invisible to Add: tag it to make Add see it.
const TagKey = "stepline:repository"

// tagValue returns the tag value of a repository. Tag values may not hold "~", which starts
// a Data Center personal project, so it becomes "@", which no provider allows in a name.
func tagValue(provider, repo string) string {
	return strings.ReplaceAll(strings.ToLower(provider+":"+repo), "~", "@")
}

// found is an existing secret of the repository.
type found struct {
	name, arn string
}

func names(fs []found) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// find lists the secrets under the prefix tagged with the repository. ListSecrets matches
// names and tag values by prefix (octo/app would find octo/app2), so each answer is checked
// exactly.
func (r *Registrar) find(ctx context.Context, req Request) ([]found, error) {
	want := tagValue(req.Provider, req.Repository)
	in := &secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{
		{Key: smtypes.FilterNameStringTypeName, Values: []string{req.SecretPrefix}},
		{Key: smtypes.FilterNameStringTypeTagKey, Values: []string{TagKey}},
		{Key: smtypes.FilterNameStringTypeTagValue, Values: []string{want}},
	}}
	var out []found
	for {
		page, err := r.sm.ListSecrets(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("look for the secret of %s: %w", want, err)
		}
		for _, s := range page.SecretList {
			name := aws.ToString(s.Name)
			if !strings.HasPrefix(name, req.SecretPrefix) {
				continue
			}
			for _, t := range s.Tags {
				if aws.ToString(t.Key) == TagKey && aws.ToString(t.Value) == want {
					out = append(out, found{name: name, arn: aws.ToString(s.ARN)})
					break
				}
			}
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// create writes a new secret under a fresh hook id.
func (r *Registrar) create(ctx context.Context, req Request, res *Result) error {
	hook, err := r.newHook()
	if err != nil {
		return err
	}
	value := reposecret.Secret{Provider: req.Provider, Repository: req.Repository,
		WebhookSecrets: []string{res.WebhookSecret}, Token: req.Token, APIURL: storedAPIURL(req)}
	body, err := encode(value)
	if err != nil {
		return err
	}
	name := req.SecretPrefix + hook
	out, err := r.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		Description:  aws.String("stepline: webhook secrets and API token of " + res.Key),
		SecretString: aws.String(body),
		Tags:         []smtypes.Tag{{Key: aws.String(TagKey), Value: aws.String(res.Key)}},
	})
	if err != nil {
		return fmt.Errorf("create secret %s: %w", name, err)
	}
	res.SecretName, res.SecretARN, res.Hook = name, aws.ToString(out.ARN), hook
	res.WebhookSecrets = 1
	return nil
}

// rotate appends the new webhook secret to the existing secret's list, keeping the old ones:
// the webhook accepts a delivery signed with any of them, so deliveries in flight, and the
// provider until it is given the new secret, still verify. A token or API URL in req
// replaces the stored one; otherwise the stored one stays.
func (r *Registrar) rotate(ctx context.Context, req Request, f found, res *Result) error {
	hook := strings.TrimPrefix(f.name, req.SecretPrefix)
	if !reposecret.ValidHook(hook) {
		return fmt.Errorf("secret %s is tagged %s but its name does not end in a hook id", f.name, res.Key)
	}
	got, err := r.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(f.arn)})
	if err != nil {
		return fmt.Errorf("read secret %s: %w", f.name, err)
	}
	cur, err := reposecret.Parse([]byte(aws.ToString(got.SecretString)))
	if err != nil {
		return fmt.Errorf("secret %s: %w", f.name, err)
	}
	if cur.Provider != req.Provider || !strings.EqualFold(cur.Repository, req.Repository) {
		return fmt.Errorf("secret %s is tagged %s but holds %s:%s; fix its tag or its value", f.name, res.Key, cur.Provider, cur.Repository)
	}
	cur.WebhookSecrets = append(cur.WebhookSecrets, res.WebhookSecret)
	if req.Token != "" {
		cur.Token = req.Token
	}
	if u := storedAPIURL(req); u != "" {
		cur.APIURL = u
	}
	body, err := encode(cur)
	if err != nil {
		return err
	}
	if _, err := r.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(f.arn), SecretString: aws.String(body)}); err != nil {
		return fmt.Errorf("add a webhook secret to %s: %w", f.name, err)
	}
	res.SecretName, res.SecretARN, res.Hook = f.name, f.arn, hook
	res.Rotated, res.WebhookSecrets = true, len(cur.Keys())
	return nil
}

// storedAPIURL is the api_url the secret keeps: the Data Center base URL, or a GitHub
// Enterprise API root. Bitbucket Cloud's functions use their own configured root.
func storedAPIURL(req Request) string {
	if req.Provider == scm.Bitbucket {
		return ""
	}
	return req.APIURL
}

// encode marshals a secret value, checked by the parser the functions read it with.
func encode(s reposecret.Secret) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	if _, err := reposecret.Parse(b); err != nil {
		return "", err
	}
	return string(b), nil
}
