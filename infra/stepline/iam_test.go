package stepline_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/statemachine"
)

// The permission proofs. Nobody deploys from here, so what a deploy would find out with
// AccessDenied is found out by evaluating the roles of both templates (the CDK stack
// synthesized in-process, template.yml through the offline SAM transform) against what the
// code needs: every Task state's integration (iamcheck.Integrations, one row per Resource
// form, citing its AWS page) and every AWS call each function's tests recorded
// (pkg/iamcheck/testdata/calls.json, kept true by those tests).

// bothTemplates returns the SAM transform output and the synthesized CDK template, by name,
// both with the deploy targets the recorded calls name.
func bothTemplates(t *testing.T) map[string]*iamcheck.Template {
	t.Helper()
	cdk, _ := cdkTemplate(t)
	out := map[string]*iamcheck.Template{}
	for name, doc := range map[string]map[string]any{"SAM": samTemplate(t), "CDK": cdk} {
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		tmpl, err := iamcheck.ParseTemplate(raw)
		require.NoError(t, err)
		// The deploys' grants exist once the stack names their targets (CDK: cdkTemplate's
		// props; SAM: its parameters).
		tmpl.SetParameters(deployTargets)
		out[name] = tmpl
	}
	return out
}

func TestTheStateMachineRoleAllowsWhatEveryTaskIntegrationNeeds(t *testing.T) {
	needs, err := iamcheck.TaskNeeds(statemachine.Definition())
	require.NoError(t, err, "every Task Resource of pipeline.asl.json has its row")
	require.NotEmpty(t, needs)
	for name, tmpl := range bothTemplates(t) {
		if problems := iamcheck.CheckStateMachine(tmpl, "PipelineStateMachine", statemachine.Definition(), "stepline"); len(problems) > 0 {
			t.Errorf("%s template: the state machine's role lacks what its Task states need:\n%s", name, strings.Join(problems, "\n"))
		}
	}
}

func TestEveryRecordedCallIsAllowedByItsFunctionsRole(t *testing.T) {
	contract, err := iamcheck.LoadContract(iamcheck.ContractPath())
	require.NoError(t, err)
	// Every function has its calls recorded: a function missing here would pass unexamined.
	for _, fn := range stepline.FunctionNames() {
		assert.NotEmpty(t, contract[fn], "no test records the AWS calls of the %s function (iamcheck.NewRecorder)", fn)
	}
	for name, tmpl := range bothTemplates(t) {
		if problems := contract.Check(tmpl); len(problems) > 0 {
			t.Errorf("%s template: calls the functions' tests make that their roles do not allow:\n%s", name, strings.Join(problems, "\n"))
		}
	}
}
