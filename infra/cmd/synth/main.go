// Command synth prints the stepline stack's CloudFormation template as JSON on stdout,
// without the cdk CLI and without AWS credentials: the template the SAM parity test and
// cfn-lint read.
//
//	go run ./cmd/synth [-placeholders] [-name stepline] [-functions-dir DIR] > stepline.template.json
//
// -placeholders synthesizes against empty function zips, so no `make build-functions` is
// needed; the template is the same except for the code's asset hashes.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/stepline/stepline/infra/stepline"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
}

func run() error {
	var p stepline.Props
	var allowed string
	var placeholders bool
	flag.StringVar(&p.Name, "name", stepline.DefaultName, "prefix of every physical name")
	flag.StringVar(&p.NotificationEmail, "notification-email", "", "address subscribed to the notification topic")
	flag.StringVar(&p.DashboardURL, "dashboard-url", "", "the dashboard's URL of a run, which statuses and notifications link to (default: the execution's console page)")
	flag.StringVar(&allowed, "allowed-repositories", "", "comma-separated provider:owner/repo globs the webhook accepts")
	flag.IntVar(&p.LogRetentionDays, "log-retention-days", stepline.DefaultLogRetentionDays, "retention of every log group")
	flag.IntVar(&p.ArtifactRetentionDays, "artifact-retention-days", stepline.DefaultArtifactRetentionDays, "days runs/ artifacts are kept")
	flag.StringVar(&p.FunctionsDir, "functions-dir", "", "directory of <fn>.zip (default: the repository's dist/functions)")
	flag.BoolVar(&placeholders, "placeholders", false, "use empty function zips instead of built ones")
	flag.Parse()
	if allowed != "" {
		p.AllowedRepositories = strings.Split(allowed, ",")
	}

	out, err := os.MkdirTemp("", "stepline-synth-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	// Stop the jsii kernel (a node process) before its output directory goes, and on every
	// path: it starts when the CDK packages load, not on the first call.
	defer jsii.Close()
	if placeholders {
		p.FunctionsDir = out + "/functions"
		if err := stepline.WritePlaceholderZips(p.FunctionsDir); err != nil {
			return err
		}
	}
	if err := p.Validate(); err != nil {
		return err
	}

	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out + "/cdk.out"), AnalyticsReporting: jsii.Bool(false)})
	stack := stepline.NewStack(app, p.Name, &stepline.StackProps{Props: p})
	template := app.Synth(nil).GetStackArtifact(stack.ArtifactId()).Template()
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(template)
}
