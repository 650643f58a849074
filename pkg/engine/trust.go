package engine

import "fmt"

// RefuseUntrusted says why an untrusted run (docs/trust.md: a pull request from a fork, or a
// run of a trigger marked trusted: false) must not start t, or nil when it may: its source and
// its builds only. Every deploy, an approval (which would ask a person to let untrusted code
// through) and a function (whose role stepline does not know) are refused before they start.
// Both drivers ask it: functions/advance and the local runner.
func RefuseUntrusted(t Task) error {
	if t.Provider == ProviderSource || t.Provider == ProviderBuild {
		return nil
	}
	return fmt.Errorf("action %s/%s (provider %s) refused: this run is untrusted (a pull request from a fork, or a trigger marked trusted: false) and an untrusted run never deploys, asks for approval or invokes a function (docs/trust.md)",
		t.Stage, t.Action, t.Provider)
}
