package iamcheck

import (
	"testing"
)

func TestPolicyAllowsWhatAStatementGrantsAndNothingElse(t *testing.T) {
	t.Parallel()
	table := "arn:aws:dynamodb:us-east-1:123456789012:table/stepline"
	policy := Policy{
		{Effect: "Allow", Action: []string{"dynamodb:Query"}, Resource: []string{table, table + "/index/*"}},
		{Effect: "Allow", Action: []string{"dynamodb:GetItem"}, Resource: []string{table}},
		{Effect: "Allow", Action: []string{"s3:Get*"}, Resource: []string{"arn:aws:s3:::bucket/webhooks/*"}},
		{Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{"arn:aws:s3:::bucket"},
			Condition: map[string]map[string][]string{"StringLike": {"s3:prefix": {"webhooks/*"}}}},
		{Effect: "Allow", Action: []string{"iam:PassRole"}, Resource: []string{"arn:aws:iam::123456789012:role/scheduler"},
			Condition: map[string]map[string][]string{"StringEquals": {"iam:PassedToService": {"scheduler.amazonaws.com"}}}},
		{Effect: "Allow", Action: []string{"secretsmanager:GetSecretValue"}, Resource: []string{"arn:aws:secretsmanager:us-east-1:123456789012:secret:stepline/repos/*"}},
		{Effect: "Allow", Action: []string{"codecommit:GetBlob"}, Resource: []string{"arn:aws:codecommit:us-east-1:123456789012:*"}},
		{Effect: "Allow", Action: []string{"xray:PutTraceSegments"}, Resource: []string{"*"}},
		{Effect: "Allow", Action: []string{"states:SendTask?uccess"}, Resource: []string{"arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline"}},
		{Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{"arn:aws:sqs:us-east-1:123456789012:q"},
			Condition: map[string]map[string][]string{"Bool": {"aws:SecureTransport": {"true"}}}},
		{Effect: "Allow", NotAction: []string{"iam:*"}, Resource: []string{"*"}},
		{Effect: "Allow", Action: []string{"events:PutEvents"}, Resource: []string{"arn:aws:events:us-east-1:123456789012:event-bus/*"}},
		{Effect: "Deny", Action: []string{"events:PutEvents"}, Resource: []string{"arn:aws:events:us-east-1:123456789012:event-bus/default"}},
	}
	for _, c := range []struct {
		name string
		req  Request
		want bool
	}{
		{"an action on a resource it lists is allowed", Request{Action: "dynamodb:GetItem", Resource: table}, true},
		{"actions match whatever their case", Request{Action: "DynamoDB:getitem", Resource: table}, true},
		{"an index under the table's index pattern is allowed", Request{Action: "dynamodb:Query", Resource: table + "/index/gsi1"}, true},
		{"an action the statement does not list is DENIED", Request{Action: "dynamodb:PutItem", Resource: table}, false},
		{"another table is DENIED", Request{Action: "dynamodb:GetItem", Resource: "arn:aws:dynamodb:us-east-1:123456789012:table/other"}, false},
		{"a table in another region is DENIED", Request{Action: "dynamodb:GetItem", Resource: "arn:aws:dynamodb:eu-west-1:123456789012:table/stepline"}, false},
		{"an index is not the table: DENIED without the index pattern", Request{Action: "dynamodb:GetItem", Resource: table + "/index/gsi1"}, false},
		{"an action wildcard covers the actions it names", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket/webhooks/a/b"}, true},
		{"an action wildcard does not cover others: DENIED", Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::bucket/webhooks/a"}, false},
		{"an object outside the granted prefix is DENIED", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket/runs/a"}, false},
		{"a condition the request meets allows", Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::bucket", Context: map[string]string{"s3:prefix": "webhooks/x"}}, true},
		{"a condition the request fails is DENIED", Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::bucket", Context: map[string]string{"s3:prefix": "runs/x"}}, false},
		{"a condition key the request lacks is DENIED", Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::bucket"}, false},
		{"PassRole to the named service is allowed", Request{Action: "iam:PassRole", Resource: "arn:aws:iam::123456789012:role/scheduler", Context: map[string]string{"iam:PassedToService": "scheduler.amazonaws.com"}}, true},
		{"PassRole to another service is DENIED", Request{Action: "iam:PassRole", Resource: "arn:aws:iam::123456789012:role/scheduler", Context: map[string]string{"iam:PassedToService": "lambda.amazonaws.com"}}, false},
		{"a secret under the prefix, with its random suffix, is allowed", Request{Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:stepline/repos/github/acme/api-AbCdEf"}, true},
		{"a secret outside the prefix is DENIED", Request{Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:other/x-AbCdEf"}, false},
		{"an account-wide pattern covers a repository of the account", Request{Action: "codecommit:GetBlob", Resource: "arn:aws:codecommit:us-east-1:123456789012:api"}, true},
		{"an account-wide pattern does not cover another account: DENIED", Request{Action: "codecommit:GetBlob", Resource: "arn:aws:codecommit:us-east-1:999999999999:api"}, false},
		{"Resource * covers everything", Request{Action: "xray:PutTraceSegments", Resource: "*"}, true},
		{"? stands for one character", Request{Action: "states:SendTaskSuccess", Resource: "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline"}, true},
		{"a grant on one state machine does not cover another: DENIED", Request{Action: "states:SendTaskSuccess", Resource: "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline2"}, false},
		{"an operator the evaluator does not judge allows nothing: DENIED", Request{Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:123456789012:q", Context: map[string]string{"aws:SecureTransport": "true"}}, false},
		{"NotAction is not evaluated and allows nothing: DENIED", Request{Action: "lambda:InvokeFunction", Resource: "arn:aws:lambda:us-east-1:123456789012:function:f"}, false},
		{"a matching Deny wins over an Allow: DENIED", Request{Action: "events:PutEvents", Resource: "arn:aws:events:us-east-1:123456789012:event-bus/default"}, false},
		{"the Deny does not reach other buses", Request{Action: "events:PutEvents", Resource: "arn:aws:events:us-east-1:123456789012:event-bus/stepline"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := policy.Allows(c.req); got != c.want {
				t.Errorf("Allows(%s) = %v, want %v", c.req, got, c.want)
			}
		})
	}
}

func TestAWildcardInTheRequestIsALiteralOnlyAWildcardGrantCovers(t *testing.T) {
	t.Parallel()
	// The contract writes a run-dependent part of a resource as *: only a grant covering
	// any value there allows it.
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{"arn:aws:s3:::bucket/runs/*", true},
		{"arn:aws:s3:::bucket/*", true},
		{"arn:aws:s3:::bucket/runs/abc*", false},
		{"arn:aws:s3:::bucket/runs/x", false},
	} {
		if got := MatchResource(c.pattern, "arn:aws:s3:::bucket/runs/*"); got != c.want {
			t.Errorf("MatchResource(%q, runs/*) = %v, want %v", c.pattern, got, c.want)
		}
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"*", "", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*a*b", "xaxxb", true},
		{"*a*b", "xaxxbc", false},
		{"ab", "abc", false},
	} {
		if got := glob(c.pattern, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}
