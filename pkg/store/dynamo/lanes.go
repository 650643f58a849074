package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// Acquire implements store.Store: the lane is read, engine.Lane.Acquire applied and the
// result written back on condition that nobody wrote the lane in between; a lost race is
// retried from the read.
func (s *Store) Acquire(ctx context.Context, scope store.Scope, stage string, mode engine.Mode, run string, seq int64) (engine.Grant, error) {
	if err := ctx.Err(); err != nil {
		return engine.Grant{}, err
	}
	if err := checkLane(scope, stage, run); err != nil {
		return engine.Grant{}, err
	}
	var g engine.Grant
	err := s.updateLane(ctx, scope, stage, func(l engine.Lane) engine.Lane {
		l, g = l.Acquire(mode, run, seq)
		return l
	})
	if err != nil {
		return engine.Grant{}, fmt.Errorf("acquire %s/%s for %s: %w", scope, stage, run, err)
	}
	return g, nil
}

// Release implements store.Store in the same way as Acquire, with engine.Lane.Release.
func (s *Store) Release(ctx context.Context, scope store.Scope, stage, run string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := checkLane(scope, stage, run); err != nil {
		return "", err
	}
	var next string
	err := s.updateLane(ctx, scope, stage, func(l engine.Lane) engine.Lane {
		l, next = l.Release(run)
		return l
	})
	if err != nil {
		return "", fmt.Errorf("release %s/%s for %s: %w", scope, stage, run, err)
	}
	return next, nil
}

// updateLane applies fn to the stored lane until a conditional write of the result
// succeeds, at most s.attempts times. fn is called once per attempt; the caller keeps what
// the last call reported. A free lane is deleted; a lane fn leaves unchanged is not written,
// since the strongly consistent read already placed the call in the lane's history.
func (s *Store) updateLane(ctx context.Context, scope store.Scope, stage string, fn func(engine.Lane) engine.Lane) error {
	pk, sk := scopePK(scope), "LANE#"+stage
	var lost error
	for attempt := 1; attempt <= s.attempts; attempt++ {
		if attempt > 1 {
			if err := s.sleep(ctx, attempt-1); err != nil {
				return fmt.Errorf("%w (after %d conflicting writes)", err, attempt-1)
			}
		}
		item, err := s.get(ctx, pk, sk)
		if err != nil {
			return fmt.Errorf("read lane: %w", err)
		}
		old, version, err := decodeLane(item)
		if err != nil {
			return err
		}
		lane := fn(old)
		err = s.writeLane(ctx, pk, sk, lane, old, version)
		var conflict *types.ConditionalCheckFailedException
		if !errors.As(err, &conflict) {
			return err
		}
		lost = err
	}
	return fmt.Errorf("gave up after %d attempts, every one overtaken by another writer: %w", s.attempts, lost)
}

// writeLane stores lane in place of old, read at version (empty when there was no item).
func (s *Store) writeLane(ctx context.Context, pk, sk string, lane, old engine.Lane, version string) error {
	if reflect.DeepEqual(normal(lane), normal(old)) {
		return nil
	}
	cond := "#version = :version"
	names := map[string]string{"#version": attrVersion}
	values := map[string]types.AttributeValue{":version": str(version)}
	if version == "" {
		cond, names, values = "attribute_not_exists(#pk)", map[string]string{"#pk": attrPK}, nil
	}
	if free(lane) {
		_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 aws.String(s.table),
			Key:                       key(pk, sk),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		})
		if err != nil {
			return fmt.Errorf("delete free lane: %w", err)
		}
		return nil
	}
	data, err := json.Marshal(lane)
	if err != nil {
		return fmt.Errorf("encode lane: %w", err)
	}
	item := key(pk, sk)
	item[attrType] = str(typeLane)
	item[attrLane] = str(string(data))
	item[attrVersion] = str(rand.Text())
	if err := s.put(ctx, item, cond, names, values); err != nil {
		return fmt.Errorf("write lane: %w", err)
	}
	return nil
}

// decodeLane reads a lane item; a missing item is a free lane with no version.
func decodeLane(item map[string]types.AttributeValue) (engine.Lane, string, error) {
	var l engine.Lane
	if item == nil {
		return l, "", nil
	}
	version := getS(item, attrVersion)
	if version == "" {
		return l, "", fmt.Errorf("lane %s/%s has no version", getS(item, attrPK), getS(item, attrSK))
	}
	if err := json.Unmarshal([]byte(getS(item, attrLane)), &l); err != nil {
		return l, "", fmt.Errorf("decode lane %s/%s: %w", getS(item, attrPK), getS(item, attrSK), err)
	}
	return l, version, nil
}

// normal makes empty and nil slices compare equal, as they encode alike.
func normal(l engine.Lane) engine.Lane {
	if len(l.Waiting) == 0 {
		l.Waiting = nil
	}
	if len(l.Gone) == 0 {
		l.Gone = nil
	}
	return l
}

// free reports whether nobody holds or waits for l and it remembers no superseded run, as
// store.Memory and store.Bolt decide; such lanes are deleted.
func free(l engine.Lane) bool {
	return l.Holder == "" && len(l.Waiting) == 0 && len(l.Gone) == 0
}

// checkLane refuses lane names that cannot form a key.
func checkLane(scope store.Scope, stage, run string) error {
	switch {
	case stage == "" || run == "":
		return fmt.Errorf("lane %s/%q for run %q: stage and run are required", scope, stage, run)
	case !utf8.ValidString(stage):
		return fmt.Errorf("lane %s/%q: the stage name must be valid UTF-8", scope, stage)
	}
	return checkScope(scope)
}
