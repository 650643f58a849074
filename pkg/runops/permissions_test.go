package runops_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/runops/runopstest"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// documented reads docs/operations.md's table of the IAM actions each --aws command needs:
// rows whose first cell names commands (`stepline approve --aws`) and whose second lists
// actions (`states:SendTaskSuccess`).
func documented(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	require.NoError(t, err)
	command := regexp.MustCompile("`stepline ([a-z]+)[^`]*--aws[^`]*`")
	action := regexp.MustCompile("`([a-z0-9]+:[A-Za-z]+)`")
	out := map[string][]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		for _, c := range command.FindAllStringSubmatch(cells[1], -1) {
			for _, a := range action.FindAllStringSubmatch(cells[2], -1) {
				out[c[1]] = append(out[c[1]], a[1])
			}
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

// TestTheOperationsPageListsTheIAMActionsOfEachAWSCommand runs what each --aws command does
// against a stack on moto, as the command line does it (the stack's outputs, the run found by
// its exact id, then the operation), and compares the IAM actions of the calls it made
// with the page's table. GetCallerIdentity needs no permission but is listed so the reader
// sees the call.
func TestTheOperationsPageListsTheIAMActionsOfEachAWSCommand(t *testing.T) {
	moto := awstest.StartMoto(t)
	stack := runopstest.Deploy(t, moto)
	ctx := context.Background()
	c := &calls{seen: map[string]bool{}}
	cfg := c.config(moto.Config())
	plain := dynamo.New(dynamodb.NewFromConfig(moto.Config()), stack.Table)
	d := &deployed{t: t, stack: stack, db: plain, sfn: sfn.NewFromConfig(moto.Config()), calls: &calls{seen: map[string]bool{}}}

	// Each command starts from scratch: the stack's outputs and a fresh operator, so the
	// caller's identity is looked up by every command that records who.
	open := func() (*runops.AWS, *dynamo.Store) {
		s, err := runops.ReadStack(ctx, cloudformation.NewFromConfig(cfg), stack.Name)
		require.NoError(t, err)
		db := dynamo.New(dynamodb.NewFromConfig(cfg), s.Table)
		return runops.NewAWS(db, sfn.NewFromConfig(cfg), sts.NewFromConfig(cfg), s.StateMachine), db
	}
	// The command line finds the run its argument names; an exact id is one GetItem (a
	// prefix would be a Query, which the page lists apart).
	find := func(db *dynamo.Store, id string) store.Record {
		rec, err := db.GetRun(ctx, id)
		require.NoError(t, err)
		return rec
	}
	good := d.run("api-1-aaaa", 1, succeed, succeed, approveAndShip, succeed)
	d.run("api-2-bbbb", 2, succeed, fail)
	waiting := d.run("api-3-cccc", 3, succeed, succeed)
	d.run("api-4-dddd", 4, succeed)
	d.run("api-5-eeee", 5, succeed, succeed, approveAndShip, fail)
	require.NoError(t, plain.PutRegistration(ctx, dynamo.Registration{Provider: "github", Repo: "octo/api", Branch: "main",
		Hook: "hook-0123456789abcdef", Pushed: engine.Time(1_795_000_000_000)}))
	c.take()

	seen := map[string][]string{}
	record := func(command string) { seen[command] = c.take() }

	op, db := open()
	_, err := op.Runs(ctx, runops.Filter{Pipeline: "api"})
	require.NoError(t, err)
	_, err = op.Runs(ctx, runops.Filter{})
	require.NoError(t, err)
	record("runs")

	_, db = open()
	find(db, "api-2-bbbb")
	find(db, good.ID())
	record("show")

	for _, command := range []string{"approve", "reject"} {
		require.NoError(t, plain.PutToken(ctx, waiting.ID(), approval.TaskKey("Release", "Approve", 1), "token", engine.Time(1_900_000_000_000)))
		c.take()
		op, db = open()
		rec := find(db, "api-3-cccc")
		decide := op.Approve
		if command == "reject" {
			decide = op.Reject
		}
		require.NoError(t, decide(ctx, rec.ID(), "Release", "Approve", ""))
		record(command)
	}

	op, db = open()
	require.NoError(t, op.Retry(ctx, find(db, "api-2-bbbb").ID(), "Build", false))
	record("retry")

	op, db = open()
	require.NoError(t, op.Stop(ctx, find(db, "api-4-dddd").ID(), false, ""))
	require.NoError(t, op.Stop(ctx, find(db, "api-4-dddd").ID(), true, ""))
	record("stop")

	op, db = open()
	require.NoError(t, op.Rollback(ctx, find(db, "api-5-eeee").ID(), "Release", find(db, "api-1-aaaa").ID()))
	record("rollback")

	op, _ = open()
	op.WithRepository("github", "octo/api", dynamo.New(dynamodb.NewFromConfig(cfg), stack.Table), clone{commit: strings.Repeat("ab", 20)})
	_, err = op.Start(ctx, "api", "main", "")
	require.NoError(t, err)
	record("start")

	doc := documented(t)
	// What a command needs only off its usual path, which the page lists and this stack does
	// not reach: start finds the scope's last success through its pointer item (two
	// GetItems); without one (a table from before pointers, or a pointer write that failed)
	// it queries the succeeded index and reads the runs it names.
	fallback := map[string][]string{"start": {"dynamodb:BatchGetItem", "dynamodb:Query"}}
	for command, actions := range seen {
		want := append(slices.Clone(actions), fallback[command]...)
		sort.Strings(want)
		assert.Equal(t, slices.Compact(want), doc[command], "docs/operations.md's IAM actions of stepline %s --aws", command)
	}
	for command := range doc {
		assert.Contains(t, seen, command, "docs/operations.md lists a command this test does not run")
	}
}
