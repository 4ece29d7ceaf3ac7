package xray

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"lambdalab/cloud"
	"lambdalab/store"
)

// Request body caps: PutTraceSegments takes documents of up to 64 KB each;
// the reads take ids and a filter.
const (
	maxPutRequest  = 16 << 20
	maxReadRequest = 1 << 20
	// maxBatchGet is how many trace ids one BatchGetTraces takes (X-Ray's
	// limit is 5 per page; the CLI sends what it is given).
	maxBatchGet = 100
)

// Handler serves X-Ray's REST API (restJson1, service name "xray") for
// callers the endpoint has already authenticated (cloud.PrincipalFrom):
// GetTraceSummaries (POST /TraceSummaries), BatchGetTraces (POST /Traces),
// PutTraceSegments (POST /TraceSegments) and PutTelemetryRecords (POST
// /TelemetryRecords, accepted and ignored). Field names follow the AWS SDK
// for Go v2's xray model.
func (s *Service) Handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /TraceSummaries", s.getTraceSummaries)
	m.HandleFunc("POST /Traces", s.batchGetTraces)
	m.HandleFunc("POST /TraceSegments", s.putTraceSegments)
	m.HandleFunc("POST /TelemetryRecords", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, struct{}{}) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := cloud.PrincipalFrom(r.Context()); !ok {
			writeError(w, 403, "AccessDeniedException", "the request carries no verified caller")
			return
		}
		if _, pattern := m.Handler(r); pattern == "" {
			writeError(w, 400, "InvalidRequestException", fmt.Sprintf("lambdalab does not implement the X-Ray operation at %s %s", r.Method, r.URL.Path))
			return
		}
		m.ServeHTTP(w, r)
	})
}

func account(r *http.Request) string {
	p, _ := cloud.PrincipalFrom(r.Context())
	return p.AccountID
}

// writeError answers in X-Ray's error shape: the code in X-Amzn-ErrorType
// and {"Message": …}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	writeJSON(w, status, map[string]string{"Message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Service) serverError(w http.ResponseWriter, r *http.Request, err error) {
	ref := NewID()[:8]
	s.logger.ErrorContext(r.Context(), "x-ray api", "op", r.URL.Path, "ref", ref, "err", err)
	writeError(w, 500, "InternalFailure", "lambdalab failed to handle this request (ref "+ref+")")
}

// readJSON decodes a body of at most limit bytes; false when it answered.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeError(w, 400, "InvalidRequestException", "could not read the request body")
		return false
	}
	if int64(len(body)) > limit {
		writeError(w, 413, "InvalidRequestException", fmt.Sprintf("request body over %d bytes", limit))
		return false
	}
	if len(body) == 0 {
		return true
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, 400, "InvalidRequestException", "could not parse the request body: "+err.Error())
		return false
	}
	return true
}

// epochTime reads restJson's timestamps: epoch seconds as a number.
func epochTime(f *float64) time.Time {
	if f == nil || math.IsNaN(*f) || math.IsInf(*f, 0) {
		return time.Time{}
	}
	return seconds(*f)
}

type getTraceSummariesInput struct {
	StartTime        *float64
	EndTime          *float64
	FilterExpression string
	NextToken        string
	TimeRangeType    string
	Sampling         bool
}

type serviceIDOut struct {
	Name      string
	Names     []string
	AccountId string
	Type      string `json:",omitempty"`
}

type annotationValueOut struct {
	StringValue  *string  `json:",omitempty"`
	NumberValue  *float64 `json:",omitempty"`
	BooleanValue *bool    `json:",omitempty"`
}

type valueWithServiceIDs struct {
	AnnotationValue annotationValueOut
	ServiceIds      []serviceIDOut
}

type httpOut struct {
	HttpURL    string `json:",omitempty"`
	HttpStatus int    `json:",omitempty"`
	HttpMethod string `json:",omitempty"`
}

type traceSummaryOut struct {
	Id           string
	StartTime    float64
	Duration     float64
	ResponseTime float64
	HasFault     bool
	HasError     bool
	HasThrottle  bool
	IsPartial    bool
	Http         httpOut
	Annotations  map[string][]valueWithServiceIDs
	Users        []struct{}
	ServiceIds   []serviceIDOut
	EntryPoint   *serviceIDOut `json:",omitempty"`
	Revision     int
}

func serviceOut(id ServiceID) serviceIDOut {
	return serviceIDOut{Name: id.Name, Names: []string{id.Name}, AccountId: id.AccountID, Type: id.Type}
}

func (s *Service) getTraceSummaries(w http.ResponseWriter, r *http.Request) {
	var in getTraceSummariesInput
	if !readJSON(w, r, maxReadRequest, &in) {
		return
	}
	if in.StartTime == nil || in.EndTime == nil {
		writeError(w, 400, "InvalidRequestException", "StartTime and EndTime are required")
		return
	}
	from, to := epochTime(in.StartTime), epochTime(in.EndTime)
	if to.Before(from) {
		writeError(w, 400, "InvalidRequestException", "EndTime is before StartTime")
		return
	}
	sums, err := s.Traces(r.Context(), account(r), from, to, in.FilterExpression)
	if errors.Is(err, ErrInvalidFilter) {
		writeError(w, 400, "InvalidRequestException", err.Error())
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out := make([]traceSummaryOut, 0, len(sums))
	for _, sum := range sums {
		t := traceSummaryOut{
			Id: sum.ID, StartTime: epoch(sum.Start), Duration: sum.Duration.Seconds(), ResponseTime: sum.ResponseTime.Seconds(),
			HasFault: sum.HasFault, HasError: sum.HasError, HasThrottle: sum.HasThrottle, IsPartial: sum.IsPartial,
			Http:        httpOut{HttpURL: sum.HTTPURL, HttpStatus: sum.HTTPStatus, HttpMethod: sum.HTTPMethod},
			Annotations: map[string][]valueWithServiceIDs{}, Users: []struct{}{}, ServiceIds: []serviceIDOut{}, Revision: sum.Segments,
		}
		for _, id := range sum.Services {
			t.ServiceIds = append(t.ServiceIds, serviceOut(id))
		}
		if sum.EntryPoint != nil {
			ep := serviceOut(*sum.EntryPoint)
			t.EntryPoint = &ep
		}
		for k, vs := range sum.Annotations {
			for _, v := range vs {
				var av annotationValueOut
				switch v := v.(type) {
				case string:
					av.StringValue = &v
				case float64:
					av.NumberValue = &v
				case bool:
					av.BooleanValue = &v
				}
				t.Annotations[k] = append(t.Annotations[k], valueWithServiceIDs{AnnotationValue: av, ServiceIds: t.ServiceIds})
			}
		}
		out = append(out, t)
	}
	writeJSON(w, 200, map[string]any{
		"TraceSummaries":       out,
		"ApproximateTime":      epoch(time.Now()),
		"TracesProcessedCount": len(out),
	})
}

type segmentOut struct {
	Id       string
	Document string
}

type traceOut struct {
	Id            string
	Duration      float64
	LimitExceeded bool
	Segments      []segmentOut
}

func (s *Service) batchGetTraces(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TraceIds  []string
		NextToken string
	}
	if !readJSON(w, r, maxReadRequest, &in) {
		return
	}
	if len(in.TraceIds) == 0 {
		writeError(w, 400, "InvalidRequestException", "TraceIds is required")
		return
	}
	if len(in.TraceIds) > maxBatchGet {
		writeError(w, 400, "InvalidRequestException", fmt.Sprintf("at most %d TraceIds per request", maxBatchGet))
		return
	}
	traces := []traceOut{}
	unprocessed := []string{}
	for _, id := range in.TraceIds {
		t, err := s.Trace(r.Context(), account(r), id)
		if errors.Is(err, store.ErrNotFound) {
			unprocessed = append(unprocessed, id)
			continue
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		to := traceOut{Id: t.ID, Duration: t.Duration.Seconds(), Segments: []segmentOut{}}
		for _, n := range t.Segments {
			to.Segments = append(to.Segments, segmentOut{Id: n.ID, Document: string(n.Document())})
		}
		traces = append(traces, to)
	}
	writeJSON(w, 200, map[string]any{"Traces": traces, "UnprocessedTraceIds": unprocessed})
}

type unprocessedSegment struct {
	Id        string `json:",omitempty"`
	ErrorCode string
	Message   string
}

func (s *Service) putTraceSegments(w http.ResponseWriter, r *http.Request) {
	var in struct{ TraceSegmentDocuments []string }
	if !readJSON(w, r, maxPutRequest, &in) {
		return
	}
	if len(in.TraceSegmentDocuments) == 0 {
		writeError(w, 400, "InvalidRequestException", "TraceSegmentDocuments is required")
		return
	}
	unprocessed := []unprocessedSegment{}
	for _, doc := range in.TraceSegmentDocuments {
		err := s.PutDocument(r.Context(), account(r), []byte(doc))
		if err == nil {
			continue
		}
		var head struct {
			ID string `json:"id"`
		}
		json.Unmarshal([]byte(doc), &head)
		code := "InvalidSegment"
		if !errors.Is(err, ErrInvalidDocument) {
			code = "ServiceUnavailable"
		}
		unprocessed = append(unprocessed, unprocessedSegment{Id: head.ID, ErrorCode: code, Message: err.Error()})
	}
	writeJSON(w, 200, map[string]any{"UnprocessedTraceSegments": unprocessed})
}
