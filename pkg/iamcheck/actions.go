package iamcheck

import (
	"fmt"
	"net/url"
	"path"
	"reflect"
	"sort"
	"strings"
)

// account is the account of every ARN a recorded call names: moto's and the harness's.
const account = "123456789012"

// secretSuffix stands for the six random characters Secrets Manager appends to a secret's
// name in its ARN, which a grant on a name prefix must cover.
const secretSuffix = "-AbCdEf"

// derived is what one SDK call asks IAM for: the requests, and the names in them that must
// be a stack resource the test named (NewRecorder), so that the contract speaks of the
// stack's resources rather than of a test's.
type derived struct {
	requests []Request
	named    []string
}

func (d *derived) add(action, resource string, named ...string) {
	d.requests = append(d.requests, Request{Action: action, Resource: resource})
	d.named = append(d.named, named...)
}

// requestsOf turns one SDK operation and its input into the IAM requests it makes. Each
// service follows its page of the Service Authorization Reference ("Actions, resources, and
// condition keys for …", https://docs.aws.amazon.com/service-authorization/latest/reference/),
// which names the action and resource type of every operation; the exceptions to "the
// action is the operation's name" are noted where they are made. An operation not listed
// here is an error, so a new call is mapped on purpose rather than guessed.
func requestsOf(service, op, region string, in any) (derived, error) {
	var d derived
	arn := func(svc, resource string) string {
		return "arn:aws:" + svc + ":" + region + ":" + account + ":" + resource
	}
	switch service {
	case "DynamoDB":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
		// A transaction is authorized item by item with the single-item actions
		// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
		table := func(name string) string { return arn("dynamodb", "table/"+name) }
		switch op {
		case "BatchGetItem", "BatchWriteItem":
			for _, name := range mapKeys(field(in, "RequestItems")) {
				d.add("dynamodb:"+op, table(name), name)
			}
		case "TransactWriteItems", "TransactGetItems":
			for _, item := range list(field(in, "TransactItems")) {
				for kind, action := range map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
					"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"} {
					if name := str(field(item, kind, "TableName")); name != "" {
						d.add("dynamodb:"+action, table(name), name)
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
			d.add("dynamodb:"+op, resource, name)
		}
	case "EventBridge":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html
		if op != "PutEvents" {
			return d, fmt.Errorf("EventBridge %s is not mapped", op)
		}
		seen := map[string]bool{}
		for _, e := range list(field(in, "Entries")) {
			bus := str(field(e, "EventBusName"))
			resource, named := arn("events", "event-bus/default"), ""
			switch {
			case strings.HasPrefix(bus, "arn:"):
				resource, named = bus, bus
			case bus != "":
				resource, named = arn("events", "event-bus/"+bus), bus
			}
			if !seen[resource] {
				seen[resource] = true
				if named != "" {
					d.add("events:PutEvents", resource, named)
				} else {
					d.add("events:PutEvents", resource)
				}
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
		resource := id
		if !strings.HasPrefix(id, "arn:") {
			resource = arn("secretsmanager", "secret:"+id+secretSuffix)
		}
		d.add("secretsmanager:"+op, resource, id)
	case "SFN":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
		switch op {
		case "StartExecution", "StartSyncExecution", "DescribeStateMachine":
			machine := str(field(in, "StateMachineArn"))
			d.add("states:"+op, machine, machine)
		case "DescribeExecution", "StopExecution":
			// An execution's name varies from run to run.
			execution := str(field(in, "ExecutionArn"))
			i := strings.LastIndex(execution, ":")
			if i < 0 {
				return d, fmt.Errorf("SFN %s: %q is no execution ARN", op, execution)
			}
			name := execution[:i]
			d.add("states:"+op, name+":*", name[strings.LastIndex(name, ":")+1:])
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
		object := "arn:aws:s3:::" + bucket + "/" + varyingKey(str(field(in, "Key")))
		switch op {
		case "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "UploadPartCopy":
			d.add("s3:PutObject", object, bucket)
		case "GetObject", "HeadObject":
			d.add("s3:GetObject", object, bucket)
		case "AbortMultipartUpload", "DeleteObject":
			d.add("s3:"+op, object, bucket)
		case "ListParts":
			d.add("s3:ListMultipartUploadParts", object, bucket)
		case "ListObjectsV2", "ListObjects":
			d.requests = append(d.requests, Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::" + bucket,
				Context: map[string]string{"s3:prefix": varyingKey(str(field(in, "Prefix")))}})
			d.named = append(d.named, bucket)
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
		d.add("scheduler:"+op, arn("scheduler", "schedule/"+group+"/*"), group)
		if op == "CreateSchedule" || op == "UpdateSchedule" {
			role := str(field(in, "Target", "RoleArn"))
			d.requests = append(d.requests, Request{Action: "iam:PassRole", Resource: role,
				Context: map[string]string{"iam:PassedToService": "scheduler.amazonaws.com"}})
			d.named = append(d.named, role)
		}
	case "CodeCommit":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodecommit.html
		// Repositories are the user's, not the stack's: their names stay as the test wrote them.
		repo := str(field(in, "RepositoryName"))
		if repo == "" {
			return d, fmt.Errorf("CodeCommit %s names no repository", op)
		}
		d.add("codecommit:"+op, arn("codecommit", repo))
	case "SQS":
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
		u, err := url.Parse(str(field(in, "QueueUrl")))
		if err != nil || u.Path == "" {
			return d, fmt.Errorf("SQS %s names no queue", op)
		}
		name := path.Base(u.Path)
		d.add("sqs:"+op, arn("sqs", name), name)
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
		d.add("codebuild:"+op, arn("codebuild", "project/"+project), project)
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
