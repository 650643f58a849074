// Command shop is an HTTP API on AWS Lambda (an API Gateway HTTP API in front, see
// template.yml): GET / answers with the environment it runs in, any other route is a 404.
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// Handler answers the HTTP API's requests (payload format 2.0).
type Handler struct {
	// Environment is the stack's environment (production, br-<branch>).
	Environment string
}

// Handle serves one request.
func (h Handler) Handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.RequestContext.HTTP.Method != http.MethodGet || req.RawPath != "/" {
		return reply(http.StatusNotFound, map[string]string{"error": "not found"})
	}
	return reply(http.StatusOK, map[string]string{"service": "shop", "environment": h.Environment})
}

func reply(status int, body any) (events.APIGatewayV2HTTPResponse, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}, nil
}

func main() {
	lambda.Start(Handler{Environment: os.Getenv("ENVIRONMENT")}.Handle)
}
