package cost

import "math"

// CodePipelineV1MonthUSD is what a V1 pipeline costs in a month in which at least one change
// runs through it, whatever the number of runs; V2 pipelines are billed by the action minute
// (CodePipelineMinuteUSD). Both from https://aws.amazon.com/codepipeline/pricing/ ("V1 type
// pipelines: $1.00 per active pipeline per month"; "V2: $0.002 per action execution minute …
// charged for all action types except for manual approval and custom action types").
const CodePipelineV1MonthUSD = 1.00

// Original is the CodePipeline pipeline a stepline pipeline was imported from
// (`stepline import` keeps it in the file's x-codepipeline block).
type Original struct {
	Name    string
	Type    string // V1 or V2
	Actions []OriginalAction
}

// OriginalAction is one action of the original pipeline and the stepline action it became.
type OriginalAction struct {
	// Name is Stage/Action in CodePipeline; Category and Owner decide what it is billed.
	Name, Category, Owner string
	// Stepline is "Stage/Action", "trigger" for a source that became a trigger, or empty.
	Stepline string
}

// OriginalEstimate is what the original pipeline costs on CodePipeline.
type OriginalEstimate struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Minutes and PerRunUSD are V2's bill for one run: each action's minutes rounded up.
	Minutes   int     `json:"minutes,omitempty"`
	PerRunUSD float64 `json:"per_run_usd,omitempty"`
	// PerMonthUSD is V1's price of an active month; SteplineRuns is how many stepline runs
	// cost as much.
	PerMonthUSD  float64 `json:"per_month_usd,omitempty"`
	SteplineRuns float64 `json:"stepline_runs_per_month_price,omitempty"`
	// Times is the original's price of one run over stepline's (V2 only).
	Times float64 `json:"times_stepline,omitempty"`
}

// categoryMinutes is how long an action that has no stepline counterpart is assumed to run,
// by CodePipeline category: as long as the stepline provider doing that kind of work.
func categoryMinutes(category string) float64 {
	switch category {
	case "Source":
		return DefaultMinutes("source")
	case "Build", "Test":
		return DefaultMinutes("codebuild")
	case "Deploy":
		return DefaultMinutes("cloudformation")
	case "Approval":
		return DefaultMinutes("approval")
	}
	return 1
}

// Priced prices the pipeline o was imported from, with the durations this estimate assumed
// for the actions it became: an action stepline runs as Stage/Action takes that action's
// minutes, a source that became a trigger the Source action's, any other its category's.
func (e Estimate) Priced(o Original) OriginalEstimate {
	out := OriginalEstimate{Name: o.Name, Type: o.Type}
	if o.Type != "V2" {
		out.PerMonthUSD = CodePipelineV1MonthUSD
		if e.Total > 0 {
			out.SteplineRuns = CodePipelineV1MonthUSD / e.Total
		}
		return out
	}
	byName := map[string]float64{}
	for _, a := range e.Actions {
		byName[a.Name] = a.Minutes
	}
	for _, a := range o.Actions {
		if a.Category == "Approval" || a.Owner == "Custom" {
			continue
		}
		m, ok := byName[a.Stepline]
		if a.Stepline == "trigger" {
			m, ok = byName["Source/Source"]
		}
		if !ok {
			m = categoryMinutes(a.Category)
		}
		out.Minutes += int(math.Ceil(m))
	}
	out.PerRunUSD = float64(out.Minutes) * CodePipelineMinuteUSD
	if e.Total > 0 {
		out.Times = out.PerRunUSD / e.Total
	}
	return out
}
