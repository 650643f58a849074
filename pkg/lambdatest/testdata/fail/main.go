// Command fail fails in each of the ways the harness must report: a named error type, an
// exit before answering, a hang past the timeout and, with FAIL_INIT set, an init error
// posted the way a custom runtime posts one.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// BuildFailed is the named error type the test expects in errorType.
type BuildFailed struct{ Build string }

func (e *BuildFailed) Error() string { return "build " + e.Build + " failed" }

type event struct {
	Do    string `json:"do"`
	Build string `json:"build"`
}

func main() {
	if msg := os.Getenv("FAIL_INIT"); msg != "" {
		body := fmt.Sprintf(`{"errorMessage":%q,"errorType":"ConfigError","stackTrace":[]}`, msg)
		req, _ := http.NewRequest(http.MethodPost, "http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error", strings.NewReader(body))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigInvalid")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, ev event) (string, error) {
		switch ev.Do {
		case "exit":
			fmt.Fprintln(os.Stderr, "fail: exiting without an answer")
			os.Exit(3)
		case "hang":
			time.Sleep(time.Hour)
		}
		return "", &BuildFailed{Build: ev.Build}
	})
}
