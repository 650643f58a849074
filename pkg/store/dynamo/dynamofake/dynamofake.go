// Package dynamofake is DynamoDB in memory, for the requests the stepline store sends: tables
// created from dynamo.Schema (keys and global secondary indexes), GetItem, PutItem,
// UpdateItem, DeleteItem, Query and BatchGetItem with the condition, key-condition and update
// expressions the store writes (expr.go), each request applied atomically under concurrency
// and a failed condition answered with *types.ConditionalCheckFailedException, as DynamoDB
// does. moto gives these semantics up under load (its UpdateItem ADD is not atomic, and its
// table scans grow with the table); this fake keeps them at 10,000 runs.
//
// It does not import the store, so the store's own tests run the contract suite on it.
// Anything outside that subset is refused with an error naming it, never approximated.
package dynamofake

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// maxItemSize is DynamoDB's item size limit
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items).
const maxItemSize = 400 * 1024

// DB is an in-memory DynamoDB endpoint; the zero value is not usable, New makes one.
type DB struct {
	mu     sync.Mutex
	tables map[string]*table
}

// New returns a DB without tables.
func New() *DB { return &DB{tables: map[string]*table{}} }

// keyDef names a key's hash and range attributes.
type keyDef struct{ hash, rng string }

// table is one table's items by hash then range key value, and its indexes.
type table struct {
	key     keyDef
	indexes map[string]keyDef
	items   map[string]map[string]map[string]types.AttributeValue
	// entries holds, per index and index hash value, the table keys of the items in it.
	entries map[string]map[string]map[[2]string]bool
}

// CreateTable creates a table from in's key schema and global secondary indexes (keys-only
// projections, string keys: what dynamo.Schema defines).
func (db *DB) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	name := aws.ToString(in.TableName)
	keys := func(ks []types.KeySchemaElement) (keyDef, error) {
		var k keyDef
		for _, e := range ks {
			if e.KeyType == types.KeyTypeHash {
				k.hash = aws.ToString(e.AttributeName)
			} else {
				k.rng = aws.ToString(e.AttributeName)
			}
		}
		if k.hash == "" || k.rng == "" {
			return k, unsupported("tables and indexes without a range key")
		}
		return k, nil
	}
	for _, d := range in.AttributeDefinitions {
		if d.AttributeType != types.ScalarAttributeTypeS {
			return nil, unsupported("key attributes of type %s", d.AttributeType)
		}
	}
	k, err := keys(in.KeySchema)
	if err != nil {
		return nil, err
	}
	t := &table{key: k, indexes: map[string]keyDef{}, items: map[string]map[string]map[string]types.AttributeValue{},
		entries: map[string]map[string]map[[2]string]bool{}}
	for _, ix := range in.GlobalSecondaryIndexes {
		if ix.Projection == nil || ix.Projection.ProjectionType != types.ProjectionTypeKeysOnly {
			return nil, unsupported("index projections other than KEYS_ONLY")
		}
		if t.indexes[aws.ToString(ix.IndexName)], err = keys(ix.KeySchema); err != nil {
			return nil, err
		}
		t.entries[aws.ToString(ix.IndexName)] = map[string]map[[2]string]bool{}
	}
	if len(in.LocalSecondaryIndexes) > 0 {
		return nil, unsupported("local secondary indexes")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, ok := db.tables[name]; ok {
		return nil, &types.ResourceInUseException{Message: aws.String("Table already exists: " + name)}
	}
	db.tables[name] = t
	return &dynamodb.CreateTableOutput{TableDescription: &types.TableDescription{TableName: in.TableName, TableStatus: types.TableStatusActive}}, nil
}

// lookup returns the table named name; the caller holds db.mu.
func (db *DB) lookup(name *string) (*table, error) {
	t, ok := db.tables[aws.ToString(name)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found: " + aws.ToString(name))}
	}
	return t, nil
}

// keyOf returns the hash and range values of a key or item, refusing one that is not
// item finds the table a request names and the key of the item it addresses (exact: the
// key attributes only); db.mu must be held.
func (db *DB) item(name *string, k map[string]types.AttributeValue, exact bool) (*table, string, string, error) {
	t, err := db.lookup(name)
	if err != nil {
		return nil, "", "", err
	}
	h, r, err := t.keyOf(k, exact)
	return t, h, r, err
}

// exactly a key when exact.
func (t *table) keyOf(k map[string]types.AttributeValue, exact bool) (string, string, error) {
	h, okh := k[t.key.hash].(*types.AttributeValueMemberS)
	r, okr := k[t.key.rng].(*types.AttributeValueMemberS)
	if !okh || !okr || (exact && len(k) != 2) {
		return "", "", validation("The provided key element does not match the schema")
	}
	if h.Value == "" || r.Value == "" {
		return "", "", validation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value.")
	}
	return h.Value, r.Value, nil
}

func (t *table) get(h, r string) map[string]types.AttributeValue { return t.items[h][r] }

func (t *table) set(h, r string, item map[string]types.AttributeValue) {
	t.delete(h, r)
	if t.items[h] == nil {
		t.items[h] = map[string]map[string]types.AttributeValue{}
	}
	t.items[h][r] = item
	t.index(h, r, item, true)
}

func (t *table) delete(h, r string) {
	t.index(h, r, t.items[h][r], false)
	delete(t.items[h], r)
	if len(t.items[h]) == 0 {
		delete(t.items, h)
	}
}

// index adds the item at h, r to the indexes whose keys it has, or takes it out of them.
// Only items with both of an index's key attributes are in it (sparse indexes).
func (t *table) index(h, r string, item map[string]types.AttributeValue, in bool) {
	for name, ix := range t.indexes {
		v, ok := item[ix.hash].(*types.AttributeValueMemberS)
		if _, has := item[ix.rng]; !ok || !has {
			continue
		}
		part := t.entries[name][v.Value]
		switch {
		case in && part == nil:
			part = map[[2]string]bool{}
			t.entries[name][v.Value] = part
			fallthrough
		case in:
			part[[2]string{h, r}] = true
		default:
			delete(part, [2]string{h, r})
			if len(part) == 0 {
				delete(t.entries[name], v.Value)
			}
		}
	}
}

// check refuses an item DynamoDB would: an index key attribute of another type than the
// string the index declares, or over the size limit.
func (t *table) check(item map[string]types.AttributeValue) error {
	for name, ix := range t.indexes {
		for _, a := range []string{ix.hash, ix.rng} {
			if v, ok := item[a]; ok {
				if s, ok := v.(*types.AttributeValueMemberS); !ok || s.Value == "" {
					return validation("One or more parameter values were invalid: Type mismatch or empty value for Index Key %s of index %s", a, name)
				}
			}
		}
	}
	if n := size(item); n > maxItemSize {
		return validation("Item size has exceeded the maximum allowed size (%d bytes)", n)
	}
	return nil
}

// condition evaluates a request's condition expression against old (nil when there is no
// item) and checks the placeholders were all used by expr and others.
func condition(old map[string]types.AttributeValue, expr *string, names map[string]string, values map[string]types.AttributeValue, others ...func(*parser) error) error {
	p := newParser(names, values)
	var c cond
	if expr != nil {
		var err error
		if c, err = p.parseCondition(*expr); err != nil {
			return err
		}
	}
	for _, o := range others {
		if err := o(p); err != nil {
			return err
		}
	}
	if err := p.checkUsed(); err != nil {
		return err
	}
	if c != nil && !c.eval(orEmpty(old)) {
		return &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	return nil
}

func orEmpty(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	if item == nil {
		return map[string]types.AttributeValue{}
	}
	return item
}

// GetItem returns the item at in.Key. Every read is strongly consistent here.
func (db *DB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if in.ProjectionExpression != nil || len(in.AttributesToGet) > 0 {
		return nil, unsupported("projections in GetItem")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	t, h, r, err := db.item(in.TableName, in.Key, true)
	if err != nil {
		return nil, err
	}
	return &dynamodb.GetItemOutput{Item: clone(t.get(h, r))}, nil
}

// PutItem replaces the item at in.Item's key when in.ConditionExpression holds.
func (db *DB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if len(in.Expected) > 0 || (in.ReturnValues != "" && in.ReturnValues != types.ReturnValueNone) {
		return nil, unsupported("Expected and ReturnValues in PutItem")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	t, h, r, err := db.item(in.TableName, in.Item, false)
	if err != nil {
		return nil, err
	}
	if err := t.check(in.Item); err != nil {
		return nil, err
	}
	if err := condition(t.get(h, r), in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues); err != nil {
		return nil, err
	}
	t.set(h, r, clone(in.Item))
	return &dynamodb.PutItemOutput{}, nil
}

// DeleteItem deletes the item at in.Key, if any, when in.ConditionExpression holds.
func (db *DB) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if len(in.Expected) > 0 || (in.ReturnValues != "" && in.ReturnValues != types.ReturnValueNone) {
		return nil, unsupported("Expected and ReturnValues in DeleteItem")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	t, h, r, err := db.item(in.TableName, in.Key, true)
	if err != nil {
		return nil, err
	}
	if err := condition(t.get(h, r), in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues); err != nil {
		return nil, err
	}
	t.delete(h, r)
	return &dynamodb.DeleteItemOutput{}, nil
}

// UpdateItem applies in.UpdateExpression to the item at in.Key (a new item when there is
// none) when in.ConditionExpression holds, and returns what in.ReturnValues asks for.
func (db *DB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if len(in.Expected) > 0 || len(in.AttributeUpdates) > 0 || in.UpdateExpression == nil {
		return nil, unsupported("UpdateItem without an UpdateExpression")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	t, h, r, err := db.item(in.TableName, in.Key, true)
	if err != nil {
		return nil, err
	}
	old := t.get(h, r)
	var actions []action
	err = condition(old, in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, func(p *parser) error {
		var err error
		actions, err = p.parseUpdate(*in.UpdateExpression)
		return err
	})
	if err != nil {
		return nil, err
	}
	item := clone(old)
	if item == nil {
		item = clone(in.Key)
	}
	updated := map[string]bool{}
	for _, a := range actions {
		if a.attr == t.key.hash || a.attr == t.key.rng {
			return nil, validation("Cannot update attribute %s. This attribute is part of the key", a.attr)
		}
		if updated[a.attr] {
			return nil, validation("Two document paths overlap with each other: [%s]", a.attr)
		}
		updated[a.attr] = true
		switch a.verb {
		case "SET":
			item[a.attr] = clone1(a.val.resolve(item))
		case "REMOVE":
			delete(item, a.attr)
		case "ADD":
			sum, err := add(item[a.attr], a.val.resolve(item))
			if err != nil {
				return nil, err
			}
			item[a.attr] = sum
		}
	}
	if err := t.check(item); err != nil {
		return nil, err
	}
	t.set(h, r, item)
	out := &dynamodb.UpdateItemOutput{}
	switch in.ReturnValues {
	case "", types.ReturnValueNone:
	case types.ReturnValueAllNew:
		out.Attributes = clone(item)
	case types.ReturnValueAllOld:
		out.Attributes = clone(old)
	case types.ReturnValueUpdatedNew:
		out.Attributes = map[string]types.AttributeValue{}
		for a := range updated {
			if v, ok := item[a]; ok {
				out.Attributes[a] = clone1(v)
			}
		}
	default:
		return nil, unsupported("ReturnValues %s", in.ReturnValues)
	}
	return out, nil
}

// add is ADD of a number to a number attribute, missing counting as zero.
func add(old, delta types.AttributeValue) (types.AttributeValue, error) {
	d, ok := delta.(*types.AttributeValueMemberN)
	if !ok {
		return nil, unsupported("ADD of anything but a number")
	}
	sum, ok := new(big.Rat).SetString(d.Value)
	if !ok {
		return nil, validation("invalid number %q", d.Value)
	}
	if old != nil {
		o, ok := old.(*types.AttributeValueMemberN)
		if !ok {
			return nil, validation("An operand in the update expression has an incorrect data type")
		}
		x, ok := new(big.Rat).SetString(o.Value)
		if !ok {
			return nil, validation("invalid number %q", o.Value)
		}
		sum.Add(sum, x)
	}
	s := sum.RatString()
	if !sum.IsInt() {
		s = strings.TrimRight(sum.FloatString(38), "0")
	}
	return &types.AttributeValueMemberN{Value: s}, nil
}

// Query reads the items of one partition of the table or of an index, in range key order
// (reversed when ScanIndexForward is false), at most Limit, from ExclusiveStartKey on. An
// index answers with its keys and the table's, as a KEYS_ONLY projection does.
func (db *DB) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if in.FilterExpression != nil || in.ProjectionExpression != nil || in.Select != "" || len(in.KeyConditions) > 0 || in.KeyConditionExpression == nil {
		return nil, unsupported("Query with anything but a KeyConditionExpression (filters, projections, Select)")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	t, err := db.lookup(in.TableName)
	if err != nil {
		return nil, err
	}
	keys := t.key
	if in.IndexName != nil {
		var ok bool
		if keys, ok = t.indexes[*in.IndexName]; !ok {
			return nil, validation("The table does not have the specified index: %s", *in.IndexName)
		}
		if aws.ToBool(in.ConsistentRead) {
			return nil, validation("Consistent reads are not supported on global secondary indexes")
		}
	}
	p := newParser(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	c, err := p.parseCondition(*in.KeyConditionExpression)
	if err != nil {
		return nil, err
	}
	if err := p.checkUsed(); err != nil {
		return nil, err
	}
	hash, err := keyCondition(c, keys)
	if err != nil {
		return nil, err
	}
	var rows []map[string]types.AttributeValue
	if in.IndexName == nil {
		for _, item := range t.items[hash] {
			rows = append(rows, item)
		}
	} else {
		for k := range t.entries[*in.IndexName][hash] {
			rows = append(rows, t.get(k[0], k[1]))
		}
	}
	rows = slices.DeleteFunc(rows, func(item map[string]types.AttributeValue) bool { return !c.eval(item) })
	// The index's range key orders; the table's key breaks its ties, as the position an
	// exclusive start key names must be exact.
	cmpRows := func(a, b map[string]types.AttributeValue) int {
		for _, k := range []string{keys.rng, t.key.hash, t.key.rng} {
			if n, _ := order(a[k], b[k]); n != 0 {
				return n
			}
		}
		return 0
	}
	slices.SortFunc(rows, cmpRows)
	if in.ScanIndexForward != nil && !*in.ScanIndexForward {
		slices.Reverse(rows)
	}
	project := func(item map[string]types.AttributeValue) map[string]types.AttributeValue {
		out := map[string]types.AttributeValue{}
		for _, k := range []string{t.key.hash, t.key.rng, keys.hash, keys.rng} {
			out[k] = clone1(item[k])
		}
		return out
	}
	if in.ExclusiveStartKey != nil {
		start := in.ExclusiveStartKey
		i, found := slices.BinarySearchFunc(rows, start, func(row, key map[string]types.AttributeValue) int {
			n := cmpRows(row, key)
			if in.ScanIndexForward != nil && !*in.ScanIndexForward {
				n = -n
			}
			return n
		})
		if found {
			i++
		}
		rows = rows[i:]
	}
	out := &dynamodb.QueryOutput{}
	for _, item := range rows {
		if in.Limit != nil && len(out.Items) == int(*in.Limit) {
			out.LastEvaluatedKey = project(out.Items[len(out.Items)-1])
			break
		}
		if in.IndexName != nil {
			out.Items = append(out.Items, project(item))
		} else {
			out.Items = append(out.Items, clone(item))
		}
	}
	out.Count, out.ScannedCount = int32(len(out.Items)), int32(len(out.Items))
	return out, nil
}

// keyCondition checks that c is a key condition of keys, "hash = :v" alone or AND one
// condition on the range key, and returns the hash value.
func keyCondition(c cond, keys keyDef) (string, error) {
	var rest cond
	if a, ok := c.(and); ok {
		c, rest = a.l, a.r
	}
	eq, ok := c.(compare)
	if !ok || eq.op != "=" || eq.l.attr != keys.hash || eq.r.value == nil {
		return "", validation("Query condition missed key schema element: %s", keys.hash)
	}
	switch r := rest.(type) {
	case nil:
	case compare:
		if r.l.attr != keys.rng || r.r.value == nil || r.op == "<>" {
			return "", validation("Query key condition not supported")
		}
	case beginsWith:
		if r.l.attr != keys.rng || r.r.value == nil {
			return "", validation("Query key condition not supported")
		}
	default:
		return "", validation("Query key condition not supported")
	}
	h, ok := eq.r.value.(*types.AttributeValueMemberS)
	if !ok {
		return "", validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
	}
	return h.Value, nil
}

// BatchGetItem reads up to 100 keys; every key is processed.
func (db *DB) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	n := 0
	for name, ka := range in.RequestItems {
		if ka.ProjectionExpression != nil || len(ka.AttributesToGet) > 0 {
			return nil, unsupported("projections in BatchGetItem")
		}
		t, err := db.lookup(aws.String(name))
		if err != nil {
			return nil, err
		}
		for _, k := range ka.Keys {
			if n++; n > 100 {
				return nil, validation("Too many items requested for the BatchGetItem call")
			}
			h, r, err := t.keyOf(k, true)
			if err != nil {
				return nil, err
			}
			if item := t.get(h, r); item != nil {
				out.Responses[name] = append(out.Responses[name], clone(item))
			}
		}
	}
	return out, nil
}

// Items returns a copy of every item of table, for tests that count what was written.
func (db *DB) Items(table string) []map[string]types.AttributeValue {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, ok := db.tables[table]
	if !ok {
		return nil
	}
	var out []map[string]types.AttributeValue
	for _, part := range t.items {
		for _, item := range part {
			out = append(out, clone(item))
		}
	}
	return out
}

func clone(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	if item == nil {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		out[k] = clone1(v)
	}
	return out
}

// clone1 copies a value deeply enough that neither side's later changes reach the other.
func clone1(v types.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: v.Value}
	case *types.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: v.Value}
	case *types.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}
	case *types.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: v.Value}
	case *types.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = clone1(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: clone(v.Value)}
	case *types.AttributeValueMemberBS:
		bs := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			bs[i] = slices.Clone(b)
		}
		return &types.AttributeValueMemberBS{Value: bs}
	}
	return v
}

// size approximates DynamoDB's item size: names and values in bytes, numbers at about one
// byte per two digits plus one, other kinds by their name only.
func size(item map[string]types.AttributeValue) int {
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

// validation is DynamoDB's answer to a malformed request.
func validation(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}
