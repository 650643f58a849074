package dynamo

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stepline/stepline/pkg/store"
)

// ErrTooLarge is returned (wrapped) when an item would exceed DynamoDB's 400 KB item limit
// even compressed. Nothing is written.
var ErrTooLarge = errors.New("item exceeds DynamoDB's 400 KB limit")

// maxItemSize is DynamoDB's item size limit, attribute names included.
const maxItemSize = 400 * 1024

// dynamoAPI is the part of the DynamoDB client the store uses.
type dynamoAPI interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, params *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ dynamoAPI = (*dynamodb.Client)(nil)

// Store is a store.Store in one DynamoDB table laid out as the package documentation shows,
// with the AWS runtime's task tokens and pipeline registry beside the runs. It holds no
// state of its own: any number of Lambda invocations may share the table.
type Store struct {
	api   dynamoAPI
	table string
	now   func() time.Time
	// attempts bounds the reads and conditional writes of one lane change; backoff and
	// maxBackoff shape the jittered wait between them.
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
}

var _ store.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock Token compares expiry times with; the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithLaneAttempts sets how many times Acquire and Release try to change a lane that other
// callers keep changing under them before giving up; the default is 32, enough for as many
// callers racing for one lane, since every failed attempt means another caller succeeded.
// Values below one keep the default.
func WithLaneAttempts(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.attempts = n
		}
	}
}

// New returns a Store on table through client, normally a *dynamodb.Client. The table must
// have been created from Schema.
func New(client dynamoAPI, table string, opts ...Option) *Store {
	s := &Store{
		api:        client,
		table:      table,
		now:        time.Now,
		attempts:   32,
		backoff:    5 * time.Millisecond,
		maxBackoff: 200 * time.Millisecond,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// key builds the primary key of an item.
func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func bin(v []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: v} }

// getS returns the string attribute name of item, empty when it is missing or not a string.
func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// getN returns the number attribute name of item; ok is false when it is missing.
func getN(item map[string]types.AttributeValue, name string) (n int64, ok bool, err error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false, nil
	}
	n, err = strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("attribute %s: %w", name, err)
	}
	return n, true, nil
}

// getB returns the binary attribute name of item, or an error naming it when it is missing.
func getB(item map[string]types.AttributeValue, name string) ([]byte, error) {
	if v, ok := item[name].(*types.AttributeValueMemberB); ok {
		return v.Value, nil
	}
	return nil, fmt.Errorf("item %s/%s has no binary %s attribute", getS(item, attrPK), getS(item, attrSK), name)
}

// put writes item, refusing it with ErrTooLarge when DynamoDB would. cond, when not empty,
// is the condition expression, with names and values.
func (s *Store) put(ctx context.Context, item map[string]types.AttributeValue, cond string, names map[string]string, values map[string]types.AttributeValue) error {
	if n := itemSize(item); n > maxItemSize {
		return fmt.Errorf("%w: the item is %d bytes, the limit %d", ErrTooLarge, n, maxItemSize)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
		in.ExpressionAttributeNames = names
		in.ExpressionAttributeValues = values
	}
	_, err := s.api.PutItem(ctx, in)
	return err
}

// get reads the item at pk, sk with a strongly consistent read; nil when there is none.
func (s *Store) get(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// itemSize is the size DynamoDB counts for item: names and values in bytes, numbers at about
// one byte per two digits plus one. Only the attribute kinds this package writes are sized
// exactly; others count as their name only.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberB:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			n += (len(v.Value)+1)/2 + 1
		}
	}
	return n
}

// gzipWriters keeps compressors between calls: each holds about a megabyte of tables, which
// would otherwise be allocated for every record written.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// compress gzips b.
func compress(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// decompress reverses compress.
func decompress(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	return out, nil
}

// sleep waits the jittered backoff before retry attempt (1 for the first retry), or until ctx
// ends.
func (s *Store) sleep(ctx context.Context, attempt int) error {
	d := s.backoff << min(attempt-1, 16)
	if d <= 0 || d > s.maxBackoff {
		d = s.maxBackoff
	}
	t := time.NewTimer(rand.N(d) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
