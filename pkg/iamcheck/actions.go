package iamcheck

import (
	"fmt"
	"net/url"
	"path"
	"reflect"
	"sort"
	"strings"
)

// account is the account every template is resolved in.
const account = "123456789012"

// secretSuffix stands for the six random characters Secrets Manager appends to a secret's
// name in its ARN, which a grant on a name prefix must cover.
const secretSuffix = "-AbCdEf"

// namer writes a test's name of a stack resource (a table, a bucket, a state machine ARN…)
// as the contract's placeholder for it (${env:STEPLINE_TABLE}); a name the test did not
// give is kept and reported.
type namer interface {
	// exact is the placeholder of a name given whole.
	exact(v string) string
	// prefixed is the placeholder of the name v starts with, and the rest of v.
	prefixed(v string) (string, string)
}

// derived is what one SDK call asks IAM for.
type derived struct {
	requests []Request
}

func (d *derived) add(action, resource string) {
	d.requests = append(d.requests, Request{Action: action, Resource: resource})
}

// requestsOf turns one SDK operation and its input into the IAM requests it makes. Each
// service follows its page of the Service Authorization Reference ("Actions, resources, and
// condition keys for …", https://docs.aws.amazon.com/service-authorization/latest/reference/),
// which names the action and resource type of every operation; the exceptions to "the
// action is the operation's name" are noted where they are made. An operation not listed
// here is an error, so a new call is mapped on purpose rather than guessed.
func requestsOf(service, op string, in any, n namer) (derived, error) {
	var d derived
	arn := func(svc, resource string) string {
		return "arn:${AWS::Partition}:" + svc + ":${AWS::Region}:${AWS::AccountId}:" + resource
	}
	switch service {
	case "DynamoDB":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
		// A transaction is authorized item by item with the single-item actions
		// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
		table := func(name string) string { return arn("dynamodb", "table/"+n.exact(name)) }
		switch op {
		case "BatchGetItem", "BatchWriteItem":
			for _, name := range mapKeys(field(in, "RequestItems")) {
				d.add("dynamodb:"+op, table(name))
			}
		case "TransactWriteItems", "TransactGetItems":
			for _, item := range list(field(in, "TransactItems")) {
				for kind, action := range map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
					"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"} {
					if name := str(field(item, kind, "TableName")); name != "" {
						d.add("dynamodb:"+action, table(name))
					}
				}
			}
		default:
			name := str(field(in, "TableName"))
			if name == "" {
				return d, fmt.Errorf("DynamoDB %s names no table", op)
			}
			resource := table(name)
			if index := str(field(in, "IndexName")); index != "" {
				resource += "/index/" + index
			}
			d.add("dynamodb:"+op, resource)
		}
	case "EventBridge":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html
		if op != "PutEvents" {
			return d, fmt.Errorf("EventBridge %s is not mapped", op)
		}
		seen := map[string]bool{}
		for _, e := range list(field(in, "Entries")) {
			bus := str(field(e, "EventBusName"))
			resource := arn("events", "event-bus/default")
			switch {
			case strings.HasPrefix(bus, "arn:"):
				resource = n.exact(bus)
			case bus != "":
				resource = arn("events", "event-bus/"+n.exact(bus))
			}
			if !seen[resource] {
				seen[resource] = true
				d.add("events:PutEvents", resource)
			}
		}
	case "Secrets Manager":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html
		// A secret's ARN ends in "-" and six random characters after its name.
		id := str(field(in, "SecretId"))
		if id == "" {
			id = str(field(in, "Name"))
		}
		if id == "" {
			return d, fmt.Errorf("Secrets Manager %s names no secret", op)
		}
		// One secret per repository: the name after the stack's prefix varies.
		prefix, _ := n.prefixed(id)
		d.add("secretsmanager:"+op, arn("secretsmanager", "secret:"+prefix+"*"+secretSuffix))
	case "SFN":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
		switch op {
		case "StartExecution", "StartSyncExecution", "DescribeStateMachine":
			d.add("states:"+op, n.exact(str(field(in, "StateMachineArn"))))
		case "DescribeExecution", "StopExecution":
			// An execution's name varies from run to run.
			execution := str(field(in, "ExecutionArn"))
			i := strings.LastIndex(execution, ":")
			if i < 0 {
				return d, fmt.Errorf("SFN %s: %q is no execution ARN", op, execution)
			}
			machine := execution[:i]
			machine = machine[strings.LastIndex(machine, ":")+1:]
			d.add("states:"+op, arn("states", "execution:"+n.exact(machine)+":*"))
		case "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat":
			// A task token names no resource in the request; IAM authorizes the call on the
			// state machine the token belongs to (resource type stateMachine). The only
			// tokens stepline's functions hold are the pipeline state machine's.
			d.add("states:"+op, "${PipelineStateMachine}")
		default:
			return d, fmt.Errorf("SFN %s is not mapped", op)
		}
	case "S3":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html:
		// the multipart operations and HeadObject are authorized as s3:PutObject and
		// s3:GetObject, ListObjectsV2 as s3:ListBucket on the bucket with the s3:prefix key.
		bucket := str(field(in, "Bucket"))
		if bucket == "" {
			return d, fmt.Errorf("S3 %s names no bucket", op)
		}
		bucket = "arn:${AWS::Partition}:s3:::" + n.exact(bucket)
		object := bucket + "/" + varyingKey(str(field(in, "Key")))
		switch op {
		case "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "UploadPartCopy":
			d.add("s3:PutObject", object)
		case "GetObject", "HeadObject":
			d.add("s3:GetObject", object)
		case "AbortMultipartUpload", "DeleteObject":
			d.add("s3:"+op, object)
		case "ListParts":
			d.add("s3:ListMultipartUploadParts", object)
		case "ListObjectsV2", "ListObjects":
			d.requests = append(d.requests, Request{Action: "s3:ListBucket", Resource: bucket,
				Context: map[string]string{"s3:prefix": varyingKey(str(field(in, "Prefix")))}})
		default:
			return d, fmt.Errorf("S3 %s is not mapped", op)
		}
	case "Scheduler":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridgescheduler.html:
		// CreateSchedule and UpdateSchedule also need iam:PassRole on the target's role, which
		// Scheduler checks with iam:PassedToService = scheduler.amazonaws.com
		// (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html).
		group := str(field(in, "GroupName"))
		if group == "" {
			group = "default"
		}
		// A schedule's name derives from the pipeline and trigger it serves.
		if group == "default" {
			d.add("scheduler:"+op, arn("scheduler", "schedule/default/*"))
		} else {
			d.add("scheduler:"+op, arn("scheduler", "schedule/"+n.exact(group)+"/*"))
		}
		if op == "CreateSchedule" || op == "UpdateSchedule" {
			d.requests = append(d.requests, Request{Action: "iam:PassRole", Resource: n.exact(str(field(in, "Target", "RoleArn"))),
				Context: map[string]string{"iam:PassedToService": "scheduler.amazonaws.com"}})
		}
	case "CodeCommit":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodecommit.html
		// Repositories are the user's, not the stack's: their names stay as the test wrote them.
		repo := str(field(in, "RepositoryName"))
		if repo == "" {
			return d, fmt.Errorf("CodeCommit %s names no repository", op)
		}
		d.add("codecommit:"+op, arn("codecommit", repo))
	case "SNS":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html:
		// Publish is authorized on the topic (resource type topic).
		if op != "Publish" {
			return d, fmt.Errorf("SNS %s is not mapped", op)
		}
		topic := str(field(in, "TopicArn"))
		if topic == "" {
			return d, fmt.Errorf("SNS %s names no topic", op)
		}
		d.add("sns:Publish", n.exact(topic))
	case "SQS":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
		u, err := url.Parse(str(field(in, "QueueUrl")))
		if err != nil || u.Path == "" {
			return d, fmt.Errorf("SQS %s names no queue", op)
		}
		d.add("sqs:"+op, arn("sqs", n.exact(path.Base(u.Path))))
	case "CodeBuild":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodebuild.html
		project := str(field(in, "ProjectName"))
		if project == "" {
			// StopBuild and BatchGetBuilds name builds as project:uuid.
			id := str(field(in, "Id"))
			if ids := list(field(in, "Ids")); len(ids) > 0 {
				id = str(ids[0])
			}
			project, _, _ = strings.Cut(id, ":")
		}
		d.add("codebuild:"+op, arn("codebuild", "project/"+n.exact(project)))
	case "ECS":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
		// Clusters, services and task definitions are the user's: their names stay as the
		// test wrote them. DescribeTaskDefinition and RegisterTaskDefinition take no resource;
		// registering with tags also needs ecs:TagResource, and passing the task's roles
		// iam:PassRole with iam:PassedToService = ecs-tasks.amazonaws.com
		// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html).
		switch op {
		case "DescribeServices", "UpdateService":
			cluster := str(field(in, "Cluster"))
			services := list(field(in, "Services"))
			if s := str(field(in, "Service")); s != "" {
				services = []any{s}
			}
			for _, s := range services {
				d.add("ecs:"+op, arn("ecs", "service/"+cluster+"/"+str(s)))
			}
		case "DescribeTaskDefinition":
			d.add("ecs:"+op, "*")
		case "RegisterTaskDefinition":
			d.add("ecs:"+op, "*")
			if len(list(field(in, "Tags"))) > 0 {
				d.add("ecs:TagResource", arn("ecs", "task-definition/"+str(field(in, "Family"))+":*"))
			}
			for _, role := range []string{str(field(in, "ExecutionRoleArn")), str(field(in, "TaskRoleArn"))} {
				if role != "" {
					d.requests = append(d.requests, Request{Action: "iam:PassRole", Resource: role,
						Context: map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}})
				}
			}
		default:
			return d, fmt.Errorf("ECS %s is not mapped", op)
		}
	case "CodeDeploy":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodedeploy.html
		// GetDeployment is authorized on the deployment group, which its request does not
		// name: it is not mapped, so tests do not record it.
		if op != "CreateDeployment" {
			return d, fmt.Errorf("CodeDeploy %s is not mapped", op)
		}
		d.add("codedeploy:"+op, arn("codedeploy", "deploymentgroup:"+str(field(in, "ApplicationName"))+"/"+str(field(in, "DeploymentGroupName"))))
	case "CloudFormation":
		// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-template.html:
		// every stack and change set call is authorized on the stack; CreateChangeSet of a SAM
		// template also on the transform, passing a role iam:PassRole, and a template given
		// by URL is read from S3 with the caller's credentials
		// (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html).
		stack := str(field(in, "StackName"))
		if _, rest, ok := strings.Cut(stack, ":stack/"); ok {
			// A stack id: arn:aws:cloudformation:region:account:stack/name/id.
			stack, _, _ = strings.Cut(rest, "/")
		}
		if stack == "" {
			return d, fmt.Errorf("CloudFormation %s names no stack (give StackName with a change set's ARN)", op)
		}
		switch op {
		case "DescribeStacks", "DescribeStackEvents", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DeleteChangeSet", "DeleteStack":
			d.add("cloudformation:"+op, arn("cloudformation", "stack/"+stack+"/*"))
		default:
			return d, fmt.Errorf("CloudFormation %s is not mapped", op)
		}
		if op == "CreateChangeSet" && strings.Contains(str(field(in, "TemplateBody")), "AWS::Serverless-2016-10-31") {
			d.add("cloudformation:CreateChangeSet", "arn:${AWS::Partition}:cloudformation:${AWS::Region}:aws:transform/Serverless-2016-10-31")
		}
		if role := str(field(in, "RoleARN")); role != "" {
			d.requests = append(d.requests, Request{Action: "iam:PassRole", Resource: role,
				Context: map[string]string{"iam:PassedToService": "cloudformation.amazonaws.com"}})
		}
		if u, err := url.Parse(str(field(in, "TemplateURL"))); err == nil && u.Host != "" {
			bucket, _, _ := strings.Cut(u.Host, ".")
			d.add("s3:GetObject", "arn:${AWS::Partition}:s3:::"+n.exact(bucket)+"/"+varyingKey(strings.TrimPrefix(u.Path, "/")))
		}
	default:
		return d, fmt.Errorf("%s %s: iamcheck does not know this service's IAM actions; add it to requestsOf", service, op)
	}
	if len(d.requests) == 0 {
		return d, fmt.Errorf("%s %s asks IAM for nothing iamcheck can tell", service, op)
	}
	return d, nil
}

// varyingKey keeps an object key's first path segment, which says what the object is
// (webhooks/, runs/), and writes the rest, which varies from run to run, as *. In the
// contract * is then a literal: only a grant whose pattern covers any value there allows it.
func varyingKey(key string) string {
	first, _, found := strings.Cut(key, "/")
	if !found {
		return key
	}
	return first + "/*"
}

// field follows exported struct fields by name through pointers.
func field(v any, names ...string) any {
	rv := reflect.ValueOf(v)
	for _, name := range names {
		for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
			if rv.IsNil() {
				return nil
			}
			rv = rv.Elem()
		}
		if rv.Kind() != reflect.Struct {
			return nil
		}
		rv = rv.FieldByName(name)
		if !rv.IsValid() {
			return nil
		}
	}
	return rv.Interface()
}

// str is the value of a string or *string, or "".
func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case *string:
		if s != nil {
			return *s
		}
	}
	return ""
}

// list is the elements of a slice.
func list(v any) []any {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

// mapKeys is the sorted string keys of a map.
func mapKeys(v any) []string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map {
		return nil
	}
	var out []string
	for _, k := range rv.MapKeys() {
		out = append(out, k.String())
	}
	sort.Strings(out)
	return out
}
