package notify

import "testing"

const executionARN = "arn:aws:states:eu-west-1:123456789012:execution:stepline-pipeline:push-abc-api"

func TestTheRunLinkIsTheDashboardOrElseTheExecutionsConsolePage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		links Links
		run   string
		want  string
	}{
		{"the dashboard's runs page", Links{Dashboard: "https://ci.example.com/", ExecutionARN: executionARN}, "api-42",
			"https://ci.example.com/runs/api-42"},
		{"a dashboard template", Links{Dashboard: "https://ci.example.com/#/run/{run}?tab=log"}, "api 42/x",
			"https://ci.example.com/#/run/api%2042%2Fx?tab=log"},
		{"the commercial console of the execution's region", Links{ExecutionARN: executionARN}, "api-42",
			"https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/" + executionARN},
		{"China's console", Links{ExecutionARN: "arn:aws-cn:states:cn-north-1:123456789012:execution:sm:run"}, "run",
			"https://cn-north-1.console.amazonaws.cn/states/home?region=cn-north-1#/v2/executions/details/arn:aws-cn:states:cn-north-1:123456789012:execution:sm:run"},
		{"GovCloud's one console host", Links{ExecutionARN: "arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:sm:run"}, "run",
			"https://console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#/v2/executions/details/arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:sm:run"},
		{"no public console in an isolated partition", Links{ExecutionARN: "arn:aws-iso:states:us-iso-east-1:123456789012:execution:sm:run"}, "run", ""},
		{"a state machine ARN is no execution", Links{ExecutionARN: "arn:aws:states:eu-west-1:123456789012:stateMachine:sm"}, "run", ""},
		{"a region that is no host name", Links{ExecutionARN: "arn:aws:states:evil.com/x:123456789012:execution:sm:run"}, "run", ""},
		{"a local run without a dashboard", Links{}, "api-42", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.links.Run(tc.run); got != tc.want {
				t.Errorf("Run(%q) = %q, want %q", tc.run, got, tc.want)
			}
		})
	}
}

func TestABuildLinkIsTheCodeBuildConsolePageOfTheBuild(t *testing.T) {
	t.Parallel()
	l := Links{ExecutionARN: executionARN}
	want := "https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/stepline-build/build/stepline-build%3A7d1f9c2e-1111-2222-3333-444455556666/?region=eu-west-1"
	if got := l.Build("stepline-build:7d1f9c2e-1111-2222-3333-444455556666"); got != want {
		t.Errorf("Build = %q\nwant    %q", got, want)
	}
	for _, id := range []string{"", "no-colon", ":uuid"} {
		if got := l.Build(id); got != "" {
			t.Errorf("Build(%q) = %q", id, got)
		}
	}
	if got := (Links{}).Build("p:u"); got != "" {
		t.Errorf("Build without an execution = %q", got)
	}
}
