package xray

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"lambdalab/store"
)

// Trace is one trace assembled from the documents stored for it.
type Trace struct {
	ID string
	// Start is the earliest start and End the latest end of its entities.
	Start, End time.Time
	Duration   time.Duration
	// HasError, HasFault and HasThrottle are set when any entity has the
	// flag; IsPartial when any is still in progress.
	HasError, HasFault, HasThrottle, IsPartial bool
	// Segments are the trace's segments, each with its subsegment tree,
	// earliest first. A subsegment sent on its own whose parent is not in
	// the trace (not arrived yet, or never) is here too, with Orphan set,
	// so nothing received is hidden.
	Segments []*Node
}

// Node is one entity of a trace and the subsegments under it.
type Node struct {
	// Entity is the entity as received, without Subsegments: its children,
	// embedded or sent on their own, are in Children.
	Entity
	// Start and End are StartTime and EndTime as times; End is zero while
	// the entity is in progress, and so is Duration.
	Start, End time.Time
	Duration   time.Duration
	// Segment is set for a segment, clear for a subsegment.
	Segment bool
	// Orphan marks a subsegment kept at the top because its parent_id names
	// no entity of the trace.
	Orphan   bool
	Children []*Node // earliest first
}

// Document is the node as one segment document with its whole subtree
// embedded, as X-Ray's BatchGetTraces returns it.
func (n *Node) Document() []byte { return mustJSON(n.entity()) }

func (n *Node) entity() *Entity {
	e := n.Entity
	e.Subsegments = nil
	for _, c := range n.Children {
		ce := c.entity()
		ce.Type, ce.TraceID = "", "" // implied by the embedding
		ce.ParentID = ""
		e.Subsegments = append(e.Subsegments, ce)
	}
	return &e
}

// Trace reads one of an account's traces; store.ErrNotFound when the
// account has no trace of that id.
func (s *Service) Trace(ctx context.Context, account, traceID string) (*Trace, error) {
	rows, err := s.db.XRaySegments(ctx, account, []string{traceID}, true)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("trace %s: %w", traceID, store.ErrNotFound)
	}
	return assemble(traceID, rows), nil
}

// assemble builds a trace's tree from its documents, in any order.
func assemble(traceID string, rows []store.XRaySegment) *Trace {
	t := &Trace{ID: traceID}
	byID := map[string]*Node{}
	parent := map[*Node]*Node{}
	type top struct {
		n           *Node
		independent bool
	}
	var docs []top
	var build func(e *Entity, segment bool) *Node
	build = func(e *Entity, segment bool) *Node {
		n := &Node{Entity: *e, Segment: segment, Start: seconds(e.StartTime), End: seconds(e.EndTime)}
		n.Subsegments = nil
		if !n.End.IsZero() && n.End.After(n.Start) {
			n.Duration = n.End.Sub(n.Start)
		}
		byID[n.ID] = n
		for _, c := range e.Subsegments {
			cn := build(c, false)
			parent[cn] = n
			n.Children = append(n.Children, cn)
		}
		return n
	}
	for _, r := range rows {
		e, err := ParseDocument(r.Doc)
		if err != nil {
			continue // stored documents were checked; a newer rule may refuse an old one
		}
		e.walk(func(x *Entity) {
			t.HasError = t.HasError || x.Error
			t.HasFault = t.HasFault || x.Fault
			t.HasThrottle = t.HasThrottle || x.Throttle
			t.IsPartial = t.IsPartial || x.InProgress
			if st := seconds(x.StartTime); t.Start.IsZero() || st.Before(t.Start) {
				t.Start = st
			}
			if en := seconds(x.EndTime); en.After(t.End) {
				t.End = en
			}
		})
		independent := e.Type == "subsegment"
		docs = append(docs, top{build(e, !independent), independent})
	}
	// descends reports whether a is p or above it: hanging a under p would
	// make a cycle.
	descends := func(a, p *Node) bool {
		for i := 0; p != nil && i <= len(byID); i++ {
			if p == a {
				return true
			}
			p = parent[p]
		}
		return p != nil
	}
	for _, d := range docs {
		n := d.n
		if !d.independent {
			t.Segments = append(t.Segments, n)
			continue
		}
		p := byID[n.ParentID]
		if p == nil || descends(n, p) {
			n.Orphan = true
			t.Segments = append(t.Segments, n)
			continue
		}
		parent[n] = p
		p.Children = append(p.Children, n)
	}
	byStart := func(a, b *Node) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	}
	var sortAll func(ns []*Node)
	sortAll = func(ns []*Node) {
		slices.SortStableFunc(ns, byStart)
		for _, n := range ns {
			sortAll(n.Children)
		}
	}
	sortAll(t.Segments)
	if t.End.After(t.Start) {
		t.Duration = t.End.Sub(t.Start)
	}
	return t
}

// ServiceID names a service node of a trace: a segment's name and origin.
type ServiceID struct {
	Name      string
	Type      string // the segment's origin, "" when it has none
	AccountID string
}

// TraceSummary is what a trace list shows of one trace, as X-Ray's
// GetTraceSummaries does.
type TraceSummary struct {
	ID    string
	Start time.Time
	// Duration spans the whole trace; ResponseTime is its entry segment's
	// (zero while that is in progress).
	Duration, ResponseTime                     time.Duration
	HasError, HasFault, HasThrottle, IsPartial bool
	// HTTP is the entry segment's request and response, if it recorded them.
	HTTPMethod, HTTPURL string
	HTTPStatus          int
	// Annotations has every annotation of the trace with its distinct values.
	Annotations map[string][]any
	// Services are the trace's segments' services; EntryPoint is the first.
	Services   []ServiceID
	EntryPoint *ServiceID
	Segments   int // documents stored
}

// MaxSummaries caps one Traces call.
const MaxSummaries = 1000

// Traces lists an account's traces that started in [from, to], newest
// first, that match filter (an X-Ray filter expression, see ParseFilter;
// "" matches all). A malformed filter is an error wrapping
// ErrInvalidFilter.
func (s *Service) Traces(ctx context.Context, account string, from, to time.Time, filter string) ([]TraceSummary, error) {
	match, err := ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	traces, err := s.db.XRayTraces(ctx, account, from, to, MaxSummaries)
	if err != nil {
		return nil, err
	}
	if len(traces) == 0 {
		return nil, nil
	}
	ids := make([]string, len(traces))
	for i, t := range traces {
		ids[i] = t.TraceID
	}
	rows, err := s.db.XRaySegments(ctx, account, ids, false)
	if err != nil {
		return nil, err
	}
	byTrace := map[string][]store.XRaySegment{}
	for _, r := range rows {
		byTrace[r.TraceID] = append(byTrace[r.TraceID], r)
	}
	var out []TraceSummary
	for _, t := range traces {
		sum := summarize(account, t, byTrace[t.TraceID])
		if match(&sum) {
			out = append(out, sum)
		}
	}
	return out, nil
}

// summarize computes a trace's summary from its rows, without documents.
func summarize(account string, t store.XRayTrace, rows []store.XRaySegment) TraceSummary {
	sum := TraceSummary{ID: t.TraceID, Start: t.Start, Segments: t.Segments}
	if t.End.After(t.Start) {
		sum.Duration = t.End.Sub(t.Start)
	}
	ids := make(map[string]bool, len(rows))
	for _, r := range rows {
		ids[r.ID] = true
	}
	var entry *store.XRaySegment
	seen := map[ServiceID]bool{}
	for i := range rows {
		r := &rows[i]
		sum.HasError = sum.HasError || r.Error
		sum.HasFault = sum.HasFault || r.Fault
		sum.HasThrottle = sum.HasThrottle || r.Throttle
		sum.IsPartial = sum.IsPartial || r.InProgress
		if r.Annotations != "" {
			var ann map[string]any
			if json.Unmarshal([]byte(r.Annotations), &ann) == nil {
				for k, v := range ann {
					if sum.Annotations == nil {
						sum.Annotations = map[string][]any{}
					}
					if !slices.Contains(sum.Annotations[k], v) {
						sum.Annotations[k] = append(sum.Annotations[k], v)
					}
				}
			}
		}
		if r.Subsegment {
			continue
		}
		sid := ServiceID{Name: r.Name, Type: r.Origin, AccountID: account}
		if !seen[sid] {
			seen[sid] = true
			sum.Services = append(sum.Services, sid)
		}
		if (r.ParentID == "" || !ids[r.ParentID]) && (entry == nil || r.Start.Before(entry.Start)) {
			entry = r
		}
	}
	if entry != nil {
		sid := ServiceID{Name: entry.Name, Type: entry.Origin, AccountID: account}
		sum.EntryPoint = &sid
		if !entry.InProgress && entry.End.After(entry.Start) {
			sum.ResponseTime = entry.End.Sub(entry.Start)
		}
		sum.HTTPMethod, sum.HTTPURL, sum.HTTPStatus = entry.HTTPMethod, entry.HTTPURL, entry.HTTPStatus
	}
	return sum
}
