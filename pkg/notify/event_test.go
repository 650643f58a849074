package notify

import (
	"errors"
	"testing"
	"time"

	"github.com/stepline/stepline/pkg/changes"
)

func TestDecodeReadsEventBridgeEventsOfStepline(t *testing.T) {
	t.Parallel()
	c := change(t, changes.DetailAction, "FAILED", "Build", "Test", "exit status 2")
	if c.Run() != "api-42" || c.State.Stage != "Build" || c.State.Attempt != 2 || !c.Time.Equal(ended) {
		t.Errorf("decoded %+v", c)
	}
	a := approvalChange(t)
	if a.Approval.Approve == "" || a.Approval.Stage != "Release" {
		t.Errorf("decoded %+v", a.Approval)
	}
}

func TestDecodeRefusesWhatIsNoSteplineChange(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		body    string
		notOurs bool
	}{
		"another source":             {`{"source":"aws.codepipeline","detail-type":"CodePipeline Pipeline Execution State Change","detail":{}}`, true},
		"another detail-type":        {`{"source":"stepline","detail-type":"stepline Source Event","detail":{}}`, true},
		"not JSON":                   {`{"source":`, false},
		"a detail without a run":     {`{"source":"stepline","detail-type":"stepline Pipeline Execution State Change","detail":{"pipeline":"api","state":"FAILED"}}`, false},
		"a detail of the wrong type": {`{"source":"stepline","detail-type":"stepline Stage Execution State Change","detail":{"pipeline":7}}`, false},
		"an approval without a run":  {`{"source":"stepline","detail-type":"stepline Approval Requested","detail":{"pipeline":"api"}}`, false},
	} {
		_, err := Decode([]byte(tc.body))
		if err == nil || errors.Is(err, ErrNotStepline) != tc.notOurs {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// A field nothing reads (a date format, an extra key) never refuses an event.
func TestDecodeIsLiberalWithFieldsItDoesNotRead(t *testing.T) {
	t.Parallel()
	c, err := Decode([]byte(`{"source":"stepline","detail-type":"stepline Pipeline Execution State Change","time":"yesterday",
		"detail":{"pipeline":"api","execution-id":"api-42","state":"SUCCEEDED","version":"v1","type":["x"],"start-time":"2026-12-07T09:04:12Z","new-field":{"a":1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 7, 9, 4, 12, 0, time.UTC); !c.Time.Equal(want) {
		t.Errorf("time = %v, want the detail's start-time %v", c.Time, want)
	}
}
