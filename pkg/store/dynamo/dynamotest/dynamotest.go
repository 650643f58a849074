// Package dynamotest gives tests a stepline table (and the event bus functions publish to) on
// moto, created from the one table definition, dynamo.Schema.
package dynamotest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// seq keeps names unique within a test binary; the time keeps them unique across binaries
// sharing one moto server over a run.
var seq atomic.Int64

// Name returns a table or bus name starting with prefix, unique on the moto server.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, time.Now().Format("150405.000000"), seq.Add(1))
}

// Table creates a stepline table named after prefix on moto and returns its name.
func Table(tb testing.TB, moto *awstest.Moto, prefix string) string {
	tb.Helper()
	name := Name(prefix)
	_, err := dynamodb.NewFromConfig(moto.Config()).CreateTable(context.Background(), dynamo.Schema(name))
	if err != nil {
		tb.Fatalf("create table %s on moto: %v", name, err)
	}
	return name
}

// TableAndBus creates a stepline table and an event bus of the same name, as the functions
// that record runs and announce them need, and returns the name.
func TableAndBus(tb testing.TB, moto *awstest.Moto, prefix string) string {
	tb.Helper()
	name := Table(tb, moto, prefix)
	_, err := eventbridge.NewFromConfig(moto.Config()).CreateEventBus(context.Background(), &eventbridge.CreateEventBusInput{Name: aws.String(name)})
	if err != nil {
		tb.Fatalf("create event bus %s on moto: %v", name, err)
	}
	return name
}
