package approval

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// page is what one answer shows. Every value goes through html/template, so names, messages,
// comments and links from the pipeline file are escaped (and a javascript: URL is defused).
type page struct {
	Status  int
	Title   string
	Text    string
	Request *Request
	// Form is set on the review page only.
	Form *form
}

type form struct {
	// Action is the path the form posts to, relative to the page, so the page works behind
	// any stage or base path.
	Action string
	Key    string
	// Preselect is approve or reject when the link said so; the button gets the focus.
	Preselect string
	Expires   string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{.Title}} · stepline</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{color:#57606a}dd{margin:0}
.message{white-space:pre-wrap;border-left:3px solid #d0d7de;padding:.5rem 1rem;margin:1rem 0}
textarea{width:100%;min-height:5rem;box-sizing:border-box}
button{font-size:1rem;padding:.5rem 1.25rem;margin:.75rem .5rem 0 0;border-radius:6px;border:1px solid #8c959f;cursor:pointer}
.approve{background:#1f883d;color:#fff}.reject{background:#cf222e;color:#fff}.chosen{outline:3px solid #0969da}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{with .Text}}<p>{{.}}</p>{{end}}
{{with .Request}}<dl>
<dt>Pipeline</dt><dd>{{.Pipeline}}</dd>
<dt>Run</dt><dd>{{.Run}}</dd>
<dt>Action</dt><dd>{{.Stage}} / {{.Action}}</dd>
{{with .URL}}<dt>Review</dt><dd><a href="{{.}}" rel="noopener noreferrer">{{.}}</a></dd>{{end}}
</dl>
{{with .Message}}<div class="message">{{.}}</div>{{end}}{{end}}
{{with .Form}}<form method="post" action="{{.Action}}">
<input type="hidden" name="key" value="{{.Key}}">
<label for="comment">Comment (optional)</label>
<textarea id="comment" name="comment" maxlength="2000"></textarea>
<button class="approve{{if eq .Preselect "approve"}} chosen{{end}}" type="submit" name="decision" value="approve"{{if eq .Preselect "approve"}} autofocus{{end}}>Approve</button>
<button class="reject{{if eq .Preselect "reject"}} chosen{{end}}" type="submit" name="decision" value="reject"{{if eq .Preselect "reject"}} autofocus{{end}}>Reject</button>
<p><small>Open until {{.Expires}}.</small></p>
</form>{{end}}
</body>
</html>
`))

// headers go on every answer: nothing is cached or framed, the key never leaks through a
// Referer, and the page may only post to itself.
var headers = map[string]string{
	"Content-Type":            "text/html; charset=utf-8",
	"Cache-Control":           "no-store",
	"Referrer-Policy":         "no-referrer",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}

// render answers with p.
func render(p page) events.APIGatewayV2HTTPResponse {
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, p); err != nil {
		// The template and its data are ours: this cannot happen with a valid page.
		b.Reset()
		b.WriteString("<!doctype html><title>stepline</title><p>The page could not be drawn.</p>")
		p.Status = http.StatusInternalServerError
	}
	h := make(map[string]string, len(headers)+1)
	for k, v := range headers {
		h[k] = v
	}
	if p.Status == http.StatusMethodNotAllowed {
		h["Allow"] = "GET, POST"
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: p.Status, Headers: h, Body: b.String()}
}

// reviewPage shows the request and the form deciding it.
func reviewPage(r Request, c call) page {
	return page{Status: http.StatusOK, Title: "Approval requested", Request: &r, Form: &form{
		Action: "./" + url.PathEscape(c.task), Key: c.key, Preselect: c.decision,
		Expires: r.Expires.UTC().Format(time.RFC1123),
	}}
}

// The pages of refused requests say what to do, never which part of a link was wrong. A link
// without the right key gets notFoundPage whatever else is wrong with it.
var (
	notFoundPage = page{Status: http.StatusNotFound, Title: "No such approval",
		Text: "This link does not lead to an approval. Check that it was copied whole."}
	gonePage = page{Status: http.StatusGone, Title: "This approval is closed",
		Text: "It was already decided, it expired, or its run ended. Nothing was changed."}
	unavailablePage = page{Status: http.StatusServiceUnavailable, Title: "Please try again",
		Text: "The approval could not be reached just now. Nothing was decided."}
)

func problemPage(p *problem) page {
	switch p.status {
	case http.StatusNotFound:
		return notFoundPage
	case http.StatusMethodNotAllowed:
		return page{Status: p.status, Title: "Not allowed", Text: "Open the approval link you were sent."}
	}
	return page{Status: p.status, Title: "The form could not be read", Text: "Go back to the approval page and send it again: " + p.msg + "."}
}
