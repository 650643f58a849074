package notify

import (
	"net/url"
	"strings"
)

// Links builds the links notifications and statuses carry: the run's page on the dashboard
// when one is configured, otherwise the AWS console's page of the run's Step Functions
// execution; and the console page of a CodeBuild build, for a failed build's log.
type Links struct {
	// Dashboard is the dashboard's URL of a run: "{run}" in it is replaced by the run id,
	// otherwise "/runs/<run id>" is appended. "" when there is no dashboard.
	Dashboard string
	// ExecutionARN is the run's Step Functions execution; its partition and region choose
	// the console. "" locally.
	ExecutionARN string
}

// Run returns the link to run: the dashboard's page, else the execution's console page, else
// "" (a local run without a dashboard, or a partition without a public console).
func (l Links) Run(run string) string {
	if l.Dashboard != "" {
		id := url.PathEscape(run)
		if strings.Contains(l.Dashboard, "{run}") {
			return strings.ReplaceAll(l.Dashboard, "{run}", id)
		}
		return strings.TrimRight(l.Dashboard, "/") + "/runs/" + id
	}
	return ExecutionConsole(l.ExecutionARN)
}

// Build returns the console page of a CodeBuild build in the execution's account and
// region, whose Build logs tab is the log: /codesuite/codebuild/projects/<project>/build/<id>.
// id is CodeBuild's build id, "<project>:<uuid>"; anything else is "".
func (l Links) Build(id string) string {
	host, region, ok := console(l.ExecutionARN)
	project, _, isBuild := strings.Cut(id, ":")
	if !ok || !isBuild || project == "" {
		return ""
	}
	return host + "/codesuite/codebuild/projects/" + url.PathEscape(project) + "/build/" +
		strings.ReplaceAll(url.PathEscape(id), ":", "%3A") + "/?region=" + url.QueryEscape(region)
}

// ExecutionConsole returns the Step Functions console page of an execution,
// https://<region>.console.aws.amazon.com/states/home?region=<region>#/v2/executions/details/<arn>
// (the execution details page, "Viewing execution details in the Step Functions console":
// https://docs.aws.amazon.com/step-functions/latest/dg/concepts-view-execution-details.html),
// on the console of the ARN's partition; "" for an ARN it cannot read.
func ExecutionConsole(executionARN string) string {
	host, region, ok := console(executionARN)
	if !ok || strings.SplitN(executionARN, ":", 7)[5] != "execution" {
		return ""
	}
	return host + "/states/home?region=" + url.QueryEscape(region) + "#/v2/executions/details/" + url.PathEscape(executionARN)
}

// console returns the console root of an ARN's partition and its region. The commercial
// console has a host per region; China's is https://<region>.console.amazonaws.cn; AWS
// GovCloud (US) has one host, https://console.amazonaws-us-gov.com ("AWS GovCloud (US)
// console": https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/configure-account.html).
// The isolated partitions have no public console.
func console(arn string) (host, region string, ok bool) {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) < 7 || parts[0] != "arn" || parts[2] != "states" || !validRegion(parts[3]) {
		return "", "", false
	}
	region = parts[3]
	switch parts[1] {
	case "aws":
		return "https://" + region + ".console.aws.amazon.com", region, true
	case "aws-cn":
		return "https://" + region + ".console.amazonaws.cn", region, true
	case "aws-us-gov":
		return "https://console.amazonaws-us-gov.com", region, true
	}
	return "", "", false
}

// validRegion accepts region names (us-east-1, cn-north-1, us-gov-west-1), which become a
// host name: lower-case letters, digits and dashes.
func validRegion(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
