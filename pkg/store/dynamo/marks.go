package dynamo

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// Marks remember that something was done once, for a while: the notify function marks each
// message it has sent and each token problem it has reported, so a redelivered event does
// not send or report them again. A mark is kept until expires, then DynamoDB's time to live
// deletes it.

// Mark records key until expires. Marking a key again moves its expiry.
func (s *Store) Mark(ctx context.Context, name string, expires time.Time) error {
	if err := checkMark(name); err != nil {
		return err
	}
	item := key(markPK(name), markSK)
	item[attrType] = str(typeMark)
	item[TTLAttribute] = num(expires.Add(time.Second - 1).Unix())
	if err := s.put(ctx, item, "", nil, nil); err != nil {
		return fmt.Errorf("mark %s: %w", name, err)
	}
	return nil
}

// Marked reports whether key is marked and its mark has not expired, even when DynamoDB has
// not deleted it yet: time to live deletes within days, not at the second.
func (s *Store) Marked(ctx context.Context, key string) (bool, error) {
	if err := checkMark(key); err != nil {
		return false, err
	}
	item, err := s.get(ctx, markPK(key), markSK)
	if err != nil {
		return false, fmt.Errorf("read mark %s: %w", key, err)
	}
	if item == nil {
		return false, nil
	}
	expires, ok, err := getN(item, TTLAttribute)
	if err != nil {
		return false, fmt.Errorf("read mark %s: %w", key, err)
	}
	return !ok || s.now().Before(time.Unix(expires, 0)), nil
}

const markSK = "MARK"

func markPK(key string) string { return "MARK#" + key }

func checkMark(key string) error {
	if key == "" || !utf8.ValidString(key) {
		return fmt.Errorf("mark %q: the key is required, in UTF-8", key)
	}
	return nil
}
