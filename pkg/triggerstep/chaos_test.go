package triggerstep

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamofake"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamotest"
)

// The chaos tests prove that the trigger starts every event's run exactly once when everything
// around it misbehaves as AWS may: the trigger queue delivers messages at least once and
// offers a failed one again after its visibility timeout, possibly to another worker; the
// webhook publishes some events twice; DynamoDB and StartExecution fail requests (a 5xx) and
// lose the answers of requests they applied (a timeout). Several workers run the real
// handler (HandleQueue) on the real store (dynamo.Store); at the end every event has exactly
// one execution and one run record, and nothing is lost.

var (
	chaosSeed = flag.Uint64("chaos.seed", 0, "seed of the chaos tests; 0 draws one (printed, so that a failure can be replayed)")
	chaosFull = flag.Bool("chaos.full", false, "run the chaos test on dynamofake at full size, as make chaos does: 10,000 deliveries")
)

// chaosConfig sizes one chaos run.
type chaosConfig struct {
	deliveries int     // messages sent, duplicates included
	duplicates float64 // the share of deliveries that repeat an earlier event
	workers    int     // concurrent function instances
	visibility time.Duration
	// copies is the share of receives that leave the message visible as well, so that another
	// worker receives it at the same time: SQS standard queues deliver at least once.
	copies float64
}

// faultRate is the share of requests that fail with a 5xx, and the share that take effect but
// lose their answer, each.
const faultRate = 5

// chaos draws the faults of one run from its seed and counts them. A request's fault depends
// on the seed, the request (operation and item key or execution name) and how many times that
// request was made before, not on which worker made it when: a failing seed replays the same
// faults, up to the order in which concurrent copies of one request arrive.
type chaos struct {
	seed    uint64
	latency time.Duration
	mu      sync.Mutex
	seen    map[string]uint64
	faults  map[string]int
}

func newChaos(t *testing.T) *chaos {
	seed := *chaosSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("chaos seed %d (replay with -chaos.seed=%d)", seed, seed)
	return &chaos{seed: seed, latency: 400 * time.Microsecond, seen: map[string]uint64{}, faults: map[string]int{}}
}

// decide returns the fault chooser of service's requests.
func (c *chaos) decide(service string) func(op, key string) dynamofake.Fault {
	return func(op, key string) dynamofake.Fault {
		// A round trip's worth of latency, so that concurrent deliveries of one event overlap
		// between their reads and their conditional writes as they do on AWS.
		time.Sleep(rand.N(c.latency))
		c.mu.Lock()
		defer c.mu.Unlock()
		h := fnv.New64a()
		_, _ = io.WriteString(h, service+"|"+op+"|"+key)
		k := h.Sum64()
		n := c.seen[op+"|"+key]
		c.seen[op+"|"+key]++
		switch x := rand.New(rand.NewPCG(c.seed, k^(n*0x9e3779b97f4a7c15))).IntN(100); {
		case x < faultRate:
			c.faults[service+" 5xx"]++
			return dynamofake.ServerError
		case x < 2*faultRate:
			c.faults[service+" timeout"]++
			return dynamofake.LostAnswer
		}
		return dynamofake.NoFault
	}
}

// faultySFN injects the chaos's faults into StartExecution; DescribeExecution passes.
type faultySFN struct {
	executions
	decide func(op, key string) dynamofake.Fault
}

func (f *faultySFN) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	return dynamofake.Inject("SFN", "StartExecution", f.decide("StartExecution", aws.ToString(in.Name)), func() (*sfn.StartExecutionOutput, error) {
		return f.executions.StartExecution(ctx, in, optFns...)
	})
}

// memQueue is an SQS standard queue as a Lambda event source mapping with
// ReportBatchItemFailures uses it
// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): a received
// message is hidden for the visibility timeout; the batch's successes are deleted; a
// failure shows again once its timeout ends, to whichever worker asks next; a message
// received more than maxReceives times goes to the dead-letter queue instead.
type memQueue struct {
	mu          sync.Mutex
	rng         *rand.Rand
	cfg         chaosConfig
	maxReceives int
	// ready is the visible messages in the order they became visible; hidden the received
	// ones, in the order their visibility timeouts end (one timeout for all, so the order
	// they were received in). A message deleted or received again since stays in either
	// until it comes up, and is skipped then.
	ready     []*queued
	hidden    []hiding
	remaining int
	dead      []*queued
	receives  int
	copies    int
}

type queued struct {
	msg     events.SQSMessage
	count   int
	until   time.Time
	deleted bool
}

type hiding struct {
	m     *queued
	until time.Time
}

func (q *memQueue) send(msg events.SQSMessage) {
	q.ready = append(q.ready, &queued{msg: msg})
	q.remaining++
}

// receive returns up to n visible messages; done is true once none is left to deliver.
func (q *memQueue) receive(n int) (batch []events.SQSMessage, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for len(q.hidden) > 0 && !now.Before(q.hidden[0].until) {
		h := q.hidden[0]
		q.hidden = q.hidden[1:]
		if !h.m.deleted && h.m.until.Equal(h.until) {
			q.ready = append(q.ready, h.m)
		}
	}
	for len(batch) < n && len(q.ready) > 0 {
		m := q.ready[0]
		q.ready = q.ready[1:]
		switch {
		case m.deleted || now.Before(m.until):
			continue
		case m.count >= q.maxReceives:
			m.deleted = true
			q.remaining--
			q.dead = append(q.dead, m)
			continue
		}
		m.count++
		q.receives++
		if q.rng.Float64() < q.cfg.copies {
			q.copies++ // left visible: the next worker to ask gets it too
			q.ready = slices.Insert(q.ready, 0, m)
			break
		} else {
			m.until = now.Add(q.cfg.visibility)
			q.hidden = append(q.hidden, hiding{m: m, until: m.until})
		}
		msg := m.msg
		msg.Attributes = map[string]string{"ApproximateReceiveCount": fmt.Sprint(m.count)}
		batch = append(batch, msg)
	}
	return batch, q.remaining == 0
}

// remove deletes the messages of batch whose ids are in ids.
func (q *memQueue) remove(ids map[string]*queued) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range ids {
		if !m.deleted {
			m.deleted = true
			q.remaining--
		}
	}
}

// chaosPipelines is a file with one pipeline that runs for pushes to main.
const chaosPipelines = `version: 1
pipelines:
  - name: app
    triggers:
      - {on: push, branches: {include: [main]}}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, inputs: [source]}
`

// chaosRun is one chaos run: its figures, and what it left behind for the checks.
type chaosRun struct {
	deliveries, duplicates, events, workers, receives, copies, deadLettered int
	faults                                                                  map[string]int
	commits                                                                 []string
	sfn                                                                     *memSFN
	took                                                                    time.Duration
}

// runChaos sends cfg.deliveries push events through a queue to cfg.workers handlers on the
// store on api (table), faults drawn by c, until the queue is empty.
func runChaos(t *testing.T, c *chaos, cfg chaosConfig, api dynamofake.API, table string) chaosRun {
	t.Helper()
	rng := rand.New(rand.NewPCG(c.seed, 1))
	repo := &memRepo{files: map[string]string{}, heads: map[string]string{}}
	distinct := cfg.deliveries - int(float64(cfg.deliveries)*cfg.duplicates)
	run := chaosRun{deliveries: cfg.deliveries, duplicates: cfg.deliveries - distinct, events: distinct, workers: cfg.workers,
		sfn: &memSFN{names: map[string]string{}}}
	var bodies []string
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for i := range distinct {
		commit := fmt.Sprintf("%020x%020x", i+1, rng.Uint64()>>1)
		repo.set(commit, chaosPipelines)
		body, err := json.Marshal(pushTo(t, "main", commit, at))
		require.NoError(t, err)
		run.commits = append(run.commits, commit)
		bodies = append(bodies, string(body))
	}
	rng.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	// The webhook publishes a duplicate soon after the original (a provider's redelivery, a
	// retried PutEvents): it lands in one of the next batches, which other workers handle
	// at the same time.
	for range run.duplicates {
		i := rng.IntN(len(bodies))
		j := min(len(bodies), i+10+rng.IntN(30))
		bodies = slices.Insert(bodies, j, bodies[i])
	}
	q := &memQueue{rng: rand.New(rand.NewPCG(c.seed, 2)), cfg: cfg, maxReceives: 60}
	byID := map[string]*queued{}
	for i, b := range bodies {
		q.send(events.SQSMessage{MessageId: fmt.Sprintf("m-%05d", i), Body: b})
		byID[q.ready[i].msg.MessageId] = q.ready[i]
	}

	store := dynamo.New(&dynamofake.Faulty{API: api, Decide: c.decide("DynamoDB")}, table)
	h, err := New(store, memSecrets{memHook: {Provider: "github", Repository: memRepoName, Token: testToken}}, nil,
		&faultySFN{executions: run.sfn, decide: c.decide("SFN")}, testStateMachine,
		WithClients(func(reposecret.Secret) (FileReader, scm.FileLister, error) { return repo, nil, nil }),
		WithLogger(slog.New(slog.DiscardHandler)),
		WithClock(func() time.Time { return at }))
	require.NoError(t, err)

	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.workers {
		wg.Go(func() {
			for {
				batch, done := q.receive(10) // the trigger's BatchSize (template.yml)
				if done {
					return
				}
				if len(batch) == 0 {
					time.Sleep(cfg.visibility / 20)
					continue
				}
				out, err := h.HandleQueue(context.Background(), events.SQSEvent{Records: batch})
				assert.NoError(t, err, "HandleQueue never fails a batch whole")
				handled := map[string]*queued{}
				for _, m := range batch {
					handled[m.MessageId] = byID[m.MessageId]
				}
				for _, f := range out.BatchItemFailures {
					delete(handled, f.ItemIdentifier)
				}
				q.remove(handled)
			}
		})
	}
	wg.Wait()
	run.took = time.Since(start)
	run.receives, run.copies, run.deadLettered = q.receives, q.copies, len(q.dead)
	c.mu.Lock()
	run.faults = maps.Clone(c.faults)
	c.mu.Unlock()
	return run
}

// check asserts exactly one execution and one run record per event, read from runs (a store
// without faults on the same table), with claims the number of run number claims in it; and
// returns the figures line.
func (run chaosRun) check(t *testing.T, c *chaos, runs *dynamo.Store, claims int) string {
	t.Helper()
	ctx := context.Background()
	run.sfn.mu.Lock()
	executions := maps.Clone(run.sfn.names)
	run.sfn.mu.Unlock()
	lost, wrong := 0, 0
	ids := map[string]string{} // run id → the commit of its event
	for _, commit := range run.commits {
		name := ExecutionName("github-"+commit[:20], "app")
		input, ok := executions[name]
		if !ok {
			lost++
			continue
		}
		var in struct{ Run string }
		require.NoError(t, json.Unmarshal([]byte(input), &in))
		rec, err := runs.GetRun(ctx, in.Run)
		arn, _ := ExecutionARN(testStateMachine, name)
		if err != nil || rec.Commit != commit || rec.ExecutionARN != arn {
			wrong++
			t.Errorf("execution %s names run %q: %v (record of commit %.12s, execution %s)", name, in.Run, err, rec.Commit, rec.ExecutionARN)
			continue
		}
		if other, ok := ids[in.Run]; ok {
			t.Errorf("run %s is driven by the executions of two events, commits %.12s and %.12s", in.Run, other, commit)
		}
		ids[in.Run] = commit
	}
	recs, err := runs.ListRuns(ctx, store.Filter{})
	require.NoError(t, err)
	orphans := 0
	for _, r := range recs {
		if _, ok := ids[r.ID()]; !ok {
			orphans++
			t.Errorf("run record %s (commit %.12s) has no execution", r.ID(), r.Commit)
		}
	}
	faults := func(service string) string {
		return fmt.Sprintf("%s 5xx=%d timeout=%d", service, run.faults[service+" 5xx"], run.faults[service+" timeout"])
	}
	line := fmt.Sprintf("chaos: seed=%d deliveries=%d duplicates=%d events=%d workers=%d faults: %s, %s; receives=%d at-least-once copies=%d "+
		"executions=%d run records=%d claims=%d orphans=%d lost=%d dead-lettered=%d in %s",
		c.seed, run.deliveries, run.duplicates, run.events, run.workers, faults("DynamoDB"), faults("SFN"), run.receives, run.copies,
		len(executions), len(recs), claims, orphans, lost, run.deadLettered, run.took.Round(time.Millisecond))
	fmt.Println(line)
	assert.Zero(t, lost, "events without an execution")
	assert.Zero(t, wrong, "executions of the wrong run")
	assert.Zero(t, run.deadLettered, "messages dead-lettered")
	assert.Equal(t, run.events, len(executions), "one execution per event")
	assert.Equal(t, run.events, len(recs), "one run record per event")
	assert.Equal(t, run.events, claims, "one run number claimed per event")
	for _, kind := range []string{"DynamoDB 5xx", "DynamoDB timeout", "SFN 5xx", "SFN timeout"} {
		assert.Positive(t, run.faults[kind], "the run injected %s faults", kind)
	}
	return line
}

// countClaims counts the run number claims among items.
func countClaims(items []map[string]string) int {
	n := 0
	for _, it := range items {
		if it["type"] == "seq-claim" {
			n++
		}
	}
	return n
}

func typesOf(items []map[string]string) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["type"])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// chaosDeliveries is the size of the chaos test on the fake: 10,000 deliveries with
// -chaos.full (make chaos), else 2,000, since make test runs it under the race detector, which
// multiplies its cost about tenfold (the race detector still sees every worker, queue and fake
// interleave).
func chaosDeliveries() int {
	if *chaosFull {
		return 10_000
	}
	return 2_000
}

// motoDeliveries is the size of the chaos test on moto, always the 1,000: moto scans
// the whole table for every index query, but the trigger queries none since LastSucceeded
// reads the scope's pointer (two GetItems), so the run grows linearly with the deliveries.
const motoDeliveries = 1_000

func TestChaosEveryEventStartsExactlyOneRunThroughDuplicatesRedeliveriesAndFaults(t *testing.T) {
	t.Parallel()
	c := newChaos(t)
	db := dynamofake.New()
	_, err := db.CreateTable(t.Context(), dynamo.Schema("stepline"))
	require.NoError(t, err)
	cfg := chaosConfig{deliveries: chaosDeliveries(), duplicates: 0.10, workers: 8, visibility: 20 * time.Millisecond, copies: 0.01}

	run := runChaos(t, c, cfg, db, "stepline")

	var items []map[string]string
	for _, it := range db.Items("stepline") {
		items = append(items, map[string]string{"type": attrS(it, "type")})
	}
	run.check(t, c, dynamo.New(db, "stepline"), countClaims(items))
	assert.Equal(t, []string{"last-succeeded", "latest", "run", "seq", "seq-claim"}, typesOf(items),
		"the trigger writes runs, the counter, claims, the scope's newest-run pointer and its rollback pointer (naming no run: none succeeded) only")
}

func TestChaosOnMotoEveryEventStartsExactlyOneRun(t *testing.T) {
	t.Parallel()
	c := newChaos(t)
	moto := awstest.StartMoto(t)
	table := dynamotest.Table(t, moto, "chaos")
	client := dynamodb.NewFromConfig(moto.Config())
	api := &dynamofake.Serial{API: client}
	cfg := chaosConfig{deliveries: motoDeliveries, duplicates: 0.10, workers: 2, visibility: 50 * time.Millisecond, copies: 0.01}

	run := runChaos(t, c, cfg, api, table)

	var items []map[string]string
	pages := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(t.Context())
		require.NoError(t, err)
		for _, it := range page.Items {
			items = append(items, map[string]string{"type": attrS(it, "type")})
		}
	}
	run.check(t, c, dynamo.New(api, table), countClaims(items))
}

// attrS is the string attribute name of item, "" when it is not one.
func attrS(item map[string]dynamotypes.AttributeValue, name string) string {
	if v, ok := item[name].(*dynamotypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
