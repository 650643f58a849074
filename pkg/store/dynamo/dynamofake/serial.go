package dynamofake

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Serial sends one request at a time through API. DynamoDB applies every request atomically;
// moto applies one in several unlocked Python steps, so two concurrent UpdateItem ADD on a new
// counter can both write 1, and a conditional put can pass its check just as another lands.
// Serializing requests restores DynamoDB's guarantee and nothing more: a store's calls still
// interleave between requests, which is the race the store must handle.
type Serial struct {
	API API
	mu  sync.Mutex
}

// GetItem implements API.
func (s *Serial) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.GetItem(ctx, in, optFns...)
}

// PutItem implements API.
func (s *Serial) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.PutItem(ctx, in, optFns...)
}

// UpdateItem implements API.
func (s *Serial) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.UpdateItem(ctx, in, optFns...)
}

// DeleteItem implements API.
func (s *Serial) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.DeleteItem(ctx, in, optFns...)
}

// Query implements API.
func (s *Serial) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.Query(ctx, in, optFns...)
}

// BatchGetItem implements API.
func (s *Serial) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.BatchGetItem(ctx, in, optFns...)
}
