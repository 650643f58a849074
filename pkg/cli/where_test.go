package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/statemachine"
)

// What validate says about where each provider runs is what the drivers run: the state
// machine has a state for exactly the providers said to run on AWS, and `stepline run` has
// executors for exactly the ones said to run locally, the AWS deploys only with --aws-deploy.
func TestWhereEachProviderRunsIsWhatTheDriversRun(t *testing.T) {
	t.Parallel()
	plain := localExecutors(localRun{})
	deploys := localExecutors(localRun{deploy: local.AWSDeploy{}})
	for _, p := range pipeline.Providers() {
		w := pipeline.WhereProvider(p)
		_, err := statemachine.KindOf(p)
		assert.Equal(t, w.AWS, err == nil, "%s on AWS (%v)", p, err)
		assert.Equal(t, w.Local && !w.LocalAWSDeploy, plain[p] != nil, "%s in stepline run", p)
		assert.Equal(t, w.Local, deploys[p] != nil, "%s in stepline run --aws-deploy", p)
		if !w.AWS || !w.Local {
			assert.NotEmpty(t, w.Why, "%s says why it cannot run everywhere", p)
		}
	}
}
