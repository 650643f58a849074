// Package lambdaenv reads a Lambda function's settings from its environment once, at start,
// so that a missing one stops the function with a clear message before it takes any event.
package lambdaenv

import "fmt"

// Reader reads settings through env (os.Getenv, or a map's lookup in tests) and remembers the
// first required one that was not set.
type Reader struct {
	env     func(string) string
	missing string
}

// New returns a Reader of env.
func New(env func(string) string) *Reader { return &Reader{env: env} }

// Required returns the setting name; when it is not set, Err reports it.
func (r *Reader) Required(name string) string {
	v := r.env(name)
	if v == "" && r.missing == "" {
		r.missing = name
	}
	return v
}

// Err is "NAME must be set" for the first required setting that was not, nil when all were.
func (r *Reader) Err() error {
	if r.missing != "" {
		return fmt.Errorf("%s must be set", r.missing)
	}
	return nil
}
