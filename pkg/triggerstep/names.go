package triggerstep

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxExecutionName is Step Functions' limit on an execution name.
const MaxExecutionName = 80

// ExecutionName names the execution of pipeline started by the event with idempotency key:
// key-pipeline, so a redelivered event (same key) names the same execution and Step
// Functions refuses to start it twice. Characters outside [A-Za-z0-9_-] become '-', and a
// name that had to change (replaced characters, or over MaxExecutionName) ends in a digest of
// the original, so two different pipelines never share a name.
func ExecutionName(key, pipeline string) string {
	raw := key + "-" + pipeline
	var b strings.Builder
	for _, r := range raw {
		if r < 0x80 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	if name == raw && len(name) <= MaxExecutionName {
		return name
	}
	sum := sha256.Sum256([]byte(key + "\x00" + pipeline))
	suffix := "-" + hex.EncodeToString(sum[:6])
	if len(name) > MaxExecutionName-len(suffix) {
		name = name[:MaxExecutionName-len(suffix)]
	}
	return name + suffix
}

// ExecutionARN derives the ARN of the execution name of stateMachine:
// arn:aws:states:REGION:ACCOUNT:stateMachine:NAME becomes …:execution:NAME:name.
func ExecutionARN(stateMachine, name string) (string, bool) {
	before, after, ok := strings.Cut(stateMachine, ":stateMachine:")
	if !ok || after == "" {
		return "", false
	}
	return before + ":execution:" + after + ":" + name, true
}
