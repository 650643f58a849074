package dynamo

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stepline/stepline/pkg/store"
)

// Waiting is a started deploy kept by the key its finishing event names (an ECS deployment
// id, a CodeDeploy deployment, a CloudFormation stack id, prefixed by the provider): the
// event's function finds the task token with one GetItem, without knowing the run.
type Waiting struct {
	// Run and Task name the waiting action, as PutToken does.
	Run, Task string
	// Token is the Step Functions task token the event answers.
	Token string
	// Wait is the provider's deploy.Wait as JSON (what is awaited, when it started).
	Wait string
	// Expires is when the wait gives up; from then on Waiting reports it as not found and
	// DynamoDB's time to live deletes it.
	Expires time.Time
}

// PutWaiting records w under key, replacing a wait recorded before under the same key (a
// newer deploy of the same stack, say).
func (s *Store) PutWaiting(ctx context.Context, key string, w Waiting) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkWaitKey(key); err != nil {
		return err
	}
	if w.Run == "" || w.Task == "" || w.Token == "" {
		return fmt.Errorf("put wait %s: run, task and token are required", key)
	}
	it := keyOf(waitPK(key))
	it[attrType] = str(typeWaiting)
	it[attrRun] = str(w.Run)
	it[attrTask] = str(w.Task)
	it[attrToken] = str(w.Token)
	if w.Wait != "" {
		it[attrWait] = str(w.Wait)
	}
	if !w.Expires.IsZero() {
		it[TTLAttribute] = num(w.Expires.Add(time.Second - 1).Unix())
	}
	if err := s.put(ctx, it, "", nil, nil); err != nil {
		return fmt.Errorf("put wait %s: %w", key, err)
	}
	return nil
}

// Waiting returns the wait PutWaiting recorded under key. It fails with store.ErrNotFound
// when there is none or it has expired.
func (s *Store) Waiting(ctx context.Context, key string) (Waiting, error) {
	if err := ctx.Err(); err != nil {
		return Waiting{}, err
	}
	if err := checkWaitKey(key); err != nil {
		return Waiting{}, err
	}
	item, err := s.get(ctx, waitPK(key), waitSK)
	if err != nil {
		return Waiting{}, fmt.Errorf("wait %s: %w", key, err)
	}
	if item == nil {
		return Waiting{}, fmt.Errorf("wait %s: %w", key, store.ErrNotFound)
	}
	w := Waiting{Run: getS(item, attrRun), Task: getS(item, attrTask), Token: getS(item, attrToken), Wait: getS(item, attrWait)}
	expires, ok, err := getN(item, TTLAttribute)
	if err != nil {
		return Waiting{}, fmt.Errorf("wait %s: %w", key, err)
	}
	if ok {
		w.Expires = time.Unix(expires, 0).UTC()
		if !s.now().Before(w.Expires) {
			return Waiting{}, fmt.Errorf("wait %s expired at %s: %w", key, w.Expires.Format(time.RFC3339), store.ErrNotFound)
		}
	}
	return w, nil
}

// DeleteWaiting forgets the wait under key once it has ended, so a duplicate event finds
// nothing. Deleting a wait that is not there is not an error.
func (s *Store) DeleteWaiting(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkWaitKey(key); err != nil {
		return err
	}
	if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: keyOf(waitPK(key))}); err != nil {
		return fmt.Errorf("delete wait %s: %w", key, err)
	}
	return nil
}

const waitSK = "WAIT"

func waitPK(key string) string { return "WAIT#" + key }

func keyOf(pk string) map[string]types.AttributeValue { return key(pk, waitSK) }

func checkWaitKey(key string) error {
	if key == "" || !utf8.ValidString(key) {
		return fmt.Errorf("wait %q: the key is required, in UTF-8", key)
	}
	return nil
}
