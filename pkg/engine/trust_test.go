package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAnUntrustedRunMayRunItsSourceAndBuildsOnly(t *testing.T) {
	t.Parallel()
	for provider, allowed := range map[string]bool{
		ProviderSource: true, "codebuild": true,
		ProviderApproval: false, "ecs": false, "codedeploy": false, "cloudformation": false, "s3": false, "local": false, "lambda": false,
	} {
		err := RefuseUntrusted(Task{Stage: "S", Action: "A", Provider: provider})
		if allowed {
			assert.NoError(t, err, provider)
			continue
		}
		if assert.Error(t, err, provider) {
			assert.Contains(t, err.Error(), "action S/A (provider "+provider+") refused: this run is untrusted", provider)
		}
	}
}
