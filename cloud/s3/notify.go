package s3

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"lambdalab/cloud"
	"lambdalab/store"
)

// notificationConfig is a bucket's NotificationConfiguration as the S3 API
// sends it: a Lambda target is a CloudFunctionConfiguration naming its
// CloudFunction (the SDKs' LambdaFunctionConfigurations).
type notificationConfig struct {
	XMLName     xml.Name       `xml:"NotificationConfiguration" json:"-"`
	Xmlns       string         `xml:"xmlns,attr,omitempty" json:"-"`
	Lambdas     []lambdaConfig `xml:"CloudFunctionConfiguration" json:"lambdas"`
	Topics      []otherConfig  `xml:"TopicConfiguration" json:"-"`
	Queues      []otherConfig  `xml:"QueueConfiguration" json:"-"`
	EventBridge *struct{}      `xml:"EventBridgeConfiguration" json:"-"`
}

type lambdaConfig struct {
	ID       string   `xml:"Id" json:"id"`
	Function string   `xml:"CloudFunction" json:"function"`
	Events   []string `xml:"Event" json:"events"`
	Filter   *filter  `xml:"Filter,omitempty" json:"filter,omitempty"`
}

type otherConfig struct {
	Topic string `xml:"Topic"`
	Queue string `xml:"Queue"`
}

type filter struct {
	Rules []filterRule `xml:"S3Key>FilterRule" json:"rules"`
}

type filterRule struct {
	Name  string `xml:"Name" json:"name"`
	Value string `xml:"Value" json:"value"`
}

// affixes returns the filter's prefix and suffix rules.
func (c lambdaConfig) affixes() (prefix, suffix string) {
	if c.Filter == nil {
		return "", ""
	}
	for _, r := range c.Filter.Rules {
		switch strings.ToLower(r.Name) {
		case "prefix":
			prefix = r.Value
		case "suffix":
			suffix = r.Value
		}
	}
	return prefix, suffix
}

// eventTypes are the event types S3 accepts in a configuration. lambdalab
// emits ObjectCreated:Put, :Copy, :CompleteMultipartUpload and
// ObjectRemoved:Delete; the others are accepted, as S3 accepts them, and
// never happen here.
var eventTypes = map[string]bool{
	"s3:ObjectCreated:*": true, "s3:ObjectCreated:Put": true, "s3:ObjectCreated:Post": true,
	"s3:ObjectCreated:Copy": true, "s3:ObjectCreated:CompleteMultipartUpload": true,
	"s3:ObjectRemoved:*": true, "s3:ObjectRemoved:Delete": true, "s3:ObjectRemoved:DeleteMarkerCreated": true,
	"s3:ObjectRestore:*": true, "s3:ObjectRestore:Post": true, "s3:ObjectRestore:Completed": true, "s3:ObjectRestore:Delete": true,
	"s3:ReducedRedundancyLostObject": true, "s3:Replication:*": true,
	"s3:LifecycleExpiration:*": true, "s3:LifecycleExpiration:Delete": true, "s3:LifecycleExpiration:DeleteMarkerCreated": true,
	"s3:LifecycleTransition": true, "s3:IntelligentTiering": true,
	"s3:ObjectTagging:*": true, "s3:ObjectTagging:Put": true, "s3:ObjectTagging:Delete": true, "s3:ObjectAcl:Put": true,
}

// matches reports whether configured event type pattern (s3:ObjectCreated:*)
// covers event (ObjectCreated:Put).
func matches(pattern, event string) bool {
	pattern = strings.TrimPrefix(pattern, "s3:")
	if base, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(event, base)
	}
	return pattern == event
}

// overlap reports whether two event type patterns can both match one event.
func overlap(a, b string) bool {
	a, b = strings.TrimPrefix(a, "s3:"), strings.TrimPrefix(b, "s3:")
	ab, aw := strings.CutSuffix(a, "*")
	bb, bw := strings.CutSuffix(b, "*")
	switch {
	case aw && bw:
		return strings.HasPrefix(ab, bb) || strings.HasPrefix(bb, ab)
	case aw:
		return strings.HasPrefix(b, ab)
	case bw:
		return strings.HasPrefix(a, bb)
	}
	return a == b
}

// notification serves ?notification on a bucket.
func (s *Service) notification(w http.ResponseWriter, r *http.Request, account, bucket string) {
	ctx := r.Context()
	b, err := s.db.S3Bucket(ctx, account, bucket)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	if err != nil {
		s.logger.ErrorContext(ctx, "s3 read bucket", "err", err)
		writeError(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	switch r.Method {
	case http.MethodGet:
		var cfg notificationConfig
		if b.Notification != nil {
			if err := json.Unmarshal(b.Notification, &cfg); err != nil {
				s.logger.ErrorContext(ctx, "s3 decode notification", "bucket", bucket, "err", err)
			}
		}
		cfg.Xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"
		w.Header().Set("x-amz-request-id", newRequestID())
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, xml.Header)
		xml.NewEncoder(w).Encode(cfg)
	case http.MethodPut:
		doc, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "IncompleteBody", "The request body could not be read.")
			return
		}
		cfg, failures, err := s.checkNotification(ctx, account, bucket, doc)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, errorCodeOf(err), err.Error())
			return
		}
		if len(failures) > 0 {
			writeDestinationError(w, failures)
			return
		}
		var stored []byte
		if len(cfg.Lambdas) > 0 {
			stored, _ = json.Marshal(cfg)
		}
		if err := s.db.SetS3Notification(ctx, account, bucket, stored); err != nil {
			s.logger.ErrorContext(ctx, "s3 store notification", "bucket", bucket, "err", err)
			writeError(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
			return
		}
		w.Header().Set("x-amz-request-id", newRequestID())
		w.WriteHeader(http.StatusOK)
	default:
		writeError(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

// codedError is a refusal with an S3 error code.
type codedError struct{ code, msg string }

func (e *codedError) Error() string { return e.msg }

func errorCodeOf(err error) string {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	return "InvalidArgument"
}

// destinationFailure is a target S3 could not validate.
type destinationFailure struct{ arn, why string }

// checkNotification parses and validates a configuration as S3 does: known
// event types, at most one prefix and one suffix rule, no two
// configurations that could both match one event, and every function
// existing with a policy that lets this bucket invoke it.
func (s *Service) checkNotification(ctx context.Context, account, bucket string, doc []byte) (notificationConfig, []destinationFailure, error) {
	var cfg notificationConfig
	if err := xml.Unmarshal(doc, &cfg); err != nil {
		return cfg, nil, &codedError{"MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"}
	}
	var failures []destinationFailure
	for _, t := range cfg.Topics {
		failures = append(failures, destinationFailure{t.Topic, "lambdalab emulates no SNS topics; notify a Lambda function"})
	}
	for _, q := range cfg.Queues {
		failures = append(failures, destinationFailure{q.Queue, "lambdalab emulates no SQS queues; notify a Lambda function"})
	}
	if cfg.EventBridge != nil {
		return cfg, nil, &codedError{"NotImplemented", "lambdalab does not emulate EventBridge notifications"}
	}
	ids := map[string]bool{}
	for i := range cfg.Lambdas {
		c := &cfg.Lambdas[i]
		if c.ID == "" {
			c.ID = newConfigID()
		}
		if ids[c.ID] {
			return cfg, nil, &codedError{"InvalidArgument", "Configuration Id must be unique: " + c.ID}
		}
		ids[c.ID] = true
		if len(c.Events) == 0 {
			return cfg, nil, &codedError{"InvalidArgument", "A notification configuration needs at least one event"}
		}
		for _, e := range c.Events {
			if !eventTypes[e] {
				return cfg, nil, &codedError{"InvalidArgument", "The event is not supported for notifications: " + e}
			}
		}
		if c.Filter != nil {
			seen := map[string]bool{}
			for _, r := range c.Filter.Rules {
				name := strings.ToLower(r.Name)
				if name != "prefix" && name != "suffix" {
					return cfg, nil, &codedError{"InvalidArgument", "filter rule name must be either prefix or suffix"}
				}
				if seen[name] {
					return cfg, nil, &codedError{"InvalidArgument", "Cannot specify more than one " + name + " rule in a filter."}
				}
				seen[name] = true
			}
		}
	}
	for i, a := range cfg.Lambdas {
		for _, b := range cfg.Lambdas[i+1:] {
			if configsOverlap(a, b) {
				return cfg, nil, &codedError{"InvalidArgument", "Configurations overlap. Configurations on the same bucket cannot share a common event type."}
			}
		}
	}
	for _, c := range cfg.Lambdas {
		ok := false
		if s.cfg.Functions != nil && functionInAccount(c.Function, account) {
			var err error
			ok, err = s.cfg.Functions.ServiceAllowed(ctx, account, c.Function, "s3.amazonaws.com", "arn:aws:s3:::"+bucket, account)
			if err != nil {
				s.logger.ErrorContext(ctx, "s3 check notification target", "function", c.Function, "err", err)
				ok = false
			}
		}
		if !ok {
			failures = append(failures, destinationFailure{c.Function, "Not authorized to invoke function [" + c.Function + "]"})
		}
	}
	return cfg, failures, nil
}

// functionInAccount reports whether arn names a function (or a version or
// alias of one) in the account, in lambdalab's region.
func functionInAccount(arn, account string) bool {
	parts := strings.Split(arn, ":")
	return (len(parts) == 7 || len(parts) == 8) && parts[0] == "arn" && parts[1] == "aws" && parts[2] == "lambda" &&
		parts[3] == cloud.Region && parts[4] == account && parts[5] == "function" && parts[6] != ""
}

func configsOverlap(a, b lambdaConfig) bool {
	events := false
	for _, x := range a.Events {
		for _, y := range b.Events {
			events = events || overlap(x, y)
		}
	}
	if !events {
		return false
	}
	ap, as := a.affixes()
	bp, bs := b.affixes()
	prefixes := strings.HasPrefix(ap, bp) || strings.HasPrefix(bp, ap)
	suffixes := strings.HasSuffix(as, bs) || strings.HasSuffix(bs, as)
	return prefixes && suffixes
}

func newConfigID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// writeDestinationError is S3's answer to targets it cannot validate:
// InvalidArgument with a numbered ArgumentName/ArgumentValue pair each.
func writeDestinationError(w http.ResponseWriter, failures []destinationFailure) {
	id := newRequestID()
	w.Header().Set("x-amz-request-id", id)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusBadRequest)
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<Error><Code>InvalidArgument</Code><Message>Unable to validate the following destination configurations</Message>")
	for i, f := range failures {
		fmt.Fprintf(&b, "<ArgumentName%d>%s</ArgumentName%d><ArgumentValue%d>%s</ArgumentValue%d>",
			i+1, xmlEscape(f.arn), i+1, i+1, xmlEscape(f.why), i+1)
	}
	b.WriteString("<RequestId>" + id + "</RequestId></Error>")
	io.WriteString(w, b.String())
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// objectEvent is a write the backend committed, for notifications.
type objectEvent struct {
	bucket, key string
	size        int64
	etag        string
	deleted     bool
}

// eventKind names the event of a successful write request, without "s3:".
func eventKind(r *http.Request, q url.Values) string {
	switch {
	case r.Method == http.MethodDelete || r.Method == http.MethodPost && has(q, "delete"):
		return "ObjectRemoved:Delete"
	case r.Method == http.MethodPost && has(q, "uploadId"):
		return "ObjectCreated:CompleteMultipartUpload"
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		return "ObjectCreated:Copy"
	}
	return "ObjectCreated:Put"
}

// Event JSON, version 2.1 (reference/lambda-behaviour.md §13.2), fields in
// S3's order.
type eventRecord struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      principalID       `json:"userIdentity"`
	RequestParameters requestParameters `json:"requestParameters"`
	ResponseElements  responseElements  `json:"responseElements"`
	S3                eventS3           `json:"s3"`
}

type principalID struct {
	PrincipalID string `json:"principalId"`
}

type requestParameters struct {
	SourceIPAddress string `json:"sourceIPAddress"`
}

type responseElements struct {
	RequestID string `json:"x-amz-request-id"`
	ID2       string `json:"x-amz-id-2"`
}

type eventS3 struct {
	SchemaVersion   string      `json:"s3SchemaVersion"`
	ConfigurationID string      `json:"configurationId"`
	Bucket          eventBucket `json:"bucket"`
	Object          eventObject `json:"object"`
}

type eventBucket struct {
	Name          string      `json:"name"`
	OwnerIdentity principalID `json:"ownerIdentity"`
	ARN           string      `json:"arn"`
}

// eventObject: size and eTag are left out of removal events, as S3 does.
type eventObject struct {
	Key       string `json:"key"`
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer"`
}

// eventInfo is what an event says about the request beyond the object.
type eventInfo struct {
	name      string
	time      string
	principal string
	sourceIP  string
	requestID string
	id2       string
}

func (s *Service) emit(ctx context.Context, r *http.Request, h http.Header, st *request, kind string) {
	b, err := s.db.S3Bucket(ctx, st.principal.AccountID, st.events[0].bucket)
	if err != nil || b.Notification == nil {
		return
	}
	var cfg notificationConfig
	if err := json.Unmarshal(b.Notification, &cfg); err != nil {
		s.logger.ErrorContext(ctx, "s3 decode notification", "bucket", b.Name, "err", err)
		return
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	info := eventInfo{
		name:      kind,
		time:      s.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		principal: principalOf(st.principal),
		sourceIP:  ip,
		requestID: h.Get("x-amz-request-id"),
		id2:       h.Get("x-amz-id-2"),
	}
	account := st.principal.AccountID
	for _, ev := range st.events {
		seq := s.seq.Add(1)
		for _, c := range cfg.Lambdas {
			pre, suf := c.affixes()
			if !strings.HasPrefix(ev.key, pre) || !strings.HasSuffix(ev.key, suf) {
				continue
			}
			hit := false
			for _, e := range c.Events {
				hit = hit || matches(e, kind)
			}
			if !hit {
				continue
			}
			doc := eventJSON(info, c.ID, account, ev, seq)
			if s.cfg.Notifier == nil {
				continue
			}
			if err := s.cfg.Notifier.Notify(ctx, account, c.Function, doc); err != nil {
				s.logger.WarnContext(ctx, "s3 event not delivered", "bucket", ev.bucket, "function", c.Function, "err", err)
			}
		}
	}
}

// eventJSON renders the one-record event S3 sends for ev.
func eventJSON(info eventInfo, configID, account string, ev objectEvent, seq uint64) []byte {
	obj := eventObject{Key: eventKey(ev.key), Sequencer: fmt.Sprintf("%018X", seq)}
	if !ev.deleted {
		size := ev.size
		obj.Size, obj.ETag = &size, ev.etag
	}
	rec := eventRecord{
		EventVersion:      "2.1",
		EventSource:       "aws:s3",
		AWSRegion:         cloud.Region,
		EventTime:         info.time,
		EventName:         info.name,
		UserIdentity:      principalID{info.principal},
		RequestParameters: requestParameters{info.sourceIP},
		ResponseElements:  responseElements{info.requestID, info.id2},
		S3: eventS3{
			SchemaVersion:   "1.0",
			ConfigurationID: configID,
			Bucket:          eventBucket{Name: ev.bucket, OwnerIdentity: principalID{ownerID(account)}, ARN: "arn:aws:s3:::" + ev.bucket},
			Object:          obj,
		},
	}
	doc, _ := json.Marshal(struct {
		Records []eventRecord `json:"Records"`
	}{[]eventRecord{rec}})
	return doc
}

// eventKey is the key as S3 puts it in an event: URL-encoded form style, a
// space as '+', other reserved and non-ASCII bytes percent-encoded, '/'
// kept (red flower.jpg → red+flower.jpg, §13.2).
func eventKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ownerID is the account's canonical-looking owner id ("A3I5XTEXAMAI3E").
func ownerID(account string) string {
	h := sha256.Sum256([]byte("s3-owner:" + account))
	return "A" + idEncoding.EncodeToString(h[:])[:13]
}

// principalOf is the requester as an event names it: an IAM-user-like id
// for a signed request, the role session of a function for a call from
// inside one (AWS:AROA…:function).
func principalOf(p cloud.Principal) string {
	if p.Function != "" {
		h := sha256.Sum256([]byte("role:" + p.AccountID + ":" + p.Function))
		return "AWS:AROA" + idEncoding.EncodeToString(h[:])[:17] + ":" + p.Function
	}
	if len(p.AccessKeyID) > 4 {
		return "AWS:AIDA" + p.AccessKeyID[4:]
	}
	return "AWS:" + p.AccountID
}
