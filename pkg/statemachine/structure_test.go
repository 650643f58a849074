package statemachine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
)

// state is the part of an ASL state the structure tests read.
type state struct {
	Type          string            `json:"Type"`
	Next          string            `json:"Next"`
	End           bool              `json:"End"`
	Default       string            `json:"Default"`
	Resource      string            `json:"Resource"`
	Choices       []choice          `json:"Choices"`
	Catch         []catcher         `json:"Catch"`
	Retry         []catcher         `json:"Retry"`
	Parameters    map[string]any    `json:"Parameters"`
	ItemProcessor *machine          `json:"ItemProcessor"`
	Extra         map[string]string `json:"-"`
}

type choice struct {
	Next     string   `json:"Next"`
	Variable string   `json:"Variable"`
	Equals   string   `json:"StringEquals"`
	And      []choice `json:"And"`
}

type catcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	Next        string   `json:"Next"`
}

type machine struct {
	StartAt string           `json:"StartAt"`
	States  map[string]state `json:"States"`
}

func load(t *testing.T) machine {
	t.Helper()
	var m machine
	require.NoError(t, json.Unmarshal(Definition(), &m))
	return m
}

// targets lists the states a state can go to.
func targets(s state) []string {
	var out []string
	if s.Next != "" {
		out = append(out, s.Next)
	}
	if s.Default != "" {
		out = append(out, s.Default)
	}
	for _, c := range s.Choices {
		out = append(out, c.Next)
	}
	for _, c := range s.Catch {
		out = append(out, c.Next)
	}
	return out
}

func checkScope(t *testing.T, name string, m machine) {
	t.Helper()
	_, ok := m.States[m.StartAt]
	require.True(t, ok, "%s: StartAt %q is not a state", name, m.StartAt)
	reached := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if reached[n] {
			return
		}
		reached[n] = true
		for _, next := range targets(m.States[n]) {
			walk(next)
		}
	}
	walk(m.StartAt)
	for n, s := range m.States {
		for _, next := range targets(s) {
			_, ok := m.States[next]
			assert.True(t, ok, "%s: %s goes to %q, which is not a state of its scope", name, n, next)
		}
		terminal := s.Type == "Succeed" || s.Type == "Fail" || s.Type == "Choice"
		if !terminal {
			assert.True(t, s.End != (s.Next != ""), "%s: %s needs exactly one of Next and End", name, n)
		}
		assert.True(t, reached[n], "%s: %s cannot be reached from %s", name, n, m.StartAt)
		if s.ItemProcessor != nil {
			checkScope(t, n, *s.ItemProcessor)
		}
	}
}

func TestEveryTargetExistsAndEveryStateIsReachable(t *testing.T) {
	t.Parallel()
	checkScope(t, "pipeline.asl.json", load(t))
}

func TestEveryKindHasAStateAtTheTopAndInTheMap(t *testing.T) {
	t.Parallel()
	m := load(t)
	route := m.States["Route"]
	kindChoice := m.States["Dispatch"].ItemProcessor.States["Kind"]
	for _, k := range Kinds() {
		top := stateOf(k)
		_, ok := m.States[top]
		assert.True(t, ok, "kind %s has no top-level state %s", k, top)
		_, ok = m.States["Dispatch"].ItemProcessor.States["Map"+top]
		assert.True(t, ok, "kind %s has no state Map%s in the Dispatch map", k, top)

		routed := false
		for _, c := range route.Choices {
			if c.Next == top && len(c.And) == 2 && c.And[0].Equals == string(RouteSingle) && c.And[1].Equals == string(k) {
				routed = true
			}
		}
		assert.True(t, routed, "Route sends no single %s task to %s", k, top)
		assert.Contains(t, choiceTargets(kindChoice, string(k)), "Map"+top, "the map's Kind choice does not dispatch %s", k)
	}
	for _, r := range []Route{RouteMap, RouteSleep, RouteDone} {
		found := false
		for _, c := range route.Choices {
			if c.Equals == string(r) || (len(c.And) > 0 && c.And[0].Equals == string(r)) {
				found = true
			}
		}
		assert.True(t, found, "Route does not handle route %s", r)
	}
}

func stateOf(k Kind) string {
	return map[Kind]string{KindSource: "Source", KindCodeBuild: "CodeBuild", KindWait: "Wait", KindPark: "Park", KindLambda: "Lambda"}[k]
}

func choiceTargets(s state, value string) []string {
	var out []string
	for _, c := range s.Choices {
		if c.Equals == value {
			out = append(out, c.Next)
		}
	}
	return out
}

func TestTheTopAndMapCopiesOfEachKindAreTheSameApartFromWhereTheyGo(t *testing.T) {
	t.Parallel()
	var raw struct {
		States map[string]map[string]any `json:"States"`
	}
	require.NoError(t, json.Unmarshal(Definition(), &raw))
	var inMap struct {
		ItemProcessor struct {
			States map[string]map[string]any `json:"States"`
		} `json:"ItemProcessor"`
	}
	b, _ := json.Marshal(raw.States["Dispatch"])
	require.NoError(t, json.Unmarshal(b, &inMap))
	for _, k := range Kinds() {
		top, mapped := raw.States[stateOf(k)], inMap.ItemProcessor.States["Map"+stateOf(k)]
		for _, key := range []string{"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry", "TimeoutSeconds", "TimeoutSecondsPath"} {
			assert.Equal(t, top[key], mapped[key], "%s: %s differs between the top-level state and the map's", k, key)
		}
	}
}

func TestEveryProviderThePipelineFileAcceptsHasADispatchState(t *testing.T) {
	t.Parallel()
	for _, p := range append(pipeline.Providers(), engine.ProviderSource) {
		k, err := KindOf(p)
		if p == pipeline.ProviderLocal {
			require.Error(t, err, "local deploys to this machine's directories and has no AWS meaning")
			assert.Contains(t, err.Error(), "stepline run")
			continue
		}
		require.NoError(t, err, p)
		assert.Contains(t, Kinds(), k, p)
	}
}

// functionErrors are the error type names each function returns at the Lambda boundary; the
// functions' own tests pin their Go type names to these.
var functionErrors = map[string][]string{
	"${AdvanceFunctionArn}": {ErrAdvanceConflict, ErrAdvanceUnavailable},
	"${SourceFunctionArn}":  {ErrSourceNotFound, ErrSourceUnauthorized, ErrSourceUnavailable, ErrSourceInvalidInput, ErrSourceInvalidArchive, ErrSourceFailed},
	"${WaitFunctionArn}":    {ErrActionRejected, ErrActionFailed, ErrActionTimedOut},
}

func TestEveryErrorAFunctionReturnsIsCaughtOrRetriedByName(t *testing.T) {
	t.Parallel()
	m := load(t)
	scopes := []machine{m, *m.States["Dispatch"].ItemProcessor}
	for fn, names := range functionErrors {
		used := false
		for _, sc := range scopes {
			for n, s := range sc.States {
				if s.Resource != fn && s.Parameters["FunctionName"] != fn {
					continue
				}
				used = true
				var handled []string
				for _, c := range append(append([]catcher{}, s.Catch...), s.Retry...) {
					handled = append(handled, c.ErrorEquals...)
				}
				for _, e := range names {
					assert.Contains(t, handled, e, "%s invokes %s but neither catches nor retries %s by name", n, fn, e)
				}
			}
		}
		assert.True(t, used, "no state invokes %s", fn)
	}
}

func TestThePlaceholdersAreExactlyTheSubstitutions(t *testing.T) {
	t.Parallel()
	found := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z]+)\}`).FindAllStringSubmatch(string(Definition()), -1) {
		found[m[1]] = true
	}
	var names []string
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	want := Substitutions()
	slices.Sort(want)
	assert.Equal(t, want, names)
}

// TestNoObjectRepeatsAKey reads the file token by token: encoding/json keeps the last of two
// equal keys without a word, Step Functions may refuse the definition, and a repeated
// parameter is a mistake either way.
func TestNoObjectRepeatsAKey(t *testing.T) {
	t.Parallel()
	assert.Empty(t, repeatedKeys(t, Definition()))
	assert.Equal(t, []string{`"b" at byte 15`}, repeatedKeys(t, []byte(`{"a":{"b":1,"b":2},"c":[{"b":1}]}`)), "the check finds one")
}

func repeatedKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	// Each open object keeps the keys seen so far; arrays push nil.
	var stack []map[string]bool
	expectKey := func() bool { return len(stack) > 0 && stack[len(stack)-1] != nil }
	var out []string
	keyNext := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, map[string]bool{})
				keyNext = true
				continue
			case '[':
				stack = append(stack, nil)
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		case string:
			if keyNext && expectKey() {
				if stack[len(stack)-1][v] {
					out = append(out, fmt.Sprintf("%q at byte %d", v, dec.InputOffset()))
				}
				stack[len(stack)-1][v] = true
				keyNext = false
				continue
			}
		}
		keyNext = expectKey()
	}
}

func TestTheFileIsValidForASLValidator(t *testing.T) {
	t.Parallel()
	bin := "../../scripts/node/node_modules/.bin/asl-validator"
	_, err := os.Stat(bin)
	require.NoError(t, err, "asl-validator comes from npm: run make node-tools")
	out, err := exec.Command(bin, "--json-path", "pipeline.asl.json").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "is valid")
}

// TestTheEnvironmentStatesAreTheirCodeBuildStatesWithTheOverrides keeps each pair from
// drifting apart: the same retries, catches, timeout and parameters, plus the four
// environment overrides read from the task's build_environment, and chosen before the plain
// state exactly when the task has one.
func TestTheEnvironmentStatesAreTheirCodeBuildStatesWithTheOverrides(t *testing.T) {
	t.Parallel()
	var raw struct {
		States map[string]map[string]any `json:"States"`
	}
	require.NoError(t, json.Unmarshal(Definition(), &raw))
	var inMap struct {
		ItemProcessor struct {
			States map[string]map[string]any `json:"States"`
		} `json:"ItemProcessor"`
	}
	b, _ := json.Marshal(raw.States["Dispatch"])
	require.NoError(t, json.Unmarshal(b, &inMap))
	overrides := map[string]any{
		"ImageOverride.$":                    "$.task.codebuild.build_environment.image",
		"ComputeTypeOverride.$":              "$.task.codebuild.build_environment.compute_type",
		"PrivilegedModeOverride.$":           "$.task.codebuild.build_environment.privileged_mode",
		"ImagePullCredentialsTypeOverride.$": "$.task.codebuild.build_environment.image_pull_credentials_type",
	}
	for _, scope := range []map[string]map[string]any{raw.States, inMap.ItemProcessor.States} {
		plainName := "CodeBuild"
		if _, ok := scope["MapCodeBuild"]; ok {
			plainName = "MapCodeBuild"
		}
		plain, env := scope[plainName], scope[plainName+"Environment"]
		require.NotNil(t, env, "%sEnvironment exists", plainName)
		params := map[string]any{}
		for k, v := range plain["Parameters"].(map[string]any) {
			params[k] = v
		}
		for k, v := range overrides {
			params[k] = v
		}
		assert.Equal(t, params, env["Parameters"], plainName)
		for k, v := range plain {
			if k != "Parameters" && k != "Comment" {
				assert.Equal(t, v, env[k], "%s and its environment state differ in %s", plainName, k)
			}
		}
	}
	m := load(t)
	for _, c := range []struct {
		choices []choice
		target  string
	}{{m.States["Route"].Choices, "CodeBuild"}, {m.States["Dispatch"].ItemProcessor.States["Kind"].Choices, "MapCodeBuild"}} {
		envAt := slices.IndexFunc(c.choices, func(ch choice) bool { return ch.Next == c.target+"Environment" })
		plainAt := slices.IndexFunc(c.choices, func(ch choice) bool { return ch.Next == c.target })
		require.GreaterOrEqual(t, envAt, 0, "%sEnvironment is chosen", c.target)
		assert.Less(t, envAt, plainAt, "%sEnvironment is tried before %s, which would take its tasks", c.target, c.target)
	}
}
