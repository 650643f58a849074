package dynamo

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamofake"
	"github.com/stepline/stepline/pkg/store/storetest"
)

// The chaos test of the trigger (pkg/triggerstep) runs the store on dynamofake, because moto
// loses DynamoDB's atomicity under concurrency and slows down as tables grow. These tests
// hold the fake to the same contract as the store on moto, and to moto's answers request by
// request, so what the chaos test proves holds on DynamoDB's semantics, not the fake's.

// fakeTable creates a table from Schema in a new fake and returns the fake and its name.
func fakeTable(tb testing.TB) (*dynamofake.DB, string) {
	tb.Helper()
	db := dynamofake.New()
	_, err := db.CreateTable(context.Background(), Schema("stepline"))
	require.NoError(tb, err)
	return db, "stepline"
}

func TestStoreOnTheFakeMeetsTheStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		db, table := fakeTable(t)
		return New(db, table)
	})
}

// outcome is what a request came to, comparable across moto and the fake: the class of its
// error ("" for none) and the items or attributes it returned.
type outcome struct {
	Err   string
	Items []map[string]string
	More  bool
}

func classify(err error) string {
	var ccf *types.ConditionalCheckFailedException
	var api smithy.APIError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ccf):
		return "ConditionalCheckFailed"
	case errors.As(err, &api):
		return api.ErrorCode()
	}
	return err.Error()
}

func render(items ...map[string]types.AttributeValue) []map[string]string {
	var out []map[string]string
	for _, item := range items {
		if item == nil {
			continue
		}
		m := map[string]string{}
		for k, v := range item {
			switch v := v.(type) {
			case *types.AttributeValueMemberS:
				m[k] = "S:" + v.Value
			case *types.AttributeValueMemberN:
				m[k] = "N:" + v.Value
			default:
				m[k] = fmt.Sprintf("%T", v)
			}
		}
		out = append(out, m)
	}
	return out
}

func TestTheFakeAnswersTheStoresRequestsAsMotoDoes(t *testing.T) {
	t.Parallel()
	motoAPI, motoTable := newTable(t)
	fake, fakeTableName := fakeTable(t)
	s, n, v := aws.String, func(x string) types.AttributeValue { return &types.AttributeValueMemberN{Value: x} },
		func(x string) types.AttributeValue { return &types.AttributeValueMemberS{Value: x} }
	item := func(pk, sk string, attrs ...string) map[string]types.AttributeValue {
		it := map[string]types.AttributeValue{"pk": v(pk), "sk": v(sk)}
		for i := 0; i+1 < len(attrs); i += 2 {
			it[attrs[i]] = v(attrs[i+1])
		}
		return it
	}
	notExists := s("attribute_not_exists(#pk)")
	pkName := map[string]string{"#pk": "pk"}
	steps := []struct {
		name string
		do   func(api dynamofake.API, table string) outcome
	}{
		{"a put if absent writes a new item", func(api dynamofake.API, table string) outcome {
			_, err := api.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: s(table), Item: item("KEY#a", "SEQ", "seq", "1"),
				ConditionExpression: notExists, ExpressionAttributeNames: pkName})
			return outcome{Err: classify(err)}
		}},
		{"a second put if absent fails its condition", func(api dynamofake.API, table string) outcome {
			_, err := api.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: s(table), Item: item("KEY#a", "SEQ", "seq", "2"),
				ConditionExpression: notExists, ExpressionAttributeNames: pkName})
			return outcome{Err: classify(err)}
		}},
		// UPDATED_NEW returns the attributes the update names
		// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html#DDB-UpdateItem-request-ReturnValues);
		// moto adds the keys on the first update and drops a SET that changed nothing, so only
		// the counter, the one attribute the store reads, is compared.
		{"ADD counts from nothing and returns the updated counter", func(api dynamofake.API, table string) outcome {
			var items []map[string]types.AttributeValue
			for range 3 {
				out, err := api.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{TableName: s(table), Key: item("SCOPE#x", "SEQ"),
					UpdateExpression:          s("SET #type = :type ADD #seq :one"),
					ExpressionAttributeNames:  map[string]string{"#type": "type", "#seq": "seq"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":type": v("seq"), ":one": n("1")},
					ReturnValues:              types.ReturnValueUpdatedNew})
				if err != nil {
					return outcome{Err: classify(err)}
				}
				items = append(items, map[string]types.AttributeValue{"seq": out.Attributes["seq"]})
			}
			return outcome{Items: render(items...)}
		}},
		{"a version condition holds only for the version read", func(api dynamofake.API, table string) outcome {
			put := func(version, want string) error {
				_, err := api.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: s(table), Item: item("SCOPE#x", "LANE#d", "version", version),
					ConditionExpression: s("#version = :version"), ExpressionAttributeNames: map[string]string{"#version": "version"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":version": v(want)}})
				return err
			}
			_, err := api.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: s(table), Item: item("SCOPE#x", "LANE#d", "version", "v1"),
				ConditionExpression: notExists, ExpressionAttributeNames: pkName})
			return outcome{Err: classify(err) + "," + classify(put("v2", "v0")) + "," + classify(put("v2", "v1")) + "," + classify(put("v3", "v1"))}
		}},
		{"a registration is replaced only by one pushed no earlier", func(api dynamofake.API, table string) outcome {
			put := func(pushed string) error {
				_, err := api.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: s(table), Item: map[string]types.AttributeValue{"pk": v("REG#r"), "sk": v("REG"), "pushed": n(pushed)},
					ConditionExpression:       s("attribute_not_exists(#pk) OR #pushed <= :pushed"),
					ExpressionAttributeNames:  map[string]string{"#pk": "pk", "#pushed": "pushed"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":pushed": n(pushed)}})
				return err
			}
			return outcome{Err: classify(put("100")) + "," + classify(put("99")) + "," + classify(put("100")) + "," + classify(put("1000"))}
		}},
		{"a conditional delete of a changed item fails, of the item read succeeds", func(api dynamofake.API, table string) outcome {
			del := func(version string) error {
				_, err := api.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: s(table), Key: item("SCOPE#x", "LANE#d"),
					ConditionExpression: s("#version = :version"), ExpressionAttributeNames: map[string]string{"#version": "version"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":version": v(version)}})
				return err
			}
			out, err := api.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: s(table), Key: item("SCOPE#x", "LANE#d")})
			require.NoError(t, err)
			return outcome{Err: classify(del("v1")) + "," + classify(del("v3")) + "," + classify(del("v3")), Items: render(out.Item)}
		}},
		{"an index is read newest first, page by page, sparse", func(api dynamofake.API, table string) outcome {
			for i, id := range []string{"api-1", "api-2", "api-3", "web-1", "api-4"} {
				it := item("RUN#"+id[:1], id, "order", fmt.Sprintf("%03d%s", 10-i, id), "type", "run")
				if id[0] == 'a' {
					it["pipeline"] = v("api")
				}
				_, err := api.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: s(table), Item: it})
				require.NoError(t, err)
			}
			in := &dynamodb.QueryInput{TableName: s(table), IndexName: s("pipeline"), KeyConditionExpression: s("#h = :v"),
				ExpressionAttributeNames: map[string]string{"#h": "pipeline"}, ExpressionAttributeValues: map[string]types.AttributeValue{":v": v("api")},
				ScanIndexForward: aws.Bool(false), Limit: aws.Int32(3)}
			var o outcome
			for page := 0; page < 3; page++ {
				out, err := api.Query(t.Context(), in)
				if err != nil {
					return outcome{Err: classify(err)}
				}
				o.Items = append(o.Items, render(out.Items...)...)
				if len(out.LastEvaluatedKey) == 0 {
					break
				}
				in.ExclusiveStartKey = out.LastEvaluatedKey
			}
			return o
		}},
		{"an index is read newest first below an order (the page after a run)", func(api dynamofake.API, table string) outcome {
			out, err := api.Query(t.Context(), &dynamodb.QueryInput{TableName: s(table), IndexName: s("pipeline"),
				KeyConditionExpression:    s("#h = :v AND #o < :before"),
				ExpressionAttributeNames:  map[string]string{"#h": "pipeline", "#o": "order"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": v("api"), ":before": v("009api-2")},
				ScanIndexForward:          aws.Bool(false)})
			if err != nil {
				return outcome{Err: classify(err)}
			}
			return outcome{Items: render(out.Items...), More: len(out.LastEvaluatedKey) > 0}
		}},
		{"a newest-run pointer moves forward, or is rewritten by its own run, never back", func(api dynamofake.API, table string) outcome {
			put := func(order, run string) string {
				_, err := api.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: s(table), Item: item("SCOPE#y", "LATEST", "order", order, "run", run, "type", "latest"),
					ConditionExpression:       s("attribute_not_exists(#order) OR #order <= :order OR #run = :run"),
					ExpressionAttributeNames:  map[string]string{"#order": "order", "#run": "run"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":order": v(order), ":run": v(run)}})
				return classify(err)
			}
			return outcome{Err: put("002b", "b") + "," + put("001a", "a") + "," + put("002b", "b") + "," + put("000b", "b") + "," + put("003c", "c")}
		}},
		{"a key prefix is read from one partition", func(api dynamofake.API, table string) outcome {
			out, err := api.Query(t.Context(), &dynamodb.QueryInput{TableName: s(table), KeyConditionExpression: s("#pk = :pk AND begins_with(#sk, :prefix)"),
				ExpressionAttributeNames:  map[string]string{"#pk": "pk", "#sk": "sk"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": v("RUN#a"), ":prefix": v("api-")},
				ConsistentRead:            aws.Bool(true), Limit: aws.Int32(2)})
			if err != nil {
				return outcome{Err: classify(err)}
			}
			return outcome{Items: render(out.Items...), More: len(out.LastEvaluatedKey) > 0}
		}},
		{"an unused placeholder is refused", func(api dynamofake.API, table string) outcome {
			_, err := api.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: s(table), Item: item("X", "Y"),
				ConditionExpression: notExists, ExpressionAttributeNames: map[string]string{"#pk": "pk", "#other": "other"}})
			return outcome{Err: classify(err)}
		}},
		{"a batch read returns the items that exist", func(api dynamofake.API, table string) outcome {
			out, err := api.BatchGetItem(t.Context(), &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				table: {Keys: []map[string]types.AttributeValue{item("RUN#a", "api-2"), item("RUN#z", "zz"), item("KEY#a", "SEQ")}, ConsistentRead: aws.Bool(true)}}})
			if err != nil {
				return outcome{Err: classify(err)}
			}
			got := render(out.Responses[table]...)
			return outcome{Items: got, More: len(out.UnprocessedKeys) > 0}
		}},
	}
	for _, step := range steps {
		want := step.do(motoAPI, motoTable)
		got := step.do(fake, fakeTableName)
		if step.name == "a batch read returns the items that exist" {
			assert.ElementsMatch(t, want.Items, got.Items, step.name)
			want.Items, got.Items = nil, nil
		}
		assert.Equal(t, want, got, step.name)
	}
}
