package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// batchAttempts bounds the BatchGetItem calls spent on keys DynamoDB left unprocessed.
const batchAttempts = 8

// NextSeq implements store.Store with one atomic UpdateItem ADD on the counter of the scope's
// repository and pipeline.
func (s *Store) NextSeq(ctx context.Context, scope store.Scope) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := checkScope(scope); err != nil {
		return 0, fmt.Errorf("next seq: %w", err)
	}
	counter := scope.Counter()
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(scopePK(counter), "SEQ"),
		UpdateExpression:         aws.String("SET #type = :type ADD #seq :one"),
		ExpressionAttributeNames: map[string]string{"#type": attrType, "#seq": attrSeq},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":type": str(typeSeq),
			":one":  num(1),
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("next seq of %s: %w", counter, err)
	}
	n, ok, err := getN(out.Attributes, attrSeq)
	if err == nil && !ok {
		err = errors.New("the update returned no counter")
	}
	if err != nil {
		return 0, fmt.Errorf("next seq of %s: %w", counter, err)
	}
	return n, nil
}

// PutRun implements store.Store with one PutItem: the record gzip-compressed in body, and the
// attributes the indexes sort and select by; then the scope's newest-run pointer, and an ended
// run's listing items (listRun).
func (s *Store) PutRun(ctx context.Context, r store.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkRecord(r); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put run %s: %w", r.ID(), err)
	}
	body := compress(data)
	item := map[string]types.AttributeValue{
		attrPK:       str(runPK(r.ID())),
		attrSK:       str(r.ID()),
		attrType:     str(typeRun),
		attrPipeline: str(r.Pipeline()),
		attrOrder:    str(orderKey(r)),
		attrSeq:      num(r.State.Seq),
		attrStarted:  num(r.State.Started),
		attrBody:     bin(body),
	}
	if r.State.Status != "" {
		item[attrStatus] = str(string(r.State.Status))
	}
	switch {
	case r.State.Status == engine.Succeeded:
		item[attrSucceeded] = str(r.Scope().Key())
	case !r.State.Done():
		item[attrSucceeded] = str(unfinishedKey)
	}
	if !r.Updated.IsZero() {
		item[attrUpdated] = str(r.Updated.UTC().Format(time.RFC3339Nano))
	}
	if r.State.Status == engine.Succeeded {
		// The pointer first: one naming a run whose record does not say succeeded yet is
		// checked and passed over by LastSucceeded, a run recorded as succeeded with an older
		// pointer would not be.
		if err := s.pointLastSucceeded(ctx, r); err != nil {
			return fmt.Errorf("put run %s: %w", r.ID(), err)
		}
	}
	if err := s.put(ctx, item, "", nil, nil); err != nil {
		if errors.Is(err, ErrTooLarge) {
			err = fmt.Errorf("record is %d bytes as JSON and %d gzipped: %w", len(data), len(body), err)
		}
		return fmt.Errorf("put run %s: %w", r.ID(), err)
	}
	// After the run: a failure here fails PutRun, whose caller writes the run again, and a
	// pointer or listing item never names a run that was not written.
	if err := s.pointLatest(ctx, r); err != nil {
		return fmt.Errorf("put run %s: %w", r.ID(), err)
	}
	if err := s.listRun(ctx, r); err != nil {
		return fmt.Errorf("put run %s: %w", r.ID(), err)
	}
	return nil
}

// pointLatest makes r's scope's newest-run pointer name r, unless it names a newer run
// already: a conditional PutItem, the all index's "latest" partition keyed by the run's
// order (whose end is the run's id).
func (s *Store) pointLatest(ctx context.Context, r store.Record) error {
	order := orderKey(r)
	item := key(scopePK(r.Scope()), latestSK)
	item[attrType], item[attrRun], item[attrOrder] = str(typeLatest), str(r.ID()), str(order)
	err := s.put(ctx, item, "attribute_not_exists(#order) OR #order <= :order OR #run = :run",
		map[string]string{"#order": attrOrder, "#run": attrRun},
		map[string]types.AttributeValue{":order": str(order), ":run": str(r.ID())})
	var newer *types.ConditionalCheckFailedException
	if errors.As(err, &newer) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("point the newest run of %s at it: %w", r.Scope(), err)
	}
	return nil
}

// listRun writes the listing items of an ended run r: one per store.ListingKeys key, in the
// partition LIST#<run id>, whose succeeded attribute is the key (the succeeded index's
// partition of the runs that filter selects) and order the run's. They have no type, so the
// all index does not hold them. A run not done has none written; items written when it ended
// before (a retried run) stay until it ends again, and ListRuns checks every record it reads.
func (s *Store) listRun(ctx context.Context, r store.Record) error {
	for i, k := range store.ListingKeys(r) {
		item := key(listingPK+r.ID(), listingSK(i))
		item[attrSucceeded], item[attrOrder] = str(k), str(orderKey(r))
		if err := s.put(ctx, item, "", nil, nil); err != nil {
			return fmt.Errorf("list run under %s: %w", k, err)
		}
	}
	return nil
}

// GetRun implements store.Store: one strongly consistent GetItem of the exact id.
func (s *Store) GetRun(ctx context.Context, id string) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, err
	}
	r, err := s.getRun(ctx, id)
	if err != nil {
		return store.Record{}, fmt.Errorf("get run %q: %w", id, err)
	}
	return r, nil
}

func (s *Store) getRun(ctx context.Context, id string) (store.Record, error) {
	if id == "" || !utf8.ValidString(id) {
		// No id is empty, and DynamoDB keys are valid UTF-8.
		return store.Record{}, store.ErrNotFound
	}
	item, err := s.get(ctx, runPK(id), id)
	switch {
	case err != nil:
		return store.Record{}, err
	case item == nil:
		return store.Record{}, store.ErrNotFound
	}
	return decodeRun(item)
}

// FindRun implements store.Finder (for the command line; no function reaches it): the exact
// id, else a strongly consistent Query of the partition of the prefix's first character for
// the ids it prefixes, reading at most store.MaxMatches+1.
func (s *Store) FindRun(ctx context.Context, prefix string) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, err
	}
	r, err := s.findRun(ctx, prefix)
	if err != nil {
		return store.Record{}, fmt.Errorf("find run %q: %w", prefix, err)
	}
	return r, nil
}

func (s *Store) findRun(ctx context.Context, prefix string) (store.Record, error) {
	if r, err := s.getRun(ctx, prefix); !errors.Is(err, store.ErrNotFound) || prefix == "" || !utf8.ValidString(prefix) {
		return r, err
	}
	out, err := s.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     str(runPK(prefix)),
			":prefix": str(prefix),
		},
		ConsistentRead: aws.Bool(true),
		Limit:          aws.Int32(store.MaxMatches + 1),
	})
	if err != nil {
		return store.Record{}, err
	}
	switch len(out.Items) {
	case 0:
		return store.Record{}, store.ErrNotFound
	case 1:
		return decodeRun(out.Items[0])
	}
	ids := make([]string, len(out.Items))
	for i, item := range out.Items {
		ids[i] = getS(item, attrSK)
	}
	return store.Record{}, store.Ambiguous(prefix, ids)
}

// ListRuns implements store.Store: the keys come from the pipeline index (or the all index
// without a pipeline; the succeeded index's unfinished partition for the runs not done, and
// its partition of f's listing key for a pipeline's runs of a branch or status), read
// backwards from f.After's order, and the records from strongly consistent batch reads. A
// listing holds ended runs only: the runs not done that f may keep are read from the
// unfinished partition (a few) and merged in.
func (s *Store) ListRuns(ctx context.Context, f store.Filter) ([]store.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	recs, err := s.listRuns(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return recs, nil
}

func (s *Store) listRuns(ctx context.Context, f store.Filter) ([]store.Record, error) {
	var after *store.Record
	before := ""
	if f.After != "" {
		r, err := s.getRun(ctx, f.After)
		if err != nil {
			return nil, fmt.Errorf("after %q: %w", f.After, err)
		}
		after, before = &r, orderKey(r)
	}
	index, hash, value := indexAll, attrType, typeRun
	switch {
	case f.OnlyUnfinished():
		index, hash, value = indexSucceeded, attrSucceeded, unfinishedKey
	case f.Listed():
		index, hash, value = indexSucceeded, attrSucceeded, store.ListingKey(f.Pipeline, f.Branch, f.Status)
	case f.Pipeline != "":
		index, hash, value = indexPipeline, attrPipeline, f.Pipeline
	}
	seen := map[string]bool{}
	var recs []store.Record
	listed := 0
	keep := func(r store.Record) bool {
		// A record may have moved to another pipeline, branch or status, or ended, since the
		// index was written; a retried run is in its listing and in the unfinished partition.
		if !f.Keeps(r) || f.OnlyUnfinished() && r.State.Done() || after != nil && !store.Before(*after, r) || seen[r.ID()] {
			return false
		}
		seen[r.ID()] = true
		recs = append(recs, r)
		return true
	}
	if f.Listed() && !f.Status.Final() {
		// The branch's runs not done, which its listing does not hold: a few.
		err := s.newestFirst(ctx, indexSucceeded, attrSucceeded, unfinishedKey, before, 0, func(batch []store.Record) bool {
			for _, r := range batch {
				if !r.State.Done() {
					keep(r)
				}
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	err := s.newestFirst(ctx, index, hash, value, before, f.Limit, func(batch []store.Record) bool {
		for _, r := range batch {
			if keep(r) {
				listed++
			}
		}
		return f.Limit <= 0 || listed < f.Limit
	})
	if err != nil {
		return nil, err
	}
	// The records are newer than the index that ordered them.
	slices.SortStableFunc(recs, store.CompareNewest)
	if f.Limit > 0 && len(recs) > f.Limit {
		recs = recs[:f.Limit]
	}
	return recs, nil
}

// Latest implements store.Store: the all index's partition of the scopes' newest-run pointers
// (as many entries as scopes), then the runs they name, read in batches. The index is
// eventually consistent: a pointer moved a moment ago may still give the run before. A table
// without any pointer yet (written before them, and no run since) is read whole, as before
// them; once a run is written, a scope none of whose runs was written since has no pointer
// and is not shown until its next run.
func (s *Store) Latest(ctx context.Context) ([]store.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var recs []store.Record
	all := func(batch []store.Record) bool {
		recs = append(recs, batch...)
		return true
	}
	err := s.newestFirst(ctx, indexAll, attrType, typeLatest, "", 0, all)
	if err == nil && len(recs) == 0 {
		err = s.newestFirst(ctx, indexAll, attrType, typeRun, "", 0, all)
	}
	if err != nil {
		return nil, fmt.Errorf("latest runs: %w", err)
	}
	return store.Newest(recs), nil
}

// LastSucceeded implements store.Store with two GetItems: the scope's last-succeeded
// pointer, then the run it names, checked to be a succeeded run of the scope. Without a
// pointer (a scope none of whose runs succeeded since the pointer was introduced), or with one
// whose run no longer says succeeded, the sparse succeeded index is queried, as before the
// pointer, and the pointer written from its answer, so the next call of the scope is two
// GetItems again: a scope that has never succeeded gets a pointer naming no run.
func (s *Store) LastSucceeded(ctx context.Context, scope store.Scope) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, err
	}
	r, err := s.lastSucceeded(ctx, scope)
	if err != nil {
		return store.Record{}, fmt.Errorf("last succeeded run of %s: %w", scope, err)
	}
	return r, nil
}

func (s *Store) lastSucceeded(ctx context.Context, scope store.Scope) (store.Record, error) {
	if err := checkScope(scope); err != nil {
		return store.Record{}, err
	}
	ptr, err := s.get(ctx, scopePK(scope), lastSucceededSK)
	if err != nil {
		return store.Record{}, err
	}
	named := getS(ptr, attrRun)
	switch {
	case ptr != nil && named == "":
		return store.Record{}, store.ErrNotFound
	case named != "":
		r, err := s.getRun(ctx, named)
		if err == nil && r.State.Status == engine.Succeeded && r.Scope() == scope {
			return r, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Record{}, err
		}
	}
	var found *store.Record
	err = s.newestFirst(ctx, indexSucceeded, attrSucceeded, scope.Key(), "", 1, func(batch []store.Record) bool {
		for _, r := range batch {
			if r.Scope() == scope && r.State.Status == engine.Succeeded {
				found = &r
				return false
			}
		}
		return true
	})
	if err != nil {
		return store.Record{}, err
	}
	// The pointer is only a shortcut: when writing it fails, the next call queries again.
	_ = s.repointLastSucceeded(ctx, scope, ptr != nil, named, found)
	if found == nil {
		return store.Record{}, store.ErrNotFound
	}
	return *found, nil
}

// pointLastSucceeded makes scope's last-succeeded pointer name r, unless it names a newer
// run (by ListRuns order) already.
func (s *Store) pointLastSucceeded(ctx context.Context, r store.Record) error {
	item := key(scopePK(r.Scope()), lastSucceededSK)
	item[attrType], item[attrRun], item[attrAt] = str(typeLastSucceeded), str(r.ID()), str(orderKey(r))
	err := s.put(ctx, item, "attribute_not_exists(#at) OR #at <= :at",
		map[string]string{"#at": attrAt}, map[string]types.AttributeValue{":at": str(orderKey(r))})
	var older *types.ConditionalCheckFailedException
	if errors.As(err, &older) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("point the last succeeded run of %s at it: %w", r.Scope(), err)
	}
	return nil
}

// repointLastSucceeded writes scope's pointer from the index's answer found (nil: none),
// provided the pointer is still as LastSucceeded read it: absent (existed false), or naming
// the run stale that no longer qualified. A run that succeeds meanwhile points it itself.
func (s *Store) repointLastSucceeded(ctx context.Context, scope store.Scope, existed bool, stale string, found *store.Record) error {
	item := key(scopePK(scope), lastSucceededSK)
	item[attrType] = str(typeLastSucceeded)
	if found != nil {
		item[attrRun], item[attrAt] = str(found.ID()), str(orderKey(*found))
	}
	if !existed {
		return s.put(ctx, item, "attribute_not_exists(#pk)", map[string]string{"#pk": attrPK}, nil)
	}
	return s.put(ctx, item, "#run = :stale", map[string]string{"#run": attrRun}, map[string]types.AttributeValue{":stale": str(stale)})
}

// newestFirst queries index for the runs whose hash attribute is value, newest first, from
// the last order below before (empty: from the newest), page by page of at most page keys (a
// DynamoDB page when zero or less), reads each page's records and calls yield with them until
// it returns false or the index is exhausted. The run an entry names is the end of its order
// (orderKey), so an entry may be a run or an item pointing at one (a listing item, a scope's
// newest-run pointer).
func (s *Store) newestFirst(ctx context.Context, index, hash, value, before string, page int, yield func([]store.Record) bool) error {
	if value == "" {
		return nil // no index key is empty
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(index),
		KeyConditionExpression:   aws.String("#h = :v"),
		ExpressionAttributeNames: map[string]string{"#h": hash},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":v": str(value),
		},
		ScanIndexForward: aws.Bool(false),
	}
	if before != "" {
		in.KeyConditionExpression = aws.String("#h = :v AND #o < :before")
		in.ExpressionAttributeNames["#o"] = attrOrder
		in.ExpressionAttributeValues[":before"] = str(before)
	}
	if page > 0 {
		in.Limit = aws.Int32(int32(min(page, 1000)))
	}
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return fmt.Errorf("query index %s: %w", index, err)
		}
		recs, err := s.batchGet(ctx, runKeys(out.Items))
		if err != nil {
			return err
		}
		if !yield(recs) || len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// runKeys are the keys of the runs index entries name, each once (BatchGetItem refuses a
// key twice): the run whose id ends the entry's order, or the entry itself when it has none.
func runKeys(entries []map[string]types.AttributeValue) []map[string]types.AttributeValue {
	keys := make([]map[string]types.AttributeValue, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		id, k := getS(e, attrOrder), e
		if len(id) > orderDigits && utf8.ValidString(id[orderDigits:]) {
			id = id[orderDigits:]
			k = key(runPK(id), id)
		}
		if name := getS(k, attrPK) + "\x00" + getS(k, attrSK); !seen[name] {
			seen[name] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// batchGet reads the runs whose keys are in keys (index entries: extra attributes are
// ignored) with strongly consistent reads, in the order of keys. A key whose item is gone is
// skipped.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]store.Record, error) {
	got := map[string]store.Record{}
	for chunk := range slices.Chunk(keys, 100) {
		pending := make([]map[string]types.AttributeValue, 0, len(chunk))
		for _, k := range chunk {
			pending = append(pending, map[string]types.AttributeValue{attrPK: k[attrPK], attrSK: k[attrSK]})
		}
		for attempt := 1; len(pending) > 0; attempt++ {
			if attempt > batchAttempts {
				return nil, fmt.Errorf("read runs: %d keys still unprocessed after %d attempts", len(pending), batchAttempts)
			}
			if attempt > 1 {
				if err := s.sleep(ctx, attempt-1); err != nil {
					return nil, err
				}
			}
			out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{
					s.table: {Keys: pending, ConsistentRead: aws.Bool(true)},
				},
			})
			if err != nil {
				return nil, fmt.Errorf("read runs: %w", err)
			}
			for _, item := range out.Responses[s.table] {
				r, err := decodeRun(item)
				if err != nil {
					return nil, err
				}
				got[r.ID()] = r
			}
			pending = out.UnprocessedKeys[s.table].Keys
		}
	}
	recs := make([]store.Record, 0, len(got))
	for _, k := range keys {
		if r, ok := got[getS(k, attrSK)]; ok {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// decodeRun reads a run item's record.
func decodeRun(item map[string]types.AttributeValue) (store.Record, error) {
	id := getS(item, attrSK)
	body, err := getB(item, attrBody)
	if err != nil {
		return store.Record{}, fmt.Errorf("decode run %s: %w", id, err)
	}
	data, err := decompress(body)
	if err != nil {
		return store.Record{}, fmt.Errorf("decode run %s: %w", id, err)
	}
	var r store.Record
	if err := json.Unmarshal(data, &r); err != nil {
		return store.Record{}, fmt.Errorf("decode run %s: %w", id, err)
	}
	return r, nil
}

// runPK is the partition of run id: its first character, so that any prefix of the id is in
// the same partition. id must be valid UTF-8 and not empty.
func runPK(id string) string {
	_, n := utf8.DecodeRuneInString(id)
	return "RUN#" + id[:n]
}

// scopePK is the partition of a scope's lanes, and of its run counter when the scope is a
// store.Scope.Counter.
func scopePK(s store.Scope) string { return "SCOPE#" + s.Key() }

// orderDigits is the length of an orderKey before the run's id.
const orderDigits = 40

// orderKey sorts as ListRuns orders, oldest first: start time and seq as 20 digits, then the
// id to keep keys unique. It is the same key as the bbolt store's.
func orderKey(r store.Record) string {
	return fmt.Sprintf("%020d%020d%s", max(r.State.Started, 0), max(r.State.Seq, 0), r.ID())
}

// checkRecord refuses records that cannot form keys: DynamoDB keys are non-empty UTF-8.
func checkRecord(r store.Record) error {
	switch {
	case r.ID() == "":
		return errors.New("put run: record has no run id")
	case r.Pipeline() == "":
		return fmt.Errorf("put run %s: record has no pipeline", r.ID())
	case !utf8.ValidString(r.ID()) || !utf8.ValidString(r.Pipeline()):
		return fmt.Errorf("put run %q: run id and pipeline must be valid UTF-8", r.ID())
	}
	if err := checkScope(r.Scope()); err != nil {
		return fmt.Errorf("put run %q: %w", r.ID(), err)
	}
	return nil
}

// checkScope refuses scopes that cannot form keys: DynamoDB keys are non-empty UTF-8.
func checkScope(s store.Scope) error {
	switch k := s.Key(); {
	case s.Pipeline == "":
		return errors.New("the scope names no pipeline")
	case !utf8.ValidString(k):
		return fmt.Errorf("scope %s: names must be valid UTF-8", s)
	}
	return nil
}

// claimTTL is how long the run number of an event key is remembered: far longer than any
// redelivery (EventBridge retries for a day, the trigger queue keeps messages four days).
const claimTTL = 30 * 24 * time.Hour

// SeqFor returns the run number of the run that the event key starts in scope's repository and
// pipeline: the first call numbers it with NextSeq, every later call with the same key (a
// redelivery, a retry after a failed start, a concurrent copy of the same message) gets the
// same number, so they all write and start the same run instead of leaving numbered records
// nobody advances. Two first calls at once may both take a number; the conditional write
// keeps one, and the other is a gap in the numbering, nothing more.
func (s *Store) SeqFor(ctx context.Context, scope store.Scope, eventKey string) (int64, error) {
	if eventKey == "" {
		return 0, errors.New("seq for key: the key is required")
	}
	if err := checkScope(scope); err != nil {
		return 0, fmt.Errorf("seq for key: %w", err)
	}
	counter := scope.Counter()
	// The counter's key encodes its own length, so the event key after it cannot blur the two.
	pk, sk := "KEY#"+counter.Key()+"#"+eventKey, "SEQ"
	read := func() (int64, bool, error) {
		item, err := s.get(ctx, pk, sk)
		if err != nil || item == nil {
			return 0, false, err
		}
		return getN(item, attrSeq)
	}
	if n, ok, err := read(); err != nil || ok {
		if err != nil {
			return 0, fmt.Errorf("seq for %s of %s: %w", eventKey, counter, err)
		}
		return n, nil
	}
	n, err := s.NextSeq(ctx, scope)
	if err != nil {
		return 0, err
	}
	item := key(pk, sk)
	item[attrType], item[attrSeq] = str(typeSeqClaim), num(n)
	item[TTLAttribute] = num(s.now().Add(claimTTL).Unix())
	err = s.put(ctx, item, "attribute_not_exists(#pk)", map[string]string{"#pk": attrPK}, nil)
	var conflict *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return n, nil
	case !errors.As(err, &conflict):
		return 0, fmt.Errorf("seq for %s of %s: %w", eventKey, counter, err)
	}
	won, ok, err := read()
	if err == nil && !ok {
		err = errors.New("the claim that won the write is gone")
	}
	if err != nil {
		return 0, fmt.Errorf("seq for %s of %s: %w", eventKey, counter, err)
	}
	return won, nil
}
