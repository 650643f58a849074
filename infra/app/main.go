// Command app is the stepline CDK app: one stack, configured by context values.
//
//	cd infra && npx aws-cdk@2 synth -c name=stepline -c notificationEmail=ops@example.com \
//	    -c allowedRepositories=github:acme/* -c logRetentionDays=30 -c artifactRetentionDays=30
//
// Further context: stackName (default: the name), functionsDir (default: dist/functions of
// the repository). The stack is environment-agnostic and uses the default synthesizer, so
// synth needs no credentials, no network and no lookups; deploy needs `cdk bootstrap` once.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/stepline/stepline/infra/stepline"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	props, stackName, err := propsFromContext(app)
	if err == nil {
		err = props.Validate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		jsii.Close()
		os.Exit(1)
	}
	stepline.NewStack(app, stackName, &stepline.StackProps{
		StackProps: awscdk.StackProps{
			StackName:   jsii.String(stackName),
			Synthesizer: awscdk.NewDefaultStackSynthesizer(nil),
		},
		Props: props,
	})
	app.Synth(nil)
}

// propsFromContext reads the -c values. Values given with -c arrive as strings, values in
// cdk.json may be numbers or lists, so both are accepted.
func propsFromContext(app awscdk.App) (stepline.Props, string, error) {
	str := func(key string) string {
		switch v := app.Node().TryGetContext(jsii.String(key)).(type) {
		case nil:
			return ""
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case []any:
			parts := make([]string, 0, len(v))
			for _, p := range v {
				parts = append(parts, fmt.Sprint(p))
			}
			return strings.Join(parts, ",")
		default:
			return fmt.Sprint(v)
		}
	}
	num := func(key string) (int, error) {
		s := str(key)
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("context %s=%q is not a whole number of days", key, s)
		}
		return n, nil
	}
	p := stepline.Props{
		Name:              str("name"),
		NotificationEmail: str("notificationEmail"),
		FunctionsDir:      str("functionsDir"),
	}
	if s := str("allowedRepositories"); s != "" {
		for _, r := range strings.Split(s, ",") {
			p.AllowedRepositories = append(p.AllowedRepositories, strings.TrimSpace(r))
		}
	}
	var err error
	if p.LogRetentionDays, err = num("logRetentionDays"); err != nil {
		return p, "", err
	}
	if p.ArtifactRetentionDays, err = num("artifactRetentionDays"); err != nil {
		return p, "", err
	}
	stackName := str("stackName")
	if stackName == "" {
		stackName = p.Name
	}
	if stackName == "" {
		stackName = stepline.DefaultName
	}
	return p, stackName, nil
}
