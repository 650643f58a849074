package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TTLAttribute is the attribute DynamoDB's time to live reads (Unix seconds). Only task
// tokens carry it: runs are history, and lanes and counters must never vanish on their own.
const TTLAttribute = "expires"

// Attribute names. Key attributes are short and generic, as single-table designs need;
// index key attributes are present only on the items each index serves.
const (
	attrPK        = "pk"
	attrSK        = "sk"
	attrType      = "type"
	attrBody      = "body"
	attrPipeline  = "pipeline"
	attrOrder     = "order"
	attrSucceeded = "succeeded"
	attrSeq       = "seq"
	attrStatus    = "status"
	attrStarted   = "started"
	attrUpdated   = "updated"
	attrLane      = "lane"
	attrVersion   = "version"
	attrToken     = "token"
	attrWait      = "wait"
	attrRun       = "run"
	attrAt        = "at"
	attrTask      = "task"
	attrFile      = "file"
	attrCommit    = "commit"
	attrRepo      = "repo"
	attrBranch    = "branch"
	attrProvider  = "provider"
	attrHook      = "hook"
	attrProblem   = "problem"
	attrPushed    = "pushed"
	attrImages    = "images"
	attrBuckets   = "buckets"
	attrSchedules = "schedules"

	attrRetiredImages    = "retired_images"
	attrRetiredBuckets   = "retired_buckets"
	attrRetiredSchedules = "retired_schedules"
)

// Index names.
const (
	indexPipeline  = "pipeline"
	indexSucceeded = "succeeded"
	indexAll       = "all"
)

// Item types, the values of the type attribute.
const (
	typeRun          = "run"
	typeSeq          = "seq"
	typeLane         = "lane"
	typeToken        = "token"
	typeWaiting      = "waiting"
	typePipelineFile = "pipeline-file"
	typeRegistration = "registration"
	typeImageIndex   = "image-index"
	typeSeqClaim     = "seq-claim"
	typeBucketIndex  = "bucket-index"
	typeMark         = "mark"
	// typeLastSucceeded is a scope's pointer to its newest succeeded run (LastSucceeded).
	typeLastSucceeded = "last-succeeded"
	// typeLatest is a scope's pointer to its newest run (Latest): the all index's partition
	// of them, ordered by the run's order.
	typeLatest = "latest"
)

// latestSK is the sort key of a scope's newest-run pointer, beside its last-succeeded one.
const latestSK = "LATEST"

// listingPK prefixes the partition of a run's listing items (ListRuns with a branch or
// status): LIST#<run id>, one item per store.ListingKeys key, sort key listingSK(i).
const listingPK = "LIST#"

// listingSK is the sort key of a run's listing item for the i-th of its store.ListingKeys,
// so that a later write of the run replaces it.
func listingSK(i int) string { return "L" + string(rune('0'+i)) }

// lastSucceededSK is the sort key of a scope's last-succeeded pointer, in the scope's
// partition beside its lanes (LANE#<stage>) and, for a counter scope, its run counter (SEQ).
const lastSucceededSK = "SUCCEEDED"

// unfinishedKey is the succeeded index's partition of the runs not done (ListRuns with
// store.Filter.Unfinished). No scope key is alike: they start with a digit.
const unfinishedKey = "unfinished"

// Schema returns the definition of a stepline table named table: the keys and indexes doc.go
// describes, billed per request. It is the one definition of the table; the SAM and CDK
// templates copy it and tests create their tables from it. Time to live is not part of
// CreateTable: apply TimeToLive(table) once the table is active.
func Schema(table string) *dynamodb.CreateTableInput {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	keys := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	index := func(name, hash string) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{
			IndexName:  aws.String(name),
			KeySchema:  keys(hash, attrOrder),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			str(attrPK), str(attrSK), str(attrPipeline), str(attrSucceeded), str(attrType), str(attrOrder),
		},
		KeySchema: keys(attrPK, attrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			index(indexPipeline, attrPipeline),
			index(indexSucceeded, attrSucceeded),
			index(indexAll, attrType),
		},
		BillingMode: types.BillingModePayPerRequest,
	}
}

// TimeToLive returns the request that turns on time to live for table on TTLAttribute, so
// DynamoDB deletes expired task tokens by itself (within days; Token treats an expired token
// as gone at once).
func TimeToLive(table string) *dynamodb.UpdateTimeToLiveInput {
	return &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	}
}
