package cpimport

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// One method per stepline provider, each mapping the configuration keys of the CodePipeline
// action type (from its page of the action structure reference) onto the provider's keys.

func (c *config) boolean(key string) (value, set bool) {
	s := strings.ToLower(c.get(key))
	return s == "true", s != ""
}

func (c *config) codebuild() {
	c.out.provider = "codebuild"
	if p := c.get("ProjectName"); p != "" {
		c.set("project", p)
		c.t.im.report(c.a.config.field("ProjectName"), RuleChanged, "the build runs in project %s, with buildspec.yml of its primary input (the project's own buildspec setting is not in the pipeline: set buildspec if it differs); on AWS stepline starts builds only in projects named <stack Name>-*", p)
	}
	if primary := c.get("PrimarySource"); primary != "" {
		name := c.t.artifact(primary)
		if i := slices.Index(c.out.inputs, name); i > 0 {
			// stepline's first input is CodeBuild's primary source.
			c.out.inputs = append([]string{name}, slices.Delete(c.out.inputs, i, i+1)...)
		}
	}
	if raw := c.get("EnvironmentVariables"); raw != "" {
		c.env(raw)
	}
	if batch, _ := c.boolean("BatchEnabled"); batch {
		c.t.im.report(c.a.config.field("BatchEnabled"), RuleNotImported, "batch builds are not imported: stepline starts one build; split the batch into actions of equal run_order")
	}
	c.seen["combineartifacts"] = true
}

// env reads CodeBuild's EnvironmentVariables, a JSON list of {name, value, type}.
func (c *config) env(raw string) {
	at := c.a.config.field("EnvironmentVariables")
	var vars []struct{ Name, Value, Type string }
	if err := json.Unmarshal([]byte(raw), &vars); err != nil {
		c.t.im.report(at, RuleNotImported, "EnvironmentVariables is not a JSON list of {name, value, type}: %v", err)
		return
	}
	for _, v := range vars {
		switch strings.ToUpper(v.Type) {
		case "", "PLAINTEXT":
			c.out.env = append(c.out.env, kv{v.Name, c.vars(v.Value)})
		case "PARAMETER_STORE":
			c.t.im.report(at, RuleNotImported, "environment variable %s from Parameter Store %s is not imported: read it in the buildspec (env: parameter-store: {%s: %s})", v.Name, v.Value, v.Name, v.Value)
		case "SECRETS_MANAGER":
			c.t.im.report(at, RuleNotImported, "environment variable %s from Secrets Manager %s is not imported: read it in the buildspec (env: secrets-manager: {%s: %s})", v.Name, v.Value, v.Name, v.Value)
		default:
			c.t.im.report(at, RuleNotImported, "environment variable %s of type %s is not imported", v.Name, v.Type)
		}
	}
}

func (c *config) firstInput(what string) string {
	if len(c.out.inputs) == 0 {
		c.dropFor(what + " needs an input artifact, and the action has none")
		return "missing"
	}
	return c.out.inputs[0]
}

func (c *config) ecs() {
	c.out.provider = "ecs"
	c.set("cluster", c.get("ClusterName"))
	c.set("service", c.get("ServiceName"))
	file := c.get("FileName")
	if file == "" {
		file = "imagedefinitions.json" // the ECS action's default
	}
	c.set("image_definitions", c.firstInput("an ECS deploy")+"::"+file)
	if m := c.get("DeploymentTimeout"); m != "" {
		if n, err := strconv.Atoi(m); err == nil && n > 0 && c.out.timeout == "" {
			c.out.timeout = minutes(n)
		}
	}
}

func (c *config) codedeploy() {
	c.out.provider = "codedeploy"
	c.set("application", c.get("ApplicationName"))
	c.set("deployment_group", c.get("DeploymentGroupName"))
	file := func(artKey, pathKey, def string) string {
		art := c.get(artKey)
		if art == "" {
			art = c.firstInput("a CodeDeployToECS deploy")
		}
		p := c.get(pathKey)
		if p == "" {
			p = def
		}
		return c.t.artifact(art) + "::" + p
	}
	c.set("appspec", file("AppSpecTemplateArtifact", "AppSpecTemplatePath", "appspec.yaml"))
	c.set("task_definition", file("TaskDefinitionTemplateArtifact", "TaskDefinitionTemplatePath", "taskdef.json"))
	if img := c.get("Image1ArtifactName"); img != "" {
		c.set("image_details", c.t.artifact(img)+"::imageDetail.json")
	}
	c.set("image_placeholder", c.get("Image1ContainerName"))
	for i := 2; i <= 4; i++ {
		c.notImported("stepline fills one image placeholder (Image1) in taskdef.json", fmt.Sprintf("Image%dArtifactName", i), fmt.Sprintf("Image%dContainerName", i))
	}
}

func (c *config) cloudformation() {
	c.out.provider = "cloudformation"
	mode := strings.ToUpper(c.get("ActionMode"))
	stack := c.get("StackName")
	csName := c.get("ChangeSetName")
	c.set("stack", stack)
	switch mode {
	case "DELETE_ONLY":
		c.set("action", "delete")
		c.seen["templatepath"], c.seen["parameteroverrides"], c.seen["capabilities"] = true, true, true
		if r := c.get("RoleArn"); r != "" {
			c.set("role", r)
		}
		return
	case "CHANGE_SET_EXECUTE":
		c.execute(stack, csName)
		return
	case "CREATE_UPDATE", "CHANGE_SET_REPLACE", "REPLACE_ON_FAILURE":
	default:
		c.dropFor(fmt.Sprintf("CloudFormation action mode %q is not one of CREATE_UPDATE, CHANGE_SET_REPLACE, CHANGE_SET_EXECUTE, REPLACE_ON_FAILURE, DELETE_ONLY", mode))
	}
	if tp := c.get("TemplatePath"); tp != "" {
		c.set("template", c.path(tp))
	} else {
		c.dropFor("a CloudFormation deploy needs TemplatePath")
	}
	if caps := c.get("Capabilities"); caps != "" {
		var list []string
		for _, cp := range strings.Split(caps, ",") {
			if cp = strings.TrimSpace(cp); cp != "" {
				list = append(list, cp)
			}
		}
		c.set("capabilities", list)
	}
	if raw := c.get("ParameterOverrides"); raw != "" {
		c.parameters(raw)
	}
	if r := c.get("RoleArn"); r != "" {
		c.set("role", r)
	}
	c.notImported("a template configuration file is not read: write its parameters under parameters", "TemplateConfiguration")
	c.notImported("the stack's outputs are the action's variables, #{NAMESPACE.OutputKey}; no outputs file is written", "OutputFileName")
	switch mode {
	case "REPLACE_ON_FAILURE":
		c.t.im.report(c.a.config.field("ActionMode"), RuleChanged, "REPLACE_ON_FAILURE is imported as a deploy: a stack left in ROLLBACK_COMPLETE is refused, not replaced; delete it first")
	case "CHANGE_SET_REPLACE":
		// Created here, executed (and so imported) where its CHANGE_SET_EXECUTE stands.
		c.out.drop = fmt.Sprintf("change set %s of stack %s is created here and never executed in this pipeline: stepline creates and executes a change set in one action, so a change set kept for review alone is not imported", csName, stack)
		c.t.changeSets[stack+"\x00"+csName] = &changeSet{a: c.a, out: c.out}
		c.a.orig.to = nil
	}
}

// execute imports a CHANGE_SET_EXECUTE as the deploy of the change set its CHANGE_SET_REPLACE
// created: the stack changes where it is executed, so the deploy stands there, with the
// creating action's template, parameters and inputs.
func (c *config) execute(stack, name string) {
	key := stack + "\x00" + name
	cs, ok := c.t.changeSets[key]
	if !ok {
		c.dropFor(fmt.Sprintf("executes change set %s of stack %s, which this pipeline does not create before", name, stack))
		return
	}
	delete(c.t.changeSets, key)
	replace, created := cs.a, cs.out
	c.out.config = slices.Clone(created.config)
	c.out.inputs = slices.Clone(created.inputs)
	if c.out.namespace == "" {
		c.out.namespace = created.namespace
	} else if created.namespace != "" {
		c.t.namespaces[replace.namespace] = c.out.namespace
	}
	c.seen["rolearn"], c.seen["templatepath"] = true, true
	created.merged = c.out.stage.name + "/" + c.out.name
	created.drop = "stepline creates and executes the change set in one action"
	replace.orig.to = c.out
	c.t.im.report(replace.from, RuleChanged, "the change set %s of stack %s is created and executed by %s/%s in one action; an approval between them approves the template, not a change set it can review", name, stack, c.out.stage.name, c.a.name)
}

// parameters reads ParameterOverrides, a JSON object of parameter names to values.
func (c *config) parameters(raw string) {
	at := c.a.config.field("ParameterOverrides")
	var params map[string]any
	if err := json.Unmarshal([]byte(raw), &params); err != nil {
		c.t.im.report(at, RuleNotImported, "ParameterOverrides is not a JSON object: %v", err)
		return
	}
	var out []kv
	for name, v := range params {
		s, ok := v.(string)
		if !ok {
			// Fn::GetParam and Fn::GetArtifactAtt read artifacts: stepline has no such functions.
			b, _ := json.Marshal(v)
			c.t.im.report(at, RuleNotImported, "parameter %s = %s is not imported: only text values are, write the value or export it from a build as a variable", name, b)
			continue
		}
		out = append(out, kv{name, s})
	}
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	if len(out) > 0 {
		c.set("parameters", out)
	}
}

func (c *config) s3() {
	c.out.provider = "s3"
	c.set("bucket", c.get("BucketName"))
	c.set("key", c.get("ObjectKey"))
	if extract, set := c.boolean("Extract"); set {
		c.set("extract", extract)
	}
	c.notImported("stepline writes with the bucket's defaults", "KMSEncryptionKeyARN", "CannedACL", "CacheControl")
}

func (c *config) lambda() {
	c.out.provider = "lambda"
	fn := c.get("FunctionName")
	c.set("function", fn)
	c.set("payload", c.get("UserParameters"))
	if !strings.Contains(fn, "-action-") {
		c.t.im.report(c.a.config.field("FunctionName"), RuleChanged, "on AWS stepline invokes only functions named <stack Name>-action-* (stepline-action-* by default): rename %s or give the stack's state machine its permission", fn)
	}
}

func (c *config) approval() {
	c.out.provider = "approval"
	c.set("message", c.get("CustomData"))
	c.set("url", c.get("ExternalEntityLink"))
	if topic := c.get("NotificationArn"); topic != "" {
		c.t.notifyApproval(topic, c.a.config.field("NotificationArn"))
	}
}

// notifyApproval sends approval requests to an approval action's SNS topic; the rule keeping
// every other change on the stack's own topic comes with the first one, since a notifications
// block sends only what its rules name.
func (t *translation) notifyApproval(topic string, at node) {
	for _, n := range t.p.notify {
		if n.topic == topic {
			return
		}
	}
	if len(t.p.notify) == 0 {
		stack := &outNotify{topic: "stack"}
		stack.from = at
		t.p.notify = append(t.p.notify, stack)
	}
	n := &outNotify{events: []string{"approval-needed"}, topic: topic}
	n.from = at
	t.p.notify = append(t.p.notify, n)
}
