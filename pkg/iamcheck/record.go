package iamcheck

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

var update = flag.Bool("iamcheck.update", false, "rewrite this package's section of pkg/iamcheck/testdata/calls.json from the calls its tests make")

// Recorder is an aws-sdk-go-v2 middleware that records every call a client makes, as the
// IAM requests it needs (action, resource, condition keys), written in terms of the stack:
// the names the test gave its table, bucket, bus… become ${env:STEPLINE_TABLE} and the like,
// and every ARN is in ${AWS::Partition}, ${AWS::Region} and ${AWS::AccountId}. Attach it to the configuration of the clients the code under test
// uses (Config), never to the clients a test prepares or inspects AWS with.
//
// When the test ends, every recorded request must be in the contract file under the
// function and this package, or the test fails naming the missing requests; with
// -iamcheck.update the package's section is rewritten from what its tests recorded (run
// the whole package). The infra tests evaluate the contract against both templates.
type Recorder struct {
	tb       testing.TB
	function string
	names    []placeholder

	mu       sync.Mutex
	requests map[string]Request
	problems []string
	// contract is false for the package's own tests of the recorder, whose calls belong to
	// no function.
	contract bool
}

// placeholder is a test's value standing for a stack value.
type placeholder struct{ value, name string }

// NewRecorder records the calls of function (webhook, trigger, advance, source, wait, notify,
// callback) made by the clients configured through it. names maps what a name in the
// contract stands for to the test's value: an environment variable of the function
// ("env:STEPLINE_TABLE": the test's table name), or a stack resource as CloudFormation's
// Fn::Sub writes it ("PipelineStateMachine.Name": the state machine name). Every table,
// bucket, bus, state machine, schedule group, role and secret a call names must start with
// one of these values: a call naming something else fails the test. A name starting with
// "user:" stands for a value the stack does not make but is told about (a deploy's target
// bucket, named in its parameters): the contract keeps the value itself.
func NewRecorder(tb testing.TB, function string, names map[string]string) *Recorder {
	tb.Helper()
	return newRecorder(tb, function, names, true)
}

func newRecorder(tb testing.TB, function string, names map[string]string, contract bool) *Recorder {
	r := &Recorder{tb: tb, function: function, requests: map[string]Request{}, contract: contract}
	for name, value := range names {
		if value == "" {
			tb.Fatalf("iamcheck: %s is empty", name)
		}
		r.names = append(r.names, placeholder{value: value, name: name})
	}
	// Longest first: of several values a name starts with, the longest says what it is.
	sort.Slice(r.names, func(i, j int) bool { return len(r.names[i].value) > len(r.names[j].value) })
	tb.Cleanup(r.finish)
	return r
}

// Config returns a copy of cfg whose clients report their calls to r.
func (r *Recorder) Config(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), r.Add)
	return cfg
}

// Add puts the recorder on a client's middleware stack: for clients built from service
// Options rather than an aws.Config, append it to Options.APIOptions.
func (r *Recorder) Add(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("iamcheck.Recorder",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			r.record(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters)
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (r *Recorder) record(service, op string, in any) {
	calls := &callNamer{names: r.names}
	d, err := requestsOf(service, op, in, calls)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.problems = append(r.problems, err.Error())
		return
	}
	for _, name := range calls.unknown {
		r.problems = append(r.problems, fmt.Sprintf("%s %s names %q, which is none of the stack values the test named (NewRecorder)", service, op, name))
	}
	for _, req := range d.requests {
		r.requests[req.key()] = req
	}
}

// callNamer is the recorder's namer for one call; it keeps the names it did not know.
type callNamer struct {
	names   []placeholder
	unknown []string
}

func (c *callNamer) exact(v string) string {
	for _, p := range c.names {
		if p.value == v {
			if strings.HasPrefix(p.name, "user:") {
				return v
			}
			return "${" + p.name + "}"
		}
	}
	c.unknown = append(c.unknown, v)
	return v
}

func (c *callNamer) prefixed(v string) (string, string) {
	for _, p := range c.names {
		if strings.HasPrefix(v, p.value) {
			return "${" + p.name + "}", v[len(p.value):]
		}
	}
	c.unknown = append(c.unknown, v)
	return v, ""
}

func (q Request) key() string {
	keys := make([]string, 0, len(q.Context))
	for k, v := range q.Context {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return q.Action + " " + q.Resource + " " + strings.Join(keys, " ")
}

// Requests returns what r recorded so far, sorted.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sorted(r.requests)
}

func sorted(m map[string]Request) []Request {
	out := make([]Request, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *Recorder) finish() {
	r.mu.Lock()
	problems := r.problems
	r.mu.Unlock()
	for _, p := range problems {
		r.tb.Errorf("iamcheck: %s: %s", r.function, p)
	}
	if !r.contract {
		return
	}
	pkg, err := packageName()
	if err != nil {
		r.tb.Errorf("iamcheck: %v", err)
		return
	}
	if *update {
		if err := updateContract(ContractPath(), r.function, pkg, r.Requests()); err != nil {
			r.tb.Errorf("iamcheck: %v", err)
		}
		return
	}
	c, err := LoadContract(ContractPath())
	if err != nil {
		r.tb.Errorf("iamcheck: %v", err)
		return
	}
	if msg := r.missing(c, pkg); msg != "" {
		r.tb.Errorf("iamcheck: %s", msg)
	}
}

// missing says which recorded requests c lacks under the function and pkg, or "".
func (r *Recorder) missing(c Contract, pkg string) string {
	have := map[string]bool{}
	for _, q := range c[r.function][pkg] {
		have[q.key()] = true
	}
	var missing []string
	for _, q := range r.Requests() {
		if !have[q.key()] {
			missing = append(missing, "  "+q.String())
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("%s makes calls %s does not list under %q / %q, so no test proves its role allows them:\n%s\n"+
		"rerun this package's tests with -iamcheck.update and commit the file",
		r.function, ContractPath(), r.function, pkg, strings.Join(missing, "\n"))
}

// packageName is the test's package directory relative to the module root (pkg/triggerstep).
func packageName() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(moduleRoot(), wd)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("the test runs in %s, outside the module at %s", wd, moduleRoot())
	}
	return filepath.ToSlash(rel), nil
}
