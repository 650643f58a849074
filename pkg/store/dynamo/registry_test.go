package dynamo

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
)

func TestThePipelineRegistry(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := New(client, table)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	file := []byte("version: 1\npipelines: []\n")

	t.Run("an entry is read back as written, keyed by provider and repository", func(t *testing.T) {
		want := Registration{Provider: "github", Repo: "octo/app", Branch: "main", Commit: "c1", Hook: "hook-1", File: file,
			Images: []string{"api", "web"}, Buckets: []string{"drops"}, Schedules: []string{"s1"},
			RetiredBuckets: []string{"old-drops"}, RetiredSchedules: []string{"s0"}, Pushed: t0}
		require.NoError(t, s.PutRegistration(ctx, want))
		got, err := s.Registration(ctx, "github", "octo/app")
		require.NoError(t, err)
		assert.Equal(t, want, got)
		_, err = s.Registration(ctx, "bitbucket", "octo/app")
		require.ErrorIs(t, err, store.ErrNotFound, "the same name on another provider is another repository")
	})
	t.Run("a copy from an earlier push is refused and changes nothing", func(t *testing.T) {
		require.NoError(t, s.PutRegistration(ctx, Registration{Provider: "github", Repo: "octo/order", Branch: "main", Commit: "new", File: file, Pushed: t0.Add(time.Minute)}))
		err := s.PutRegistration(ctx, Registration{Provider: "github", Repo: "octo/order", Branch: "main", Commit: "old", File: file, Pushed: t0})
		require.ErrorIs(t, err, ErrSuperseded)
		got, err := s.Registration(ctx, "github", "octo/order")
		require.NoError(t, err)
		assert.Equal(t, "new", got.Commit)
		require.NoError(t, s.PutRegistration(ctx, Registration{Provider: "github", Repo: "octo/order", Branch: "main", Commit: "new", File: file, Pushed: t0.Add(time.Minute)}),
			"the same push again (a retry finishing its work) is accepted")
	})
	t.Run("a marked entry keeps no file and says why", func(t *testing.T) {
		require.NoError(t, s.PutRegistration(ctx, Registration{Provider: "github", Repo: "octo/gone", Branch: "main", Commit: "c2", File: file, Pushed: t0}))
		require.NoError(t, s.PutRegistration(ctx, Registration{Provider: "github", Repo: "octo/gone", Branch: "main", Commit: "c3", Problem: "no .stepline.yml", Pushed: t0.Add(time.Second)}))
		got, err := s.Registration(ctx, "github", "octo/gone")
		require.NoError(t, err)
		assert.Nil(t, got.File)
		assert.Equal(t, "no .stepline.yml", got.Problem)
		item, err := s.get(ctx, registryPK("github", "octo/gone"), registrySK)
		require.NoError(t, err)
		assert.NotContains(t, item, attrFile, "the old file is not left behind")
	})
	t.Run("an image push finds exactly the entries whose current file names the image", func(t *testing.T) {
		for _, r := range []Registration{
			{Provider: "github", Repo: "team/b", Branch: "main", File: file, Images: []string{"shared"}, Pushed: t0},
			{Provider: "bitbucket", Repo: "team/a", Branch: "main", File: file, Images: []string{"shared", "other"}, Pushed: t0},
			{Provider: "github", Repo: "team/stale", Branch: "main", File: file, Images: []string{"other"}, Pushed: t0},
			{Provider: "github", Repo: "team/broken", Branch: "main", Problem: "invalid", Images: []string{"shared"}, Pushed: t0},
		} {
			require.NoError(t, s.PutRegistration(ctx, r))
			require.NoError(t, s.PutImageIndex(ctx, "shared", r.Provider, r.Repo), "team/stale's index item is left over from an older copy")
		}
		got, err := s.ImageRegistrations(ctx, "shared")
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, [2]string{"bitbucket", "team/a"}, [2]string{got[0].Provider, got[0].Repo})
		assert.Equal(t, [2]string{"github", "team/b"}, [2]string{got[1].Provider, got[1].Repo})
		assert.Equal(t, file, got[0].File)

		require.NoError(t, s.DeleteImageIndex(ctx, "shared", "github", "team/b"))
		require.NoError(t, s.DeleteImageIndex(ctx, "shared", "github", "team/b"), "deleting twice is fine")
		got, err = s.ImageRegistrations(ctx, "shared")
		require.NoError(t, err)
		assert.Len(t, got, 1)
		none, err := s.ImageRegistrations(ctx, "nobody-pushes-here")
		require.NoError(t, err)
		assert.Empty(t, none)
	})
	t.Run("an object creation finds exactly the entries whose current file names the bucket", func(t *testing.T) {
		for _, r := range []Registration{
			{Provider: "github", Repo: "drop/b", Branch: "main", File: file, Buckets: []string{"releases"}, Pushed: t0},
			{Provider: "codecommit", Repo: "drop-a", Branch: "main", File: file, Buckets: []string{"other", "releases"}, Pushed: t0},
			{Provider: "github", Repo: "drop/stale", Branch: "main", File: file, Buckets: []string{"other"}, Pushed: t0},
			{Provider: "github", Repo: "drop/broken", Branch: "main", Problem: "invalid", Buckets: []string{"releases"}, Pushed: t0},
			{Provider: "github", Repo: "drop/image", Branch: "main", File: file, Images: []string{"releases"}, Pushed: t0},
		} {
			require.NoError(t, s.PutRegistration(ctx, r))
			require.NoError(t, s.PutBucketIndex(ctx, "releases", r.Provider, r.Repo), "drop/stale's index item is left over from an older copy")
		}
		require.NoError(t, s.PutImageIndex(ctx, "releases", "github", "drop/image"))
		got, err := s.BucketRegistrations(ctx, "releases")
		require.NoError(t, err)
		require.Len(t, got, 2, "an image repository of the same name is another index")
		assert.Equal(t, [2]string{"codecommit", "drop-a"}, [2]string{got[0].Provider, got[0].Repo})
		assert.Equal(t, [2]string{"github", "drop/b"}, [2]string{got[1].Provider, got[1].Repo})
		images, err := s.ImageRegistrations(ctx, "releases")
		require.NoError(t, err)
		require.Len(t, images, 1)
		assert.Equal(t, "drop/image", images[0].Repo)

		require.NoError(t, s.DeleteBucketIndex(ctx, "releases", "github", "drop/b"))
		require.NoError(t, s.DeleteBucketIndex(ctx, "releases", "github", "drop/b"), "deleting twice is fine")
		got, err = s.BucketRegistrations(ctx, "releases")
		require.NoError(t, err)
		assert.Len(t, got, 1)
	})
	t.Run("bad arguments are refused before any request", func(t *testing.T) {
		assert.Error(t, s.PutRegistration(ctx, Registration{Provider: "github", Repo: "octo/app"}), "no push time")
		assert.Error(t, s.PutRegistration(ctx, Registration{Repo: "octo/app", Pushed: t0}))
		_, err := s.ImageRegistrations(ctx, "")
		assert.Error(t, err)
		assert.Error(t, s.PutImageIndex(ctx, "", "github", "octo/app"))
		_, err = s.BucketRegistrations(ctx, "")
		assert.Error(t, err)
		assert.Error(t, s.PutBucketIndex(ctx, "", "github", "octo/app"))
		assert.Error(t, s.DeleteBucketIndex(ctx, "b", "", "octo/app"))
	})
}

// TestTheImageLookupIsOneQueryAndOneBatchRead pins the request shapes: no Scan, a strongly
// consistent Query of the image's partition, one BatchGetItem of the entries it names.
func TestTheImageLookupIsOneQueryAndOneBatchRead(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	rec := &recordingAPI{atomicAPI: client}
	s := New(rec, table)
	ctx := context.Background()
	for _, repo := range []string{"o/one", "o/two"} {
		require.NoError(t, s.PutRegistration(ctx, Registration{Provider: "github", Repo: repo, File: []byte("x"), Images: []string{"api"}, Pushed: time.Now()}))
		require.NoError(t, s.PutImageIndex(ctx, "api", "github", repo))
	}
	rec.ops = nil
	got, err := s.ImageRegistrations(ctx, "api")
	require.NoError(t, err)
	assert.Len(t, got, 2)
	assert.Equal(t, []string{"Query", "BatchGetItem"}, rec.ops)
	require.Len(t, rec.queries, 1)
	assert.Equal(t, &types.AttributeValueMemberS{Value: "IMAGE#api"}, rec.queries[0].ExpressionAttributeValues[":pk"])
	assert.True(t, *rec.queries[0].ConsistentRead)
}

// TestTheBucketLookupIsOneQueryAndOneBatchRead pins the same shapes for an S3 bucket.
func TestTheBucketLookupIsOneQueryAndOneBatchRead(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	rec := &recordingAPI{atomicAPI: client}
	s := New(rec, table)
	ctx := context.Background()
	require.NoError(t, s.PutRegistration(ctx, Registration{Provider: "github", Repo: "o/one", File: []byte("x"), Buckets: []string{"drops"}, Pushed: time.Now()}))
	require.NoError(t, s.PutBucketIndex(ctx, "drops", "github", "o/one"))
	rec.ops = nil
	got, err := s.BucketRegistrations(ctx, "drops")
	require.NoError(t, err)
	assert.Len(t, got, 1)
	assert.Equal(t, []string{"Query", "BatchGetItem"}, rec.ops)
	require.Len(t, rec.queries, 1)
	assert.Equal(t, &types.AttributeValueMemberS{Value: "BUCKET#drops"}, rec.queries[0].ExpressionAttributeValues[":pk"])
	assert.True(t, *rec.queries[0].ConsistentRead)
}

type recordingAPI struct {
	*atomicAPI
	ops     []string
	queries []*dynamodb.QueryInput
}

func (r *recordingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	r.ops = append(r.ops, "Query")
	r.queries = append(r.queries, in)
	return r.atomicAPI.Query(ctx, in, optFns...)
}

func (r *recordingAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	r.ops = append(r.ops, "BatchGetItem")
	return r.atomicAPI.BatchGetItem(ctx, in, optFns...)
}
