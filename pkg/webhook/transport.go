package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// HandleAPIGateway adapts Handle to an API Gateway HTTP API (payload format 2.0) route
// POST /webhooks/{provider}/{hook}. It never returns an error: every outcome is an HTTP
// answer, since an error would make API Gateway answer 500 and the provider retry.
func (h *Handler) HandleAPIGateway(ctx context.Context, in events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	received := time.Now()
	body := []byte(in.Body)
	if in.IsBase64Encoded {
		// The cap is checked on the decoded size too, but a huge encoded body is refused
		// before decoding it.
		if base64.StdEncoding.DecodedLen(len(in.Body)) > h.maxBody+3 {
			return h.early(ctx, in, answer(http.StatusRequestEntityTooLarge, "the encoded body is over the size limit")), nil
		}
		var err error
		if body, err = base64.StdEncoding.DecodeString(in.Body); err != nil {
			return h.early(ctx, in, answer(http.StatusBadRequest, "the body is not valid base64")), nil
		}
	}
	header := http.Header{}
	for k, v := range in.Headers {
		header.Set(k, v)
	}
	res := h.Handle(ctx, Request{
		Method:   in.RequestContext.HTTP.Method,
		Provider: in.PathParameters["provider"],
		Hook:     in.PathParameters["hook"],
		Header:   header,
		Body:     body,
		Received: received,
	})
	return apiResponse(res), nil
}

// early logs and answers a request refused before Handle, as Handle logs its answers.
func (h *Handler) early(ctx context.Context, in events.APIGatewayV2HTTPRequest, r Response) events.APIGatewayV2HTTPResponse {
	h.log.LogAttrs(ctx, slog.LevelWarn, "webhook "+r.Body.Message, slog.Int("status", r.Status),
		slog.String("provider", in.PathParameters["provider"]), slog.String("hook", hookPrefix(in.PathParameters["hook"])),
		slog.Int("bytes", len(in.Body)))
	return apiResponse(r)
}

func apiResponse(r Response) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(r.Body)
	return events.APIGatewayV2HTTPResponse{
		StatusCode: r.Status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}

// ServeHTTP serves the same route on net/http, for `stepline serve`: the path must be
// /webhooks/{provider}/{hook}. The body is read up to the cap plus one byte, so an oversized
// body is refused without being held in memory.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(h.maxBody)+1))
	var res Response
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		return
	case err != nil:
		res = answer(http.StatusBadRequest, "the body could not be read")
	default:
		res = h.Handle(r.Context(), Request{
			Method:   r.Method,
			Provider: r.PathValue("provider"),
			Hook:     r.PathValue("hook"),
			Header:   r.Header,
			Body:     body,
			Received: received,
		})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(res.Status)
	_ = json.NewEncoder(w).Encode(res.Body)
}

// Mux returns an http.Handler routing POST /webhooks/{provider}/{hook} to h.
func (h *Handler) Mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{provider}/{hook}", h)
	return mux
}
