package iamcheck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The fixed values a template is resolved with: no account is at hand, and a permission
// never depends on which account or region it is deployed in beyond these names.
const (
	Partition = "aws"
	Region    = "us-east-1"
	AccountID = account
)

// Template is a CloudFormation template (the synthesized CDK stack or the SAM transform
// output) whose intrinsics (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select) resolve to the
// physical names the template fixes, in Partition, Region and AccountID. A resource without a
// fixed name stands for its logical id, the same wherever it is referred to.
type Template struct {
	resources  map[string]map[string]any
	parameters map[string]any
	conditions map[string]any
	values     map[string]string
	// managed are the documents of managed policies by ARN (SetManagedPolicies).
	managed map[string]Policy
}

// SetParameters gives parameters values other than their defaults (a stack deployed with
// its deploy targets named, say). Conditions, Fn::If and Fn::Split follow them.
func (t *Template) SetParameters(values map[string]string) { t.values = values }

// ParseTemplate reads a template in JSON.
func ParseTemplate(raw []byte) (*Template, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	return NewTemplate(doc), nil
}

// NewTemplate wraps a decoded template.
func NewTemplate(doc map[string]any) *Template {
	t := &Template{resources: map[string]map[string]any{}, parameters: map[string]any{}}
	if rs, ok := doc["Resources"].(map[string]any); ok {
		for id, r := range rs {
			if m, ok := r.(map[string]any); ok {
				t.resources[id] = m
			}
		}
	}
	if ps, ok := doc["Parameters"].(map[string]any); ok {
		t.parameters = ps
	}
	t.conditions, _ = doc["Conditions"].(map[string]any)
	return t
}

// nameProperty is the property holding each resource type's physical name.
var nameProperty = map[string]string{
	"AWS::DynamoDB::Table":             "TableName",
	"AWS::S3::Bucket":                  "BucketName",
	"AWS::Events::EventBus":            "Name",
	"AWS::Lambda::Function":            "FunctionName",
	"AWS::StepFunctions::StateMachine": "StateMachineName",
	"AWS::SQS::Queue":                  "QueueName",
	"AWS::Scheduler::ScheduleGroup":    "Name",
	"AWS::IAM::Role":                   "RoleName",
	"AWS::Logs::LogGroup":              "LogGroupName",
	"AWS::SNS::Topic":                  "TopicName",
	"AWS::CodeBuild::Project":          "Name",
	"AWS::Events::Rule":                "Name",
	"AWS::Scheduler::Schedule":         "Name",
	"AWS::SecretsManager::Secret":      "Name",
	"AWS::ApiGatewayV2::Api":           "Name",
	"AWS::CloudWatch::Alarm":           "AlarmName",
	"AWS::StepFunctions::Activity":     "Name",
}

func (t *Template) resource(id string) (map[string]any, string, error) {
	r, ok := t.resources[id]
	if !ok {
		return nil, "", fmt.Errorf("no resource %s", id)
	}
	typ, _ := r["Type"].(string)
	props, _ := r["Properties"].(map[string]any)
	return props, typ, nil
}

// name is a resource's physical name, or its logical id when the template fixes none.
func (t *Template) name(id string) (string, string, error) {
	props, typ, err := t.resource(id)
	if err != nil {
		return "", "", err
	}
	if p := nameProperty[typ]; p != "" && props[p] != nil {
		n, err := t.String(props[p], nil)
		return n, typ, err
	}
	return id, typ, nil
}

func arnOf(service, region, resource string) string {
	return "arn:" + Partition + ":" + service + ":" + region + ":" + AccountID + ":" + resource
}

// ref is what Ref of id gives.
func (t *Template) ref(id string) (string, error) {
	switch id {
	case "AWS::Partition":
		return Partition, nil
	case "AWS::Region":
		return Region, nil
	case "AWS::AccountId":
		return AccountID, nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return "stepline", nil
	case "AWS::NoValue":
		return "", nil
	}
	if p, ok := t.parameters[id].(map[string]any); ok {
		if v, ok := t.values[id]; ok {
			return v, nil
		}
		if d, ok := p["Default"]; ok {
			return fmt.Sprint(d), nil
		}
		return "", fmt.Errorf("parameter %s has no default", id)
	}
	name, typ, err := t.name(id)
	if err != nil {
		return "", err
	}
	switch typ {
	case "AWS::StepFunctions::StateMachine", "AWS::SNS::Topic":
		return t.getAtt(id, "Arn")
	case "AWS::SQS::Queue":
		return "https://sqs." + Region + ".amazonaws.com/" + AccountID + "/" + name, nil
	}
	return name, nil
}

// getAtt is what Fn::GetAtt of id and attribute gives, for the attributes policies use.
func (t *Template) getAtt(id, attr string) (string, error) {
	name, typ, err := t.name(id)
	if err != nil {
		return "", err
	}
	switch attr {
	case "Name", "QueueName", "TopicName":
		return name, nil
	case "Arn":
		switch typ {
		case "AWS::DynamoDB::Table":
			return arnOf("dynamodb", Region, "table/"+name), nil
		case "AWS::S3::Bucket":
			return "arn:" + Partition + ":s3:::" + name, nil
		case "AWS::Events::EventBus":
			return arnOf("events", Region, "event-bus/"+name), nil
		case "AWS::Events::Rule":
			return arnOf("events", Region, "rule/"+name), nil
		case "AWS::Lambda::Function":
			return arnOf("lambda", Region, "function:"+name), nil
		case "AWS::StepFunctions::StateMachine":
			return arnOf("states", Region, "stateMachine:"+name), nil
		case "AWS::SQS::Queue":
			return arnOf("sqs", Region, name), nil
		case "AWS::SNS::Topic":
			return arnOf("sns", Region, name), nil
		case "AWS::IAM::Role":
			return "arn:" + Partition + ":iam::" + AccountID + ":role/" + name, nil
		case "AWS::Logs::LogGroup":
			return arnOf("logs", Region, "log-group:"+name+":*"), nil
		case "AWS::Scheduler::ScheduleGroup":
			return arnOf("scheduler", Region, "schedule-group/"+name), nil
		case "AWS::CodeBuild::Project":
			return arnOf("codebuild", Region, "project/"+name), nil
		}
	}
	return "", fmt.Errorf("Fn::GetAtt %s.%s (%s) is not known to iamcheck", id, attr, typ)
}

// String resolves a scalar value of the template. vars are extra ${…} names for Fn::Sub
// strings (a contract's ${env:…}).
func (t *Template) String(v any, vars map[string]string) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case map[string]any:
		if len(v) != 1 {
			break
		}
		for fn, arg := range v {
			switch fn {
			case "Ref":
				id, _ := arg.(string)
				return t.ref(id)
			case "Fn::GetAtt":
				var id, attr string
				switch a := arg.(type) {
				case []any:
					if len(a) == 2 {
						id, _ = a[0].(string)
						attr, _ = a[1].(string)
					}
				case string:
					id, attr, _ = strings.Cut(a, ".")
				}
				return t.getAtt(id, attr)
			case "Fn::Sub":
				switch a := arg.(type) {
				case string:
					return t.Sub(a, vars)
				case []any:
					if len(a) == 2 {
						s, _ := a[0].(string)
						local, _ := a[1].(map[string]any)
						merged := map[string]string{}
						for k, v := range vars {
							merged[k] = v
						}
						for k, v := range local {
							r, err := t.String(v, vars)
							if err != nil {
								return "", err
							}
							merged[k] = r
						}
						return t.Sub(s, merged)
					}
				}
			case "Fn::Join":
				a, _ := arg.([]any)
				if len(a) == 2 {
					sep, _ := a[0].(string)
					parts, err := t.Strings(a[1], vars)
					if err != nil {
						return "", err
					}
					return strings.Join(parts, sep), nil
				}
			case "Fn::Select":
				a, _ := arg.([]any)
				if len(a) == 2 {
					i, err := t.String(a[0], vars)
					if err != nil {
						return "", err
					}
					n, err := strconv.Atoi(i)
					if err != nil {
						return "", err
					}
					items, err := t.Strings(a[1], vars)
					if err != nil {
						return "", err
					}
					if n < 0 || n >= len(items) {
						return "", fmt.Errorf("Fn::Select %d of %d items", n, len(items))
					}
					return items[n], nil
				}
			}
			return "", fmt.Errorf("iamcheck cannot resolve %s %v", fn, arg)
		}
	}
	return "", fmt.Errorf("iamcheck cannot resolve %v", v)
}

// Strings resolves a value that is a string or a list of them; Fn::Split makes a list, and
// Fn::If picks a branch (AWS::NoValue adds nothing).
func (t *Template) Strings(v any, vars map[string]string) ([]string, error) {
	if l, ok := v.([]any); ok {
		out := make([]string, 0, len(l))
		for _, item := range l {
			s, err := t.Strings(item, vars)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	}
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if a, ok := m["Fn::Split"].([]any); ok && len(a) == 2 {
			sep, _ := a[0].(string)
			s, err := t.String(a[1], vars)
			if err != nil {
				return nil, err
			}
			return strings.Split(s, sep), nil
		}
		if _, ok := m["Fn::If"]; ok {
			branch, err := t.branch(m)
			if err != nil || branch == nil {
				return nil, err
			}
			return t.Strings(branch, vars)
		}
		if m["Ref"] == "AWS::NoValue" {
			return nil, nil
		}
	}
	if v == nil {
		return nil, nil
	}
	s, err := t.String(v, vars)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

var subRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// Sub resolves a Fn::Sub string: ${!x} is a literal ${x}; ${X} is vars[X], a parameter, a
// pseudo parameter or Ref X; ${X.Attr} is Fn::GetAtt.
func (t *Template) Sub(s string, vars map[string]string) (string, error) {
	var failed error
	out := subRE.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		if v, ok := vars[name]; ok {
			return v
		}
		var r string
		var err error
		if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			r, err = t.getAtt(id, attr)
		} else {
			r, err = t.ref(name)
		}
		if err != nil && failed == nil {
			failed = fmt.Errorf("${%s}: %w", name, err)
		}
		return r
	})
	return out, failed
}

// RolePolicy collects the statements of a role's inline policies, of the AWS::IAM::Policy
// resources attached to it and of its managed policies, resolved. A managed policy is read
// from the documents SetManagedPolicies gave; one without a document makes the role an
// error, since what it grants or denies is unknown.
func (t *Template) RolePolicy(role string) (Policy, error) {
	props, typ, err := t.resource(role)
	if err != nil {
		return nil, err
	}
	if typ != "AWS::IAM::Role" {
		return nil, fmt.Errorf("%s is a %s, not a role", role, typ)
	}
	managed, err := t.managedPolicies(role)
	if err != nil {
		return nil, err
	}
	var docs []any
	policies, _ := props["Policies"].([]any)
	for _, p := range policies {
		if pm, ok := p.(map[string]any); ok {
			docs = append(docs, pm["PolicyDocument"])
		}
	}
	for _, id := range sortedKeys(t.resources) {
		props, typ, _ := t.resource(id)
		if typ != "AWS::IAM::Policy" {
			continue
		}
		roles, _ := props["Roles"].([]any)
		for _, r := range roles {
			if m, ok := r.(map[string]any); ok && m["Ref"] == role {
				docs = append(docs, props["PolicyDocument"])
			}
		}
	}
	out := managed
	for _, d := range docs {
		doc, _ := d.(map[string]any)
		stmts, _ := doc["Statement"].([]any)
		for _, s := range stmts {
			// A statement granted only when the stack names what it is for.
			if m, ok := s.(map[string]any); ok && m["Fn::If"] != nil {
				picked, err := t.branch(m)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", role, err)
				}
				if picked == nil {
					continue
				}
				s = picked
			}
			st, err := t.statement(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", role, err)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func (t *Template) statement(v any) (Statement, error) {
	m, _ := v.(map[string]any)
	var s Statement
	var err error
	s.Effect, _ = m["Effect"].(string)
	for key, dst := range map[string]*[]string{"Action": &s.Action, "NotAction": &s.NotAction, "Resource": &s.Resource, "NotResource": &s.NotResource} {
		if *dst, err = t.Strings(m[key], nil); err != nil {
			return s, fmt.Errorf("%s: %w", key, err)
		}
	}
	if c, ok := m["Condition"].(map[string]any); ok {
		s.Condition = map[string]map[string][]string{}
		for op, keys := range c {
			km, _ := keys.(map[string]any)
			s.Condition[op] = map[string][]string{}
			for k, vals := range km {
				if s.Condition[op][k], err = t.Strings(vals, nil); err != nil {
					return s, fmt.Errorf("Condition %s %s: %w", op, k, err)
				}
			}
		}
	}
	return s, nil
}

// Function is a Lambda function of the template: its role and its environment, as far as
// it resolves.
type Function struct {
	ID, Role string
	Env      map[string]string
}

// Function finds the function with logical id id.
func (t *Template) Function(id string) (Function, error) {
	props, typ, err := t.resource(id)
	if err != nil {
		return Function{}, err
	}
	if typ != "AWS::Lambda::Function" {
		return Function{}, fmt.Errorf("%s is a %s, not a function", id, typ)
	}
	f := Function{ID: id, Env: map[string]string{}}
	switch r := props["Role"].(type) {
	case map[string]any:
		if g, ok := r["Fn::GetAtt"].([]any); ok && len(g) == 2 {
			f.Role, _ = g[0].(string)
		}
	}
	if f.Role == "" {
		return f, fmt.Errorf("%s: its Role is not the Arn of a role of the template: %v", id, props["Role"])
	}
	env, _ := props["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	for k, v := range vars {
		// A variable no policy can name (an API's URL) may stay unresolved: a contract entry
		// using it fails to resolve and says so.
		if r, err := t.String(v, nil); err == nil {
			f.Env[k] = r
		}
	}
	return f, nil
}

// FunctionID is the logical id of a stepline function: trigger → TriggerFunction.
func FunctionID(function string) string {
	if function == "" {
		return ""
	}
	return strings.ToUpper(function[:1]) + function[1:] + "Function"
}

// Check evaluates every request of the contract against the role of its function in t and
// returns one message per request no statement allows (and per entry that cannot be
// resolved), naming the function, the call, the role and what the role grants for the action.
func (c Contract) Check(t *Template) []string {
	var problems []string
	for _, function := range sortedKeys(c) {
		f, err := t.Function(FunctionID(function))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", function, err))
			continue
		}
		policy, err := t.RolePolicy(f.Role)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", function, err))
			continue
		}
		vars := map[string]string{}
		for k, v := range f.Env {
			vars["env:"+k] = v
		}
		for _, pkg := range sortedKeys(c[function]) {
			for _, q := range c[function][pkg] {
				req, err := q.Resolve(t, vars)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s (%s): %s, recorded by %s: %v", function, f.ID, q, pkg, err))
					continue
				}
				if !policy.Allows(req) {
					problems = append(problems, fmt.Sprintf("%s (%s, role %s) is denied %s\n  recorded by the tests of %s as %s\n  the role grants:\n%s",
						function, f.ID, f.Role, req, pkg, q, policy.grants(req.Action)))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// Resolve writes a contract request with the template's values.
func (q Request) Resolve(t *Template, vars map[string]string) (Request, error) {
	out := Request{Action: q.Action}
	var err error
	if out.Resource, err = t.Sub(q.Resource, vars); err != nil {
		return out, err
	}
	if len(q.Context) > 0 {
		out.Context = map[string]string{}
		for k, v := range q.Context {
			if out.Context[k], err = t.Sub(v, vars); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// branch is the branch of {"Fn::If": [condition, then, else]} the condition picks; nil for
// AWS::NoValue.
func (t *Template) branch(m map[string]any) (any, error) {
	a, _ := m["Fn::If"].([]any)
	if len(a) != 3 {
		return nil, fmt.Errorf("Fn::If needs a condition and two values: %v", m)
	}
	name, _ := a[0].(string)
	ok, err := t.Condition(name)
	if err != nil {
		return nil, err
	}
	v := a[2]
	if ok {
		v = a[1]
	}
	if r, isMap := v.(map[string]any); isMap && r["Ref"] == "AWS::NoValue" {
		return nil, nil
	}
	return v, nil
}

// Condition evaluates the template's condition name (Fn::Equals, Fn::Not, Fn::And, Fn::Or
// and Condition over values that resolve).
func (t *Template) Condition(name string) (bool, error) {
	c, ok := t.conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	return t.evalCondition(c)
}

func (t *Template) evalCondition(v any) (bool, error) {
	m, _ := v.(map[string]any)
	if len(m) != 1 {
		return false, fmt.Errorf("iamcheck cannot evaluate the condition %v", v)
	}
	for fn, arg := range m {
		a, _ := arg.([]any)
		switch fn {
		case "Condition":
			name, _ := arg.(string)
			return t.Condition(name)
		case "Fn::Equals":
			if len(a) != 2 {
				break
			}
			l, err := t.String(a[0], nil)
			if err != nil {
				return false, err
			}
			r, err := t.String(a[1], nil)
			if err != nil {
				return false, err
			}
			return l == r, nil
		case "Fn::Not", "Fn::And", "Fn::Or":
			results := make([]bool, 0, len(a))
			for _, x := range a {
				b, err := t.evalCondition(x)
				if err != nil {
					return false, err
				}
				results = append(results, b)
			}
			switch fn {
			case "Fn::Not":
				return len(results) == 1 && !results[0], nil
			case "Fn::And":
				return !slices.Contains(results, false), nil
			default:
				return slices.Contains(results, true), nil
			}
		}
	}
	return false, fmt.Errorf("iamcheck cannot evaluate the condition %v", v)
}
