package pipeline

import (
	"fmt"
	"strings"
)

// Where says where actions of one provider can run: in the AWS state machine, in
// `stepline run` on a machine without AWS, or in `stepline run` only when it is allowed to
// deploy to the user's AWS account (--aws-deploy). The drivers agree with it: pkg/cli's tests
// compare it with statemachine.KindOf and with the executors `stepline run` builds.
type Where struct {
	AWS   bool
	Local bool
	// LocalAWSDeploy is true when Local needs `stepline run --aws-deploy`.
	LocalAWSDeploy bool
	// Why explains a place the provider cannot run in.
	Why string
}

// whereProviders is where each provider runs.
var whereProviders = map[string]Where{
	ProviderCodeBuild:      {AWS: true, Local: true},
	ProviderApproval:       {AWS: true, Local: true},
	ProviderLocal:          {Local: true, Why: "deploys to a directory of the machine running stepline run"},
	ProviderECS:            {AWS: true, Local: true, LocalAWSDeploy: true},
	ProviderCodeDeploy:     {AWS: true, Local: true, LocalAWSDeploy: true},
	ProviderCloudFormation: {AWS: true, Local: true, LocalAWSDeploy: true},
	ProviderS3:             {AWS: true, Local: true, LocalAWSDeploy: true},
	ProviderLambda:         {AWS: true, Why: "invokes the function from the state machine; stepline run has no executor for it"},
}

// WhereProvider returns where actions of provider can run (nowhere for an unknown one).
func WhereProvider(provider string) Where { return whereProviders[provider] }

// Placement is where a whole pipeline can run: everywhere each of its actions can.
type Placement struct {
	AWS, Local, LocalAWSDeploy bool
	// NotAWS and NotLocal name the actions that keep the pipeline off AWS or off
	// `stepline run`, as "Stage/Action (provider)"; AWSDeploy the ones needing --aws-deploy.
	NotAWS, NotLocal, AWSDeploy []string
}

// Placement returns where p can run.
func (p *Pipeline) Placement() Placement {
	pl := Placement{AWS: true, Local: true}
	for _, st := range p.Stages {
		for _, a := range st.Actions {
			w := whereProviders[a.Provider.Value]
			name := fmt.Sprintf("%s (%s)", a.ID(), a.Provider.Value)
			if !w.AWS {
				pl.AWS = false
				pl.NotAWS = append(pl.NotAWS, name)
			}
			if !w.Local {
				pl.Local = false
				pl.NotLocal = append(pl.NotLocal, name)
			}
			if w.LocalAWSDeploy {
				pl.LocalAWSDeploy = true
				pl.AWSDeploy = append(pl.AWSDeploy, name)
			}
		}
	}
	return pl
}

// String says where the pipeline runs, in words, for `stepline validate`: "runs on AWS;
// locally with stepline run --aws-deploy (Staging/Service (ecs) deploys to your AWS account)".
func (pl Placement) String() string {
	local := "locally with stepline run"
	if pl.LocalAWSDeploy {
		local += " --aws-deploy (" + strings.Join(pl.AWSDeploy, ", ") + " deploy to your AWS account)"
	}
	switch {
	case pl.AWS && pl.Local:
		return "runs on AWS; " + local
	case pl.AWS:
		return "runs on AWS only: " + strings.Join(pl.NotLocal, ", ") + " cannot run locally"
	case pl.Local:
		return "runs only " + local + ": " + strings.Join(pl.NotAWS, ", ") + " cannot run on AWS"
	}
	return "runs nowhere: " + strings.Join(pl.NotAWS, ", ") + " cannot run on AWS, " + strings.Join(pl.NotLocal, ", ") + " cannot run locally"
}

// checkPlacement reports a pipeline whose actions can never all run in one place: one that
// only `stepline run` runs (local) beside one that only AWS runs (lambda).
func (d *decoder) checkPlacement(pi *pipelineIndex) {
	var onlyLocal, onlyAWS *Action
	for _, a := range pi.actions {
		w, known := whereProviders[a.Provider.Value]
		if !known {
			continue
		}
		if !w.AWS && onlyLocal == nil {
			onlyLocal = a
		}
		if !w.Local && onlyAWS == nil {
			onlyAWS = a
		}
	}
	if onlyLocal == nil || onlyAWS == nil {
		return
	}
	later := onlyAWS
	if onlyLocal.Provider.Pos.Line > later.Provider.Pos.Line {
		later = onlyLocal
	}
	d.report(later.Provider.Pos, RuleRunnable, "pipeline %q can run nowhere: action %s (provider %s) runs only with stepline run and action %s (provider %s) only on AWS",
		pi.p.Name.Value, onlyLocal.ID(), onlyLocal.Provider.Value, onlyAWS.ID(), onlyAWS.Provider.Value)
}
