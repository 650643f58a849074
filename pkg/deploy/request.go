package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// String returns the request's string setting key, or "" when it is not set.
func (r Request) String(key string) string {
	s, _ := r.Config[key].(string)
	return s
}

// Duration returns the request's duration setting key (Go syntax, as the pipeline decoder
// writes it), or 0 when it is not set.
func (r Request) Duration(key string) (time.Duration, error) {
	s := r.String(key)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}

// ReadFile reads the file a setting names as "artifact::path" (CodePipeline's way of naming
// a file in an input artifact) from that input artifact.
func (r Request) ReadFile(ctx context.Context, key string) ([]byte, error) {
	ref := r.String(key)
	art, path, ok := strings.Cut(ref, "::")
	if !ok || art == "" || path == "" {
		return nil, fmt.Errorf("%s: expected \"artifact::path\", found %q", key, ref)
	}
	in, ok := r.Inputs[art]
	if !ok {
		return nil, fmt.Errorf("%s: %q is not an input artifact of action %s/%s", key, art, r.Stage, r.Action)
	}
	b, err := in.ReadFile(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s from artifact %s: %w", key, path, art, err)
	}
	return b, nil
}
