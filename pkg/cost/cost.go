// Package cost estimates what one run of a pipeline costs on stepline's AWS runtime — Step
// Functions state transitions and Lambda time — next to what the same pipeline, with the
// same action durations, costs on CodePipeline V2. Builds run in CodeBuild either way, so
// their cost is the same on both sides and left out.
package cost

import (
	"fmt"
	"math"
	"strings"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
)

// Prices in US dollars, us-east-1, as published on the AWS pricing pages in November 2026.
const (
	// TransitionUSD is one Step Functions Standard state transition.
	TransitionUSD = 0.000025
	// LambdaGBSecondUSD is one GB-second of an arm64 Lambda function.
	LambdaGBSecondUSD = 0.0000133334
	// LambdaRequestUSD is one Lambda invocation ($0.20 per million).
	LambdaRequestUSD = 0.0000002
	// CodePipelineMinuteUSD is one V2 action execution minute; each action's time is rounded
	// up to a whole minute, and manual approvals are not charged.
	CodePipelineMinuteUSD = 0.002
)

// Lambda sizes and times of stepline's functions in one run.
const (
	advanceGB      = 0.25
	advanceSeconds = 0.15
	sourceGB       = 0.5
	waitGB         = 0.125
	waitSeconds    = 0.1
)

// DefaultMinutes is how long an action of each provider is assumed to run when --minutes
// does not say.
func DefaultMinutes(provider string) float64 {
	switch provider {
	case engine.ProviderSource:
		return 0.25
	case "codebuild":
		return 5
	case "ecs", "codedeploy":
		return 10
	case "cloudformation":
		return 5
	case engine.ProviderApproval:
		return 60
	}
	return 1 // s3, lambda
}

// Action is one action's assumed duration and what it costs on each side.
type Action struct {
	Name    string  `json:"name"`
	Minutes float64 `json:"minutes"`
	// CodePipelineMinutes is what CodePipeline V2 bills: rounded up, zero for approvals.
	CodePipelineMinutes int `json:"codepipeline_minutes"`
}

// Estimate is the cost of one run of a pipeline in which every action succeeds once.
type Estimate struct {
	Pipeline        string   `json:"pipeline"`
	Transitions     int      `json:"transitions"`
	LambdaRequests  int      `json:"lambda_requests"`
	LambdaGBSeconds float64  `json:"lambda_gb_seconds"`
	StepFunctions   float64  `json:"step_functions_usd"`
	Lambda          float64  `json:"lambda_usd"`
	Total           float64  `json:"total_usd"`
	CodePipeline    float64  `json:"codepipeline_v2_usd"`
	Actions         []Action `json:"actions"`
	// Cheaper is CodePipeline's cost over stepline's.
	Cheaper float64 `json:"times_cheaper"`
	// Original is the price of the CodePipeline pipeline this one was imported from, when
	// the file says (stepline import); nil otherwise.
	Original *OriginalEstimate `json:"codepipeline_original,omitempty"`
}

// Of estimates one run of def. minutes overrides durations by "Stage/Action" or "Action".
func Of(def engine.Definition, minutes map[string]float64) (Estimate, error) {
	e := Estimate{Pipeline: def.Pipeline, Transitions: statemachine.Transitions(def)}
	waves := len(statemachine.Waves(def))
	e.LambdaRequests = waves + 1
	e.LambdaGBSeconds = float64(waves+1) * advanceGB * advanceSeconds
	used := map[string]bool{}
	cpMinutes := 0
	for _, sg := range def.Stages {
		for _, a := range sg.Actions {
			name := sg.Name + "/" + a.Name
			m, ok := minutes[name]
			if ok {
				used[name] = true
			} else if m, ok = minutes[a.Name]; ok {
				used[a.Name] = true
			} else {
				m = DefaultMinutes(a.Provider)
			}
			act := Action{Name: name, Minutes: m}
			if a.Provider != engine.ProviderApproval {
				act.CodePipelineMinutes = int(math.Ceil(m))
			}
			cpMinutes += act.CodePipelineMinutes
			e.Actions = append(e.Actions, act)

			kind, err := statemachine.KindOf(a.Provider)
			if err != nil {
				// Only what the state machine runs has a price: a local deploy runs on the
				// machine of `stepline run`, for nothing.
				return Estimate{}, fmt.Errorf("pipeline %s cannot run on AWS: %s/%s: %w", def.Pipeline, sg.Name, a.Name, err)
			}
			switch kind {
			case statemachine.KindSource:
				e.LambdaRequests++
				e.LambdaGBSeconds += sourceGB * m * 60
			case statemachine.KindWait:
				// A deploy or approval: the wait function starts it and returns; Step Functions
				// waits for the token at no charge.
				e.LambdaRequests++
				e.LambdaGBSeconds += waitGB * waitSeconds
			}
		}
	}
	var unknown []string
	for k := range minutes {
		if !used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return Estimate{}, fmt.Errorf("pipeline %s has no action %s", def.Pipeline, strings.Join(unknown, ", "))
	}
	e.StepFunctions = float64(e.Transitions) * TransitionUSD
	e.Lambda = e.LambdaGBSeconds*LambdaGBSecondUSD + float64(e.LambdaRequests)*LambdaRequestUSD
	e.Total = e.StepFunctions + e.Lambda
	e.CodePipeline = float64(cpMinutes) * CodePipelineMinuteUSD
	if e.Total > 0 {
		e.Cheaper = e.CodePipeline / e.Total
	}
	return e, nil
}
