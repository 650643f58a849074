package approval

import (
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Limits on what a request may carry.
const (
	// MaxBody is the largest form accepted, in bytes.
	MaxBody = 16 << 10
	// MaxComment is the longest comment accepted, in characters.
	MaxComment = 2000
)

// Form decisions.
const (
	decisionApprove = "approve"
	decisionReject  = "reject"
)

// call is a parsed request to the approval routes.
type call struct {
	method string
	run    string
	task   string
	key    string
	// decision is approve or reject: what a POST decides, what a GET preselects (or "").
	decision string
	comment  string
}

// problem is a request refused before any lookup, with its status and a message for the page.
type problem struct {
	status int
	msg    string
}

func (p *problem) Error() string { return p.msg }

var errNotFound = &problem{status: http.StatusNotFound, msg: "not found"}

// parse reads an API Gateway HTTP API (payload 2.0) request of GET or POST
// /approvals/{run}/{task}. It fails with a *problem: 404 for a path that names no approval,
// 405 for another method, 400/413/415 for a form that cannot be read.
func parse(in events.APIGatewayV2HTTPRequest) (call, error) {
	c := call{method: strings.ToUpper(in.RequestContext.HTTP.Method)}
	c.run, c.task = in.PathParameters["run"], in.PathParameters["task"]
	if c.run == "" && c.task == "" {
		c.run, c.task = fromPath(in.RawPath)
	}
	if !ValidRun(c.run) || !ValidTask(c.task) {
		return call{}, errNotFound
	}
	switch c.method {
	case http.MethodGet:
		q := query(in)
		c.key = q.Get("key")
		if d := q.Get("decision"); d == decisionApprove || d == decisionReject {
			c.decision = d
		}
		return c, nil
	case http.MethodPost:
		form, err := formOf(in)
		if err != nil {
			return call{}, err
		}
		c.key = form.Get("key")
		c.decision = form.Get("decision")
		if c.decision != decisionApprove && c.decision != decisionReject {
			return call{}, &problem{status: http.StatusBadRequest, msg: "the form must say approve or reject"}
		}
		c.comment = strings.TrimSpace(form.Get("comment"))
		if !utf8.ValidString(c.comment) {
			return call{}, &problem{status: http.StatusBadRequest, msg: "the comment is not valid text"}
		}
		if utf8.RuneCountInString(c.comment) > MaxComment {
			return call{}, &problem{status: http.StatusBadRequest, msg: "the comment is too long"}
		}
		return c, nil
	}
	return call{}, &problem{status: http.StatusMethodNotAllowed, msg: "only GET and POST are served here"}
}

// fromPath reads run and task from a raw path ending in /approvals/{run}/{task}, for events
// that carry no path parameters.
func fromPath(raw string) (string, string) {
	parts := strings.Split(strings.Trim(raw, "/"), "/")
	if len(parts) < 3 || parts[len(parts)-3] != "approvals" {
		return "", ""
	}
	run, err1 := url.PathUnescape(parts[len(parts)-2])
	task, err2 := url.PathUnescape(parts[len(parts)-1])
	if err1 != nil || err2 != nil {
		return "", ""
	}
	return run, task
}

// query returns the request's query: the raw string when API Gateway passed it (it keeps
// repeated keys apart), else the parameters map (which joins them with commas).
func query(in events.APIGatewayV2HTTPRequest) url.Values {
	if in.RawQueryString != "" {
		if q, err := url.ParseQuery(in.RawQueryString); err == nil {
			return q
		}
		return url.Values{}
	}
	q := url.Values{}
	for k, v := range in.QueryStringParameters {
		q.Set(k, v)
	}
	return q
}

// formOf decodes a POSTed application/x-www-form-urlencoded body, which API Gateway may
// hand over base64-encoded.
func formOf(in events.APIGatewayV2HTTPRequest) (url.Values, error) {
	ct := ""
	for k, v := range in.Headers {
		if strings.EqualFold(k, "content-type") {
			ct = v
		}
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &problem{status: http.StatusUnsupportedMediaType, msg: "send the form of the approval page"}
	}
	body := in.Body
	if in.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(body)) > MaxBody+3 {
			return nil, &problem{status: http.StatusRequestEntityTooLarge, msg: "the form is too large"}
		}
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, &problem{status: http.StatusBadRequest, msg: "the form could not be read"}
		}
		body = string(b)
	}
	if len(body) > MaxBody {
		return nil, &problem{status: http.StatusRequestEntityTooLarge, msg: "the form is too large"}
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, &problem{status: http.StatusBadRequest, msg: "the form could not be read"}
	}
	return form, nil
}

// asProblem returns err's *problem, or nil.
func asProblem(err error) *problem {
	var p *problem
	if errors.As(err, &p) {
		return p
	}
	return nil
}
