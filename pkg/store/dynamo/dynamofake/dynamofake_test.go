package dynamofake

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTable is a table keyed like the stepline table, with one keys-only index on "pipeline".
func newTable(t *testing.T) *DB {
	t.Helper()
	db := New()
	s := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	keys := func(h, r string) []types.KeySchemaElement {
		return []types.KeySchemaElement{{AttributeName: aws.String(h), KeyType: types.KeyTypeHash}, {AttributeName: aws.String(r), KeyType: types.KeyTypeRange}}
	}
	_, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{TableName: aws.String("t"),
		AttributeDefinitions: []types.AttributeDefinition{s("pk"), s("sk"), s("pipeline"), s("order")}, KeySchema: keys("pk", "sk"),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("pipeline"), KeySchema: keys("pipeline", "order"),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}}}})
	require.NoError(t, err)
	return db
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestExpressionsOutsideTheSubsetAreRefusedNamingWhatIsMissing(t *testing.T) {
	t.Parallel()
	db := newTable(t)
	for _, tc := range []struct{ expr, missing string }{
		{"#a BETWEEN :x AND :y", "BETWEEN"},
		{"#a IN (:x, :y)", "IN"},
		{"contains(#a, :x)", "contains"},
		{"size(#a) > :x", "size"},
		{"#a.b = :x", "document paths"},
		{"#a[0] = :x", "document paths"},
	} {
		_, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: map[string]types.AttributeValue{"pk": str("p"), "sk": str("s")},
			ConditionExpression: aws.String(tc.expr), ExpressionAttributeNames: map[string]string{"#a": "a"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":x": str("x"), ":y": str("y")}})
		require.Error(t, err, tc.expr)
		assert.Contains(t, err.Error(), "dynamofake does not implement", tc.expr)
		assert.Contains(t, err.Error(), tc.missing, tc.expr)
	}
	for _, update := range []string{"SET #a = #a + :x", "SET #a = if_not_exists(#a, :x)", "DELETE #a :x"} {
		_, err := db.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"pk": str("p"), "sk": str("s")},
			UpdateExpression: aws.String(update), ExpressionAttributeNames: map[string]string{"#a": "a"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":x": &types.AttributeValueMemberN{Value: "1"}}})
		require.Error(t, err, update)
		assert.Contains(t, err.Error(), "dynamofake does not implement", update)
	}
	_, err := db.Query(t.Context(), &dynamodb.QueryInput{TableName: aws.String("t"), KeyConditionExpression: aws.String("pk = :p"),
		FilterExpression: aws.String("attribute_exists(x)"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": str("p")}})
	assert.ErrorContains(t, err, "dynamofake does not implement")
}

func TestConcurrentADDsOfANewCounterHandOutEveryNumberOnce(t *testing.T) {
	t.Parallel()
	db := newTable(t)
	const n = 200
	got := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			out, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String("t"),
				Key: map[string]types.AttributeValue{"pk": str("c"), "sk": str("SEQ")}, UpdateExpression: aws.String("ADD #n :one"),
				ExpressionAttributeNames: map[string]string{"#n": "n"}, ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
				ReturnValues: types.ReturnValueUpdatedNew})
			assert.NoError(t, err)
			got <- out.Attributes["n"].(*types.AttributeValueMemberN).Value
		})
	}
	wg.Wait()
	close(got)
	seen := map[string]bool{}
	for v := range got {
		assert.False(t, seen[v], "number %s handed out twice", v)
		seen[v] = true
	}
	assert.Len(t, seen, n)
}

func TestAnIndexHoldsOnlyItemsWithBothItsKeysAndRefusesAnotherType(t *testing.T) {
	t.Parallel()
	db := newTable(t)
	put := func(item map[string]types.AttributeValue) error {
		_, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item})
		return err
	}
	require.NoError(t, put(map[string]types.AttributeValue{"pk": str("a"), "sk": str("1"), "pipeline": str("api"), "order": str("1")}))
	require.NoError(t, put(map[string]types.AttributeValue{"pk": str("a"), "sk": str("2"), "pipeline": str("api")}))
	require.NoError(t, put(map[string]types.AttributeValue{"pk": str("a"), "sk": str("3"), "pipeline": str("api"), "order": str("3")}))
	// Rewriting an item without its index key takes it out of the index.
	require.NoError(t, put(map[string]types.AttributeValue{"pk": str("a"), "sk": str("3")}))
	err := put(map[string]types.AttributeValue{"pk": str("a"), "sk": str("4"), "pipeline": &types.AttributeValueMemberN{Value: "1"}, "order": str("4")})
	var api smithy.APIError
	require.True(t, errors.As(err, &api), "%v", err)
	assert.Equal(t, "ValidationException", api.ErrorCode())

	out, err := db.Query(t.Context(), &dynamodb.QueryInput{TableName: aws.String("t"), IndexName: aws.String("pipeline"),
		KeyConditionExpression: aws.String("#p = :p"), ExpressionAttributeNames: map[string]string{"#p": "pipeline"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str("api")}})
	require.NoError(t, err)
	require.Len(t, out.Items, 1)
	assert.Equal(t, str("1"), out.Items[0]["sk"])
}

func TestALostAnswerStillWrites(t *testing.T) {
	t.Parallel()
	db := newTable(t)
	faults := []Fault{ServerError, LostAnswer}
	f := &Faulty{API: db, Decide: func(string, string) Fault { next := faults[0]; faults = faults[1:]; return next }}
	item := map[string]types.AttributeValue{"pk": str("p"), "sk": str("s")}
	get := func() map[string]types.AttributeValue {
		out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: item})
		require.NoError(t, err)
		return out.Item
	}

	_, err := f.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item})
	var api smithy.APIError
	require.True(t, errors.As(err, &api))
	assert.Equal(t, "InternalServerError", api.ErrorCode())
	assert.Nil(t, get(), "a 5xx writes nothing")

	_, err = f.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item})
	assert.ErrorIs(t, err, ErrTimeout)
	assert.NotNil(t, get(), "a lost answer's write happened")
}
