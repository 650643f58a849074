package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stepline/stepline/pkg/store"
)

// ErrSuperseded is returned (wrapped) by PutRegistration when the registry already holds the
// copy of a later push: an older event, retried or delivered late, must not bring an older
// file back.
var ErrSuperseded = errors.New("a later push is registered")

// Registration is a repository's entry in the pipeline registry: the pipeline file of its
// default branch, copied by the trigger on every push to that branch, and what the AWS
// runtime derived from the file. Events that carry no commit (an ECR push, an S3 object
// creation, a schedule) start pipelines from it.
type Registration struct {
	// Provider and Repo name the repository (github, "owner/repo").
	Provider string
	Repo     string
	// Branch is the default branch the file was read from, and Commit the commit.
	Branch string
	Commit string
	// Hook is the registered webhook whose repository secret holds the API token.
	Hook string
	// File is the pipeline file; empty when Problem says why there is none.
	File []byte
	// Problem marks an entry whose file was deleted or is invalid at Commit: the entry stays,
	// so that its Pushed time still orders later copies, but it starts nothing.
	Problem string
	// Images are the ECR repository names the file's image triggers listen to; the registry
	// keeps one index item per name (ImageRegistrations).
	Images []string
	// Buckets are the S3 bucket names the file's object triggers listen to, indexed the same
	// way (BucketRegistrations).
	Buckets []string
	// Schedules are the names of the EventBridge Scheduler schedules made for the file's
	// schedule triggers.
	Schedules []string
	// Retired lists images, buckets and schedules of earlier copies that are still to be
	// removed; the caller clears them once they are, so a failure half-way is finished by
	// the retry.
	RetiredImages    []string
	RetiredBuckets   []string
	RetiredSchedules []string
	// Pushed is when the push that carried Commit was published; copies are kept in that order.
	Pushed time.Time
}

// PutRegistration records r as the registry entry of r.Provider, r.Repo, replacing the one
// recorded before unless that one comes from a later push (Pushed): then nothing is written
// and the error wraps ErrSuperseded. Index items for r.Images and r.Buckets are not written
// here: see PutImageIndex and PutBucketIndex.
func (s *Store) PutRegistration(ctx context.Context, r Registration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkRegistration(r.Provider, r.Repo); err != nil {
		return err
	}
	if r.Pushed.IsZero() {
		return fmt.Errorf("registration of %s %s: the push time is required to order copies", r.Provider, r.Repo)
	}
	item := key(registryPK(r.Provider, r.Repo), registrySK)
	item[attrType] = str(typeRegistration)
	item[attrProvider] = str(r.Provider)
	item[attrRepo] = str(r.Repo)
	item[attrPushed] = num(r.Pushed.UnixMilli())
	for name, v := range map[string]string{attrBranch: r.Branch, attrCommit: r.Commit, attrHook: r.Hook, attrProblem: r.Problem} {
		if v != "" {
			item[name] = str(v)
		}
	}
	if r.Problem == "" {
		item[attrFile] = bin(compress(r.File))
	}
	for name, l := range map[string][]string{attrImages: r.Images, attrBuckets: r.Buckets, attrSchedules: r.Schedules,
		attrRetiredImages: r.RetiredImages, attrRetiredBuckets: r.RetiredBuckets, attrRetiredSchedules: r.RetiredSchedules} {
		if len(l) > 0 {
			item[name] = strList(l)
		}
	}
	err := s.put(ctx, item, "attribute_not_exists(#pk) OR #pushed <= :pushed",
		map[string]string{"#pk": attrPK, "#pushed": attrPushed},
		map[string]types.AttributeValue{":pushed": num(r.Pushed.UnixMilli())})
	var conflict *types.ConditionalCheckFailedException
	if errors.As(err, &conflict) {
		err = ErrSuperseded
	}
	if err != nil {
		return fmt.Errorf("put registration of %s %s: %w", r.Provider, r.Repo, err)
	}
	return nil
}

// Registration returns the registry entry of provider, repo, or store.ErrNotFound.
func (s *Store) Registration(ctx context.Context, provider, repo string) (Registration, error) {
	if err := ctx.Err(); err != nil {
		return Registration{}, err
	}
	if err := checkRegistration(provider, repo); err != nil {
		return Registration{}, err
	}
	item, err := s.get(ctx, registryPK(provider, repo), registrySK)
	if err != nil {
		return Registration{}, fmt.Errorf("registration of %s %s: %w", provider, repo, err)
	}
	if item == nil {
		return Registration{}, fmt.Errorf("registration of %s %s: %w", provider, repo, store.ErrNotFound)
	}
	return decodeRegistration(item)
}

// PutImageIndex records that the registry entry of provider, repo listens to pushes of the
// ECR repository image. Writing it again changes nothing.
func (s *Store) PutImageIndex(ctx context.Context, image, provider, repo string) error {
	return s.putIndex(ctx, imageIndex, image, provider, repo)
}

// DeleteImageIndex removes what PutImageIndex recorded; removing an absent index item is not
// an error.
func (s *Store) DeleteImageIndex(ctx context.Context, image, provider, repo string) error {
	return s.deleteIndex(ctx, imageIndex, image, provider, repo)
}

// ImageRegistrations returns the registry entries that listen to pushes of the ECR repository
// image: one Query of the image's index partition, then one strongly consistent BatchGetItem
// per 100 entries, never a Scan. An index item whose entry no longer lists image (left by a
// copy that failed half-way) or has no file is skipped, so callers see only entries whose
// current file names the image.
func (s *Store) ImageRegistrations(ctx context.Context, image string) ([]Registration, error) {
	return s.indexed(ctx, imageIndex, image)
}

// PutBucketIndex records that the registry entry of provider, repo listens to objects
// created in the S3 bucket. Writing it again changes nothing.
func (s *Store) PutBucketIndex(ctx context.Context, bucket, provider, repo string) error {
	return s.putIndex(ctx, bucketIndex, bucket, provider, repo)
}

// DeleteBucketIndex removes what PutBucketIndex recorded; removing an absent index item is
// not an error.
func (s *Store) DeleteBucketIndex(ctx context.Context, bucket, provider, repo string) error {
	return s.deleteIndex(ctx, bucketIndex, bucket, provider, repo)
}

// BucketRegistrations returns the registry entries that listen to objects created in the S3
// bucket, as ImageRegistrations does for an ECR repository: one Query of the bucket's index
// partition and strongly consistent BatchGetItems, never a Scan; entries that no longer list
// the bucket, or have no file, are skipped.
func (s *Store) BucketRegistrations(ctx context.Context, bucket string) ([]Registration, error) {
	return s.indexed(ctx, bucketIndex, bucket)
}

// index is one kind of registry index: the partition its items live in, their type, the
// entry's list of names it mirrors, and what its names are called in messages.
type index struct {
	what   string
	prefix string
	typ    string
	listed func(Registration) []string
}

var (
	imageIndex  = index{what: "image", prefix: "IMAGE#", typ: typeImageIndex, listed: func(r Registration) []string { return r.Images }}
	bucketIndex = index{what: "bucket", prefix: "BUCKET#", typ: typeBucketIndex, listed: func(r Registration) []string { return r.Buckets }}
)

func (ix index) check(name, provider, repo string) error {
	if name == "" || !utf8.ValidString(name) {
		return fmt.Errorf("%s index of %q: the %s name is required, in UTF-8", ix.what, name, ix.what)
	}
	return checkRegistration(provider, repo)
}

func (s *Store) putIndex(ctx context.Context, ix index, name, provider, repo string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ix.check(name, provider, repo); err != nil {
		return err
	}
	item := key(ix.prefix+name, registryPK(provider, repo))
	item[attrType] = str(ix.typ)
	item[attrProvider] = str(provider)
	item[attrRepo] = str(repo)
	if err := s.put(ctx, item, "", nil, nil); err != nil {
		return fmt.Errorf("index %s %s for %s %s: %w", ix.what, name, provider, repo, err)
	}
	return nil
}

func (s *Store) deleteIndex(ctx context.Context, ix index, name, provider, repo string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ix.check(name, provider, repo); err != nil {
		return err
	}
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(ix.prefix+name, registryPK(provider, repo))})
	if err != nil {
		return fmt.Errorf("unindex %s %s for %s %s: %w", ix.what, name, provider, repo, err)
	}
	return nil
}

// indexed reads the entries the index items of name point at, keeping those whose file still
// lists name.
func (s *Store) indexed(ctx context.Context, ix index, name string) ([]Registration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if name == "" || !utf8.ValidString(name) {
		return nil, fmt.Errorf("%s registrations of %q: the %s name is required, in UTF-8", ix.what, name, ix.what)
	}
	var keys []map[string]types.AttributeValue
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(ix.prefix + name)},
		ConsistentRead:            aws.Bool(true),
	}
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("%s registrations of %s: %w", ix.what, name, err)
		}
		for _, item := range out.Items {
			keys = append(keys, key(getS(item, attrSK), registrySK))
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	var regs []Registration
	for chunk := range slices.Chunk(keys, 100) {
		pending := chunk
		for attempt := 1; len(pending) > 0; attempt++ {
			if attempt > batchAttempts {
				return nil, fmt.Errorf("%s registrations of %s: %d keys still unprocessed after %d attempts", ix.what, name, len(pending), batchAttempts)
			}
			if attempt > 1 {
				if err := s.sleep(ctx, attempt-1); err != nil {
					return nil, err
				}
			}
			out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: pending, ConsistentRead: aws.Bool(true)}},
			})
			if err != nil {
				return nil, fmt.Errorf("%s registrations of %s: %w", ix.what, name, err)
			}
			for _, item := range out.Responses[s.table] {
				r, err := decodeRegistration(item)
				if err != nil {
					return nil, fmt.Errorf("%s registrations of %s: %w", ix.what, name, err)
				}
				if r.Problem == "" && slices.Contains(ix.listed(r), name) {
					regs = append(regs, r)
				}
			}
			pending = out.UnprocessedKeys[s.table].Keys
		}
	}
	slices.SortFunc(regs, func(a, b Registration) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Repo, b.Repo))
	})
	return regs, nil
}

func decodeRegistration(item map[string]types.AttributeValue) (Registration, error) {
	r := Registration{
		Provider: getS(item, attrProvider), Repo: getS(item, attrRepo), Branch: getS(item, attrBranch),
		Commit: getS(item, attrCommit), Hook: getS(item, attrHook), Problem: getS(item, attrProblem),
		Images: getL(item, attrImages), Buckets: getL(item, attrBuckets), Schedules: getL(item, attrSchedules),
		RetiredImages: getL(item, attrRetiredImages), RetiredBuckets: getL(item, attrRetiredBuckets),
		RetiredSchedules: getL(item, attrRetiredSchedules),
	}
	ms, _, err := getN(item, attrPushed)
	if err != nil {
		return Registration{}, fmt.Errorf("registration of %s %s: %w", r.Provider, r.Repo, err)
	}
	r.Pushed = time.UnixMilli(ms).UTC()
	if r.Problem == "" {
		body, err := getB(item, attrFile)
		if err == nil {
			body, err = decompress(body)
		}
		if err != nil {
			return Registration{}, fmt.Errorf("registration of %s %s: %w", r.Provider, r.Repo, err)
		}
		r.File = body
	}
	return r, nil
}

func strList(l []string) types.AttributeValue {
	out := make([]types.AttributeValue, len(l))
	for i, v := range l {
		out[i] = str(v)
	}
	return &types.AttributeValueMemberL{Value: out}
}

// getL returns the list of strings attribute name of item; nil when it is missing.
func getL(item map[string]types.AttributeValue, name string) []string {
	l, ok := item[name].(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for _, v := range l.Value {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			out = append(out, s.Value)
		}
	}
	return out
}

// registryPK keys a repository's entry by provider too: the same full name on two providers
// (a mirror) is two repositories with two tokens.
func registryPK(provider, repo string) string { return "REGISTRY#" + provider + "#" + repo }

const registrySK = "DEFAULT"

func checkRegistration(provider, repo string) error {
	if provider == "" || repo == "" || !utf8.ValidString(provider) || !utf8.ValidString(repo) {
		return fmt.Errorf("registration of %q %q: provider and repository are required, in UTF-8", provider, repo)
	}
	return nil
}
