package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func request(method, path string) events.APIGatewayV2HTTPRequest {
	var req events.APIGatewayV2HTTPRequest
	req.RawPath = path
	req.RequestContext.HTTP.Method = method
	return req
}

func TestHandle(t *testing.T) {
	h := Handler{Environment: "br-staging"}

	resp, err := h.Handle(context.Background(), request("GET", "/"))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || body["environment"] != "br-staging" {
		t.Fatalf("GET /: %d %v, want 200 and environment br-staging", resp.StatusCode, body)
	}

	resp, err = h.Handle(context.Background(), request("GET", "/missing"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 {
		t.Fatalf("GET /missing: %d, want 404", resp.StatusCode)
	}
}
