package web

// The Test panel: the event box, the learner's saved test events, the
// ready-made events, and what the last invoke did (console.go runs it).

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"lambdalab/cloud"
	"lambdalab/cloud/lambda"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// testPanelKey carries what a handler adds to the Test panel it renders: the
// invoke it just ran, or the saved event it loads.
type testPanelKey struct{}

type testPanelExtra struct {
	result *ui.InvokeResult
	loaded *store.TestEvent
}

func (s *Server) testPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	ctx := r.Context()
	lab := url.PathEscape(lc.Lab.ID)
	v := ui.TestPanelView{Lab: lc.Lab.ID, Function: lc.fnName(), Flash: st.Flash, Err: st.Err,
		InvokeURL: "/labs/" + lab + "/invoke", SaveURL: "/labs/" + lab + "/events", TuneURL: "/labs/" + lab + "/tune",
		InvocationType: lambda.RequestResponse, Qualifier: "$LATEST", SavedLimit: store.MaxTestEvents,
		TuningSizes: "128, 256, 512, 1,024, 1,769 and 3,008 MB"}
	if lc.Fn == nil {
		v.Missing = "This lab has no function to test."
		return ui.TestPanel(v), nil
	}
	extra, _ := ctx.Value(testPanelKey{}).(testPanelExtra)
	v.Result = extra.result

	template := r.URL.Query().Get("template")
	switch {
	case st.Form != nil:
		v.Event, v.EventName = st.Form.Get("event"), st.Form.Get("name")
		v.EventID, _ = strconv.ParseInt(st.Form.Get("event_id"), 10, 64)
		if t := st.Form.Get("type"); t == lambda.Event {
			v.InvocationType = t
		}
		if q := st.Form.Get("qualifier"); q != "" {
			v.Qualifier = q
		}
	case extra.loaded != nil:
		v.Event, v.EventName, v.EventID = extra.loaded.Body, extra.loaded.Name, extra.loaded.ID
	default:
		if template == "" {
			template = defaultTemplate(lc)
		}
		body, ok := s.templateEvent(ctx, lc, template)
		if !ok {
			v.Err = "There is no ready event called " + strconv.Quote(template) + "; choose one from the list."
			template, body = "empty", "{}"
		}
		v.Event, v.EventName = body, template
	}
	for _, t := range eventTemplates {
		v.Templates = append(v.Templates, ui.TestTemplate{ID: t.id, Label: t.label, Current: t.id == template})
	}

	saved, err := s.db.TestEvents(ctx, lc.User.ID, lc.Lab.ID, lc.Fn.Name)
	if err != nil {
		return nil, err
	}
	for _, ev := range saved {
		v.Saved = append(v.Saved, ui.SavedEvent{ID: ev.ID, Name: ev.Name, Size: formatSize(len(ev.Body)),
			LoadURL:   testEventURL(lc, ev.ID, ""),
			DeleteURL: "/labs/" + lab + "/events/" + strconv.FormatInt(ev.ID, 10) + "/delete",
			Current:   ev.ID == v.EventID})
	}

	v.Qualifiers = []ui.TestOption{{Value: "$LATEST", Label: "$LATEST"}}
	versions, err := s.cloud.Lambda.ListVersionsByFunction(ctx, lc.Account, lc.Fn.Name, "", 50)
	if le, ok := lambda.AsError(err); ok && le.Status == http.StatusNotFound {
		v.Missing = lc.Fn.Name + " is not in your account yet. Deploy it from the Code tab, then invoke it here."
	} else if err != nil {
		return nil, err
	} else {
		for _, fv := range versions.Versions {
			if fv.Version != "$LATEST" {
				v.Qualifiers = append(v.Qualifiers, ui.TestOption{Value: fv.Version, Label: "version " + fv.Version})
			}
		}
		aliases, err := s.cloud.Lambda.ListAliases(ctx, lc.Account, lc.Fn.Name, "")
		if err != nil {
			return nil, err
		}
		for _, a := range aliases.Aliases {
			label := "alias " + a.Name + " → version " + a.FunctionVersion
			if a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0 {
				label += " (weighted)"
			}
			v.Qualifiers = append(v.Qualifiers, ui.TestOption{Value: a.Name, Label: label})
		}
	}

	p, err := s.db.LatestPowerTuning(ctx, lc.User.ID, lc.Lab.ID, lc.Fn.Name)
	switch {
	case err == nil:
		v.Tuning = tuningView(p)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return ui.TestPanel(v), nil
}

// testEventURL is the lab page with a saved event loaded into the box.
func testEventURL(lc *labCtx, id int64, note string) string {
	q := url.Values{"fn": {lc.fnName()}}
	if note != "" {
		q.Set("note", note)
	}
	return "/labs/" + url.PathEscape(lc.Lab.ID) + "/events/" + strconv.FormatInt(id, 10) + "?" + q.Encode()
}

// formatSize is a byte count for reading.
func formatSize(n int) string {
	switch {
	case n < 1000:
		return strconv.Itoa(n) + " bytes"
	case n < 1000<<10:
		return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + " KB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
}

// eventJSON checks an event the learner wrote and returns its bytes, or
// what is wrong with it in words. An empty box is {} for an invoke, as
// Lambda's runtimes take an empty payload; limit > 0 is a saved event's
// bound, and an empty one is refused then.
func eventJSON(text string, limit int) ([]byte, string) {
	if strings.TrimSpace(text) == "" {
		if limit > 0 {
			return nil, "The event is empty. Write {} for an event with nothing in it."
		}
		return []byte("{}"), ""
	}
	if limit > 0 && len(text) > limit {
		return nil, fmt.Sprintf("The event is %s; a saved event may be at most %s.", formatSize(len(text)), formatSize(limit))
	}
	b := []byte(text)
	if json.Valid(b) {
		return b, ""
	}
	var v any
	err := json.Unmarshal(b, &v)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := lineCol(text, int(syn.Offset)-1) // Offset is just past the bad byte
		return nil, fmt.Sprintf("The event is not valid JSON: %s (line %d, column %d).", syn.Error(), line, col)
	}
	return nil, "The event is not valid JSON."
}

// lineCol is where byte offset off falls in text, counting from 1.
func lineCol(text string, off int) (line, col int) {
	off = min(max(off, 0), len(text))
	before := text[:off]
	line = strings.Count(before, "\n") + 1
	col = off - strings.LastIndex(before, "\n")
	return line, col
}

// loadTestEvent shows the lab page with one of the learner's saved events
// in the event box (GET /labs/{lab}/events/{id}).
func (s *Server) loadTestEvent(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	ev, ok := s.ownTestEvent(w, r, lc, r.PathValue("id"))
	if !ok {
		return
	}
	lc.Tab = "test"
	ctx := context.WithValue(r.Context(), testPanelKey{}, testPanelExtra{loaded: &ev})
	s.renderLab(w, r.WithContext(ctx), lc, http.StatusOK, panelState{Flash: r.URL.Query().Get("note")})
}

// ownTestEvent is the learner's saved event with id rawID, for one of
// this lab's functions (and makes that function the chosen one), or a 404
// already written.
func (s *Server) ownTestEvent(w http.ResponseWriter, r *http.Request, lc *labCtx, rawID string) (store.TestEvent, bool) {
	id, err := strconv.ParseInt(rawID, 10, 64)
	if err != nil {
		s.notFoundPage(w, r)
		return store.TestEvent{}, false
	}
	ev, err := s.db.TestEvent(r.Context(), lc.User.ID, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && ev.Lab != lc.Lab.ID {
		s.notFoundPage(w, r)
		return store.TestEvent{}, false
	}
	if err != nil {
		s.serverError(w, r, err)
		return store.TestEvent{}, false
	}
	for i := range lc.Lab.Functions {
		if lc.Lab.Functions[i].Name == ev.Function {
			lc.Fn = &lc.Lab.Functions[i]
			return ev, true
		}
	}
	// A function the lab no longer has.
	s.notFoundPage(w, r)
	return store.TestEvent{}, false
}

// maxSaveForm caps the save form: a 256 KB event, form-encoded.
const maxSaveForm = 3*store.MaxTestEventBody + 16<<10

// saveTestEvent saves the event box under its name (POST
// /labs/{lab}/events): a new event, or the loaded one (event_id) changed.
func (s *Server) saveTestEvent(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.functionForm(w, r, maxSaveForm)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	body := r.PostFormValue("event")
	if !store.ValidTestEventName(name) {
		s.actionRefused(w, r, lc, "test", http.StatusUnprocessableEntity,
			fmt.Sprintf("Name the event with 1 to %d letters, digits, dots, hyphens and underscores (for example s3-put.samples).", store.MaxTestEventName))
		return
	}
	if _, problem := eventJSON(body, store.MaxTestEventBody); problem != "" {
		s.actionRefused(w, r, lc, "test", http.StatusUnprocessableEntity, problem)
		return
	}
	var ev store.TestEvent
	var err error
	if raw := r.PostFormValue("event_id"); raw != "" && raw != "0" {
		// Saving a loaded event changes it (and keeps it with its function).
		old, ok := s.ownTestEvent(w, r, lc, raw)
		if !ok {
			return
		}
		ev, err = s.db.UpdateTestEvent(r.Context(), lc.User.ID, old.ID, name, body)
	} else {
		ev, err = s.db.CreateTestEvent(r.Context(), store.TestEvent{UserID: lc.User.ID, Lab: lc.Lab.ID, Function: lc.Fn.Name, Name: name, Body: body})
	}
	switch {
	case errors.Is(err, store.ErrExists):
		s.actionRefused(w, r, lc, "test", http.StatusConflict,
			fmt.Sprintf("You already have an event named %s for %s: load it to change it, or choose another name.", name, lc.Fn.Name))
		return
	case errors.Is(err, store.ErrTestEventLimit):
		s.actionRefused(w, r, lc, "test", http.StatusConflict,
			fmt.Sprintf("%s has %d saved events, the most the Lambda console keeps for a function; delete one first.", lc.Fn.Name, store.MaxTestEvents))
		return
	case errors.Is(err, store.ErrNotFound):
		s.notFoundPage(w, r)
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, testEventURL(lc, ev.ID, "Saved the event "+ev.Name+"."), http.StatusSeeOther)
}

// deleteTestEvent deletes one of the learner's saved events (POST
// /labs/{lab}/events/{id}/delete).
func (s *Server) deleteTestEvent(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	ev, ok := s.ownTestEvent(w, r, lc, r.PathValue("id"))
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	if err := s.db.DeleteTestEvent(r.Context(), lc.User.ID, ev.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.notFoundPage(w, r)
			return
		}
		s.serverError(w, r, err)
		return
	}
	s.actionDone(w, r, lc, "test", "Deleted the event "+ev.Name+".")
}

// eventTemplate is a ready event to start from, built for the learner's
// account and the lab.
type eventTemplate struct {
	id, label string
	build     func(s *Server, ctx context.Context, lc *labCtx, now time.Time) any
}

var eventTemplates = []eventTemplate{
	{"s3-put", "S3 Put (an upload to the lab's bucket)", (*Server).s3PutEvent},
	{"apigateway-proxy", "API Gateway proxy (REST API)", func(_ *Server, _ context.Context, lc *labCtx, now time.Time) any { return apiGatewayEvent(lc, now) }},
	{"sqs", "SQS (one message)", func(_ *Server, _ context.Context, lc *labCtx, now time.Time) any { return sqsEvent(lc, now) }},
	{"schedule", "EventBridge scheduled event", func(_ *Server, _ context.Context, lc *labCtx, now time.Time) any { return scheduleEvent(lc, now) }},
	{"empty", "Empty event {}", func(*Server, context.Context, *labCtx, time.Time) any { return struct{}{} }},
}

// defaultTemplate is the event the box starts with: an upload for a lab
// with a bucket (its functions are S3-triggered), else an empty event.
func defaultTemplate(lc *labCtx) string {
	if len(lc.Lab.Resources.Buckets) > 0 {
		return "s3-put"
	}
	return "empty"
}

// templateEvent is a ready event as indented JSON.
func (s *Server) templateEvent(ctx context.Context, lc *labCtx, id string) (string, bool) {
	for _, t := range eventTemplates {
		if t.id == id {
			b, err := json.MarshalIndent(t.build(s, ctx, lc, time.Now().UTC()), "", "  ")
			if err != nil {
				return "", false
			}
			return string(b), true
		}
	}
	return "", false
}

// The S3 event document, version 2.1, fields in the order S3 writes them:
// the shape cloud/s3 sends a function for each upload (its eventJSON;
// reference/lambda-behaviour.md §13.2).
type s3Event struct {
	Records []s3Record `json:"Records"`
}

type s3Record struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      s3Principal       `json:"userIdentity"`
	RequestParameters map[string]string `json:"requestParameters"`
	ResponseElements  map[string]string `json:"responseElements"`
	S3                s3Entity          `json:"s3"`
}

type s3Principal struct {
	PrincipalID string `json:"principalId"`
}

type s3Entity struct {
	SchemaVersion   string   `json:"s3SchemaVersion"`
	ConfigurationID string   `json:"configurationId"`
	Bucket          s3Bucket `json:"bucket"`
	Object          s3Object `json:"object"`
}

type s3Bucket struct {
	Name          string      `json:"name"`
	OwnerIdentity s3Principal `json:"ownerIdentity"`
	ARN           string      `json:"arn"`
}

type s3Object struct {
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	ETag      string `json:"eTag"`
	Sequencer string `json:"sequencer"`
}

// s3PutEvent is the event S3 sends when the learner uploads the first seed
// object of the lab's first bucket: with it the function finds a real
// object to read once the lab is set up.
func (s *Server) s3PutEvent(ctx context.Context, lc *labCtx, now time.Time) any {
	bucket, key, body := "example-bucket", "uploads/example.txt", []byte("hello from lambdalab\n")
	if bs := lc.Lab.Resources.Buckets; len(bs) > 0 {
		bucket, key = bs[0].Name, "uploads/example.txt"
		for _, o := range bs[0].Objects {
			if o.Text != "" {
				key, body = o.Key, []byte(o.Text)
				break
			}
			if o.File != "" && lc.Lab.FS != nil {
				if b, err := fs.ReadFile(lc.Lab.FS, o.File); err == nil {
					key, body = o.Key, b
					break
				}
			}
		}
	}
	principal := "AWS:" + lc.Account
	if keys, err := s.db.AccountKeys(ctx, lc.Account); err == nil && len(keys) > 0 && len(keys[0].ID) > 4 {
		// What S3 names a request signed with the learner's own key.
		principal = "AWS:AIDA" + keys[0].ID[4:]
	}
	sum := md5.Sum(body)
	return s3Event{Records: []s3Record{{
		EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: cloud.Region,
		EventTime: now.Format("2006-01-02T15:04:05.000Z"), EventName: "ObjectCreated:Put",
		UserIdentity:      s3Principal{principal},
		RequestParameters: map[string]string{"sourceIPAddress": "127.0.0.1"},
		ResponseElements:  map[string]string{"x-amz-request-id": strings.ToUpper(randomHex(8)), "x-amz-id-2": base64.StdEncoding.EncodeToString(randomBytes(48))},
		S3: s3Entity{SchemaVersion: "1.0", ConfigurationID: randomUUID(),
			Bucket: s3Bucket{Name: bucket, OwnerIdentity: s3Principal{s3OwnerID(lc.Account)}, ARN: "arn:aws:s3:::" + bucket},
			Object: s3Object{Key: s3EventKey(key), Size: int64(len(body)), ETag: hex.EncodeToString(sum[:]),
				Sequencer: fmt.Sprintf("%018X", now.UnixNano())}},
	}}}
}

// s3EventKey is a key as S3 writes it into an event: form-style URL
// encoding, a space as '+', '/' kept (§13.2).
func s3EventKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// s3OwnerID is the owner id cloud/s3 gives the account's buckets in its
// events; the two must agree, so that a handler comparing them matches.
func s3OwnerID(account string) string {
	h := sha256.Sum256([]byte("s3-owner:" + account))
	return "A" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:])[:13]
}

// The API Gateway REST API proxy integration's event (payload format 1.0).
type apiGatewayProxy struct {
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	RequestContext                  apiGatewayContext   `json:"requestContext"`
	Body                            string              `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

type apiGatewayContext struct {
	AccountID        string             `json:"accountId"`
	APIID            string             `json:"apiId"`
	DomainName       string             `json:"domainName"`
	ExtendedID       string             `json:"extendedRequestId"`
	HTTPMethod       string             `json:"httpMethod"`
	Identity         apiGatewayIdentity `json:"identity"`
	Path             string             `json:"path"`
	Protocol         string             `json:"protocol"`
	RequestID        string             `json:"requestId"`
	RequestTime      string             `json:"requestTime"`
	RequestTimeEpoch int64              `json:"requestTimeEpoch"`
	ResourceID       string             `json:"resourceId"`
	ResourcePath     string             `json:"resourcePath"`
	Stage            string             `json:"stage"`
}

type apiGatewayIdentity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

func apiGatewayEvent(lc *labCtx, now time.Time) apiGatewayProxy {
	api := strings.ToLower(randomHex(5))
	host := api + ".execute-api." + cloud.Region + ".amazonaws.com"
	headers := map[string]string{
		"Accept": "application/json", "Content-Type": "application/json", "Host": host,
		"User-Agent": "curl/8.5.0", "X-Forwarded-For": "203.0.113.10", "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https",
	}
	multi := map[string][]string{}
	for k, v := range headers {
		multi[k] = []string{v}
	}
	return apiGatewayProxy{
		Resource: "/orders/{id}", Path: "/orders/42", HTTPMethod: "POST",
		Headers: headers, MultiValueHeaders: multi,
		QueryStringParameters:           map[string]string{"verbose": "true"},
		MultiValueQueryStringParameters: map[string][]string{"verbose": {"true"}},
		PathParameters:                  map[string]string{"id": "42"},
		RequestContext: apiGatewayContext{
			AccountID: lc.Account, APIID: api, DomainName: host, ExtendedID: randomHex(8), HTTPMethod: "POST",
			Identity: apiGatewayIdentity{SourceIP: "203.0.113.10", UserAgent: "curl/8.5.0"},
			Path:     "/prod/orders/42", Protocol: "HTTP/1.1", RequestID: randomUUID(),
			RequestTime: now.Format("02/Jan/2006:15:04:05 -0700"), RequestTimeEpoch: now.UnixMilli(),
			ResourceID: strings.ToLower(randomHex(3)), ResourcePath: "/orders/{id}", Stage: "prod",
		},
		Body: `{"item": "notebook", "quantity": 2}`,
	}
}

// The SQS event: a batch of messages, here one.
type sqsBatch struct {
	Records []sqsMessage `json:"Records"`
}

type sqsMessage struct {
	MessageID         string            `json:"messageId"`
	ReceiptHandle     string            `json:"receiptHandle"`
	Body              string            `json:"body"`
	Attributes        map[string]string `json:"attributes"`
	MessageAttributes map[string]any    `json:"messageAttributes"`
	MD5OfBody         string            `json:"md5OfBody"`
	EventSource       string            `json:"eventSource"`
	EventSourceARN    string            `json:"eventSourceARN"`
	AWSRegion         string            `json:"awsRegion"`
}

func sqsEvent(lc *labCtx, now time.Time) sqsBatch {
	body := "Hello from SQS!"
	sum := md5.Sum([]byte(body))
	sent := strconv.FormatInt(now.UnixMilli(), 10)
	return sqsBatch{Records: []sqsMessage{{
		MessageID: randomUUID(), ReceiptHandle: "AQEB" + base64.StdEncoding.EncodeToString(randomBytes(60)), Body: body,
		Attributes: map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": sent,
			"SenderId": "AIDA" + strings.ToUpper(randomHex(8)), "ApproximateFirstReceiveTimestamp": sent},
		MessageAttributes: map[string]any{}, MD5OfBody: hex.EncodeToString(sum[:]), EventSource: "aws:sqs",
		EventSourceARN: "arn:aws:sqs:" + cloud.Region + ":" + lc.Account + ":" + lc.Lab.ID + "-queue", AWSRegion: cloud.Region,
	}}}
}

// The event an EventBridge schedule sends.
type scheduledEvent struct {
	Version    string         `json:"version"`
	ID         string         `json:"id"`
	DetailType string         `json:"detail-type"`
	Source     string         `json:"source"`
	Account    string         `json:"account"`
	Time       string         `json:"time"`
	Region     string         `json:"region"`
	Resources  []string       `json:"resources"`
	Detail     map[string]any `json:"detail"`
}

func scheduleEvent(lc *labCtx, now time.Time) scheduledEvent {
	return scheduledEvent{Version: "0", ID: randomUUID(), DetailType: "Scheduled Event", Source: "aws.events",
		Account: lc.Account, Time: now.Truncate(time.Minute).Format("2006-01-02T15:04:05Z"), Region: cloud.Region,
		Resources: []string{"arn:aws:events:" + cloud.Region + ":" + lc.Account + ":rule/" + lc.Lab.ID + "-every-hour"},
		Detail:    map[string]any{}}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomUUID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
