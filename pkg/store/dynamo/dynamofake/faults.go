package dynamofake

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// API is the part of DynamoDB's client the stepline store calls; *DB and *dynamodb.Client
// are both one.
type API interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, params *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var (
	_ API = (*DB)(nil)
	_ API = (*dynamodb.Client)(nil)
)

// Fault is what happens to one request.
type Fault int

const (
	// NoFault passes the request through.
	NoFault Fault = iota
	// ServerError fails the request before it reaches the table, as a 5xx that outlasted the
	// SDK's retries.
	ServerError
	// LostAnswer applies the request and then fails it with a timeout: the write happened, the
	// caller cannot know.
	LostAnswer
)

// ErrTimeout is the error of a LostAnswer request (wrapped in a *smithy.OperationError, as
// the SDK wraps its transport's).
var ErrTimeout = errors.New("request timed out after the server received it (the answer was lost)")

// Inject returns the error fault stands for on operation op of service, or nil for NoFault.
// apply runs the request; it runs for NoFault and LostAnswer only, so a LostAnswer request
// still takes effect.
func Inject[T any](service, op string, fault Fault, apply func() (T, error)) (T, error) {
	var zero T
	switch fault {
	case ServerError:
		return zero, &smithy.OperationError{ServiceID: service, OperationName: op,
			Err: &smithy.GenericAPIError{Code: "InternalServerError", Message: "injected 500", Fault: smithy.FaultServer}}
	case LostAnswer:
		// The caller never sees the real answer, error or not.
		_, _ = apply()
		return zero, &smithy.OperationError{ServiceID: service, OperationName: op, Err: ErrTimeout}
	}
	return apply()
}

// Faulty passes requests to API unless Decide, asked with the operation's name and the key
// of the item (the partition and sort key values; empty for Query and BatchGetItem), says
// otherwise.
type Faulty struct {
	API
	Decide func(op, key string) Fault
}

// keyText is the stepline table's key of k (its pk and sk attributes) as text.
func keyText(k map[string]types.AttributeValue) string {
	s := func(name string) string {
		v, _ := k[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	return s("pk") + "|" + s("sk")
}

// GetItem implements API.
func (f *Faulty) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return Inject("DynamoDB", "GetItem", f.Decide("GetItem", keyText(in.Key)), func() (*dynamodb.GetItemOutput, error) {
		return f.API.GetItem(ctx, in, optFns...)
	})
}

// PutItem implements API.
func (f *Faulty) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return Inject("DynamoDB", "PutItem", f.Decide("PutItem", keyText(in.Item)), func() (*dynamodb.PutItemOutput, error) {
		return f.API.PutItem(ctx, in, optFns...)
	})
}

// UpdateItem implements API.
func (f *Faulty) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return Inject("DynamoDB", "UpdateItem", f.Decide("UpdateItem", keyText(in.Key)), func() (*dynamodb.UpdateItemOutput, error) {
		return f.API.UpdateItem(ctx, in, optFns...)
	})
}

// DeleteItem implements API.
func (f *Faulty) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return Inject("DynamoDB", "DeleteItem", f.Decide("DeleteItem", keyText(in.Key)), func() (*dynamodb.DeleteItemOutput, error) {
		return f.API.DeleteItem(ctx, in, optFns...)
	})
}

// Query implements API.
func (f *Faulty) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	key := aws.ToString(in.IndexName) + "|" + aws.ToString(in.KeyConditionExpression)
	for _, v := range in.ExpressionAttributeValues {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			key += "|" + s.Value
		}
	}
	return Inject("DynamoDB", "Query", f.Decide("Query", key), func() (*dynamodb.QueryOutput, error) {
		return f.API.Query(ctx, in, optFns...)
	})
}

// BatchGetItem implements API.
func (f *Faulty) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	key := ""
	for _, ka := range in.RequestItems {
		for _, k := range ka.Keys {
			key += keyText(k) + ";"
		}
	}
	return Inject("DynamoDB", "BatchGetItem", f.Decide("BatchGetItem", key), func() (*dynamodb.BatchGetItemOutput, error) {
		return f.API.BatchGetItem(ctx, in, optFns...)
	})
}
