package stepline_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
)

// TestMain stops the jsii kernel (a node process) once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// newStack builds a stack from props against empty placeholder zips, so the tests never
// depend on `make build-functions`.
func newStack(t *testing.T, props stepline.Props) (awscdk.App, awscdk.Stack) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, stepline.WritePlaceholderZips(dir))
	props.FunctionsDir = dir
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), AnalyticsReporting: jsii.Bool(false)})
	stack := stepline.NewStack(app, "Test", &stepline.StackProps{Props: props})
	return app, stack
}

// synth returns the stack's template, both for the assertions library and as plain Go
// values for checks the library cannot express.
func synth(t *testing.T, props stepline.Props) (assertions.Template, map[string]any) {
	t.Helper()
	_, stack := newStack(t, props)
	tmpl := assertions.Template_FromStack(stack, nil)
	raw, err := json.Marshal(tmpl.ToJSON())
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	return tmpl, doc
}

// resources returns the template's resources of one type, by logical id.
func resources(doc map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range doc["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			props, _ := res["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }
