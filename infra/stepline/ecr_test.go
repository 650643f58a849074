package stepline_test

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
)

// noValue marks what Fn::If with AWS::NoValue removes from a list.
type noValue struct{}

// samResolver evaluates the few intrinsic functions the SAM template's conditional policy
// uses (Fn::If, Fn::Not, Fn::Equals, Fn::Select, Fn::Split, Fn::Join, Ref of a parameter,
// Fn::Sub with a variable map), as CloudFormation would for the given parameter values,
// leaving pseudo parameters in Fn::Sub strings as CDK's arn() writes them.
type samResolver struct {
	params     map[string]string
	conditions map[string]any
}

func (r samResolver) condition(name string) bool {
	v := r.value(r.conditions[name])
	b, ok := v.(bool)
	if !ok {
		panic(fmt.Sprintf("condition %s is %v", name, v))
	}
	return b
}

func (r samResolver) value(v any) any {
	switch v := v.(type) {
	case []any:
		out := []any{}
		for _, item := range v {
			if x := r.value(item); x != (noValue{}) {
				out = append(out, x)
			}
		}
		return out
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				a, _ := arg.([]any)
				switch fn {
				case "Ref":
					if arg == "AWS::NoValue" {
						return noValue{}
					}
					if p, ok := r.params[arg.(string)]; ok {
						return p
					}
				case "Condition":
					return r.condition(arg.(string))
				case "Fn::If":
					if r.condition(a[0].(string)) {
						return r.value(a[1])
					}
					return r.value(a[2])
				case "Fn::Not":
					return !r.value(a[0]).(bool)
				case "Fn::Equals":
					return fmt.Sprint(r.value(a[0])) == fmt.Sprint(r.value(a[1]))
				case "Fn::Or", "Fn::And":
					all := fn == "Fn::And"
					for _, c := range a {
						if r.value(c).(bool) != all {
							return !all
						}
					}
					return all
				case "Fn::Split":
					// What does not resolve to a string here (an ARN built with Fn::Sub, say)
					// is left as it is: only the ECR statements are read.
					str, ok := r.value(a[1]).(string)
					if !ok {
						return v
					}
					out := []any{}
					for _, s := range strings.Split(str, a[0].(string)) {
						out = append(out, s)
					}
					return out
				case "Fn::Join":
					items, ok := r.value(a[1]).([]any)
					if !ok {
						return v
					}
					var parts []string
					for _, p := range items {
						ps, ok := p.(string)
						if !ok {
							return v
						}
						parts = append(parts, ps)
					}
					return strings.Join(parts, a[0].(string))
				case "Fn::Select":
					i, _ := strconv.Atoi(fmt.Sprint(r.value(a[0])))
					items, ok := r.value(a[1]).([]any)
					if !ok || i >= len(items) {
						return v
					}
					return items[i]
				case "Fn::Sub":
					if len(a) == 2 {
						s := a[0].(string)
						for k, x := range a[1].(map[string]any) {
							s = strings.ReplaceAll(s, "${"+k+"}", r.value(x).(string))
						}
						return map[string]any{"Fn::Sub": s}
					}
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			out[k] = r.value(x)
		}
		return out
	}
	return v
}

// ecrGrants lists a role's ECR statements as "actions on resources" lines, sorted.
func ecrGrants(role map[string]any) []string {
	var out []string
	for _, p := range role["Policies"].([]any) {
		for _, st := range p.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := st.(map[string]any)
			acts := strs(s["Action"])
			if len(acts) == 0 || !strings.HasPrefix(acts[0], "ecr:") {
				continue
			}
			var res []string
			for _, r := range s["Resource"].([]any) {
				if m, ok := r.(map[string]any); ok {
					res = append(res, fmt.Sprint(m["Fn::Sub"]))
				} else {
					res = append(res, r.(string))
				}
			}
			sort.Strings(acts)
			out = append(out, strings.Join(acts, ",")+" on "+strings.Join(res, " "))
		}
	}
	sort.Strings(out)
	return out
}

func TestTheBuildProjectPushesToExactlyTheNamedEcrRepositories(t *testing.T) {
	sam := samTemplate(t)
	conditions, _ := sam["Conditions"].(map[string]any)
	repo := func(name string) string {
		return "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/" + name
	}
	push := "ecr:BatchCheckLayerAvailability,ecr:BatchGetImage,ecr:CompleteLayerUpload,ecr:GetDownloadUrlForLayer,ecr:InitiateLayerUpload,ecr:PutImage,ecr:UploadLayerPart on "
	for _, c := range []struct {
		name  string
		repos []string
		want  []string
	}{
		{"none named, no ECR permission at all", nil, nil},
		{"one named", []string{"api"}, []string{push + repo("api"), "ecr:GetAuthorizationToken on *"}},
		{"five named, each exactly", []string{"api", "team/worker", "a", "b.c", "d-e"},
			[]string{push + strings.Join([]string{repo("api"), repo("team/worker"), repo("a"), repo("b.c"), repo("d-e")}, " "), "ecr:GetAuthorizationToken on *"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Every other parameter at its default, as a deploy that names only repositories
			// leaves them (the deploy targets' conditions then grant nothing, as in CDK).
			params := map[string]string{}
			for name, p := range sam["Parameters"].(map[string]any) {
				if d, ok := p.(map[string]any)["Default"]; ok {
					params[name] = fmt.Sprint(d)
				}
			}
			params["EcrRepositories"] = strings.Join(c.repos, ",")
			r := samResolver{params: params, conditions: conditions}
			samRole := r.value(resources(sam, "AWS::IAM::Role")["BuildProjectRole"]).(map[string]any)
			assert.Equal(t, c.want, ecrGrants(samRole), "SAM")

			_, doc := synth(t, stepline.Props{EcrRepositories: c.repos})
			assert.Equal(t, c.want, ecrGrants(resources(doc, "AWS::IAM::Role")["BuildProjectRole"]), "CDK")

			// And nothing else differs: every role's actions, as TestSamAndCdkGrantTheSameActions
			// compares them, with SAM's conditions applied.
			resolved := map[string]any{}
			for id, res := range sam["Resources"].(map[string]any) {
				if res.(map[string]any)["Type"] == "AWS::IAM::Role" {
					res = r.value(res)
				}
				resolved[id] = res
			}
			s, k := actions(t, map[string]any{"Resources": resolved}), actions(t, doc)
			assert.Equal(t, keys(s), keys(k), "the same roles")
			for id := range s {
				assert.Equal(t, s[id], k[id], "%s: the same actions", id)
			}
		})
	}
}

func TestEcrRepositoriesAreRefusedAsSamRefusesThem(t *testing.T) {
	sam := samTemplate(t)
	param := sam["Parameters"].(map[string]any)["EcrRepositories"].(map[string]any)
	pattern := param["AllowedPattern"].(string)
	for _, c := range []struct {
		repos []string
		ok    bool
	}{
		{nil, true},
		{[]string{"api", "team/worker"}, true},
		{[]string{"a", "b", "c", "d", "e"}, true},
		{[]string{"a", "b", "c", "d", "e", "f"}, false},
		{[]string{"Api"}, false},
		{[]string{"api/"}, false},
	} {
		props := stepline.Props{EcrRepositories: c.repos, FunctionsDir: t.TempDir()}
		require.NoError(t, stepline.WritePlaceholderZips(props.FunctionsDir))
		err := props.Validate()
		assert.Equal(t, c.ok, err == nil, "CDK %v: %v", c.repos, err)
		assert.Equal(t, c.ok, regexp.MustCompile(`^(?:`+pattern+`)$`).MatchString(strings.Join(c.repos, ",")), "SAM %v", c.repos)
	}
}

func TestTheAdvanceFunctionKnowsTheBuildProjectsEnvironment(t *testing.T) {
	sam := samTemplate(t)
	_, cdk := synth(t, stepline.Props{})
	for name, doc := range map[string]map[string]any{"SAM": sam, "CDK": cdk} {
		project := resources(doc, "AWS::CodeBuild::Project")["BuildProject"]["Environment"].(map[string]any)
		env := resources(doc, "AWS::Lambda::Function")["AdvanceFunction"]["Environment"].(map[string]any)["Variables"].(map[string]any)
		assert.Equal(t, project["Image"], env["STEPLINE_CODEBUILD_IMAGE"], name)
		assert.Equal(t, project["ComputeType"], env["STEPLINE_CODEBUILD_COMPUTE_TYPE"], name)
		assert.Equal(t, stepline.BuildImage, project["Image"], name)
		assert.Nil(t, project["PrivilegedMode"], "%s: the project is unprivileged, as advance assumes for what an action leaves out", name)
	}
}
