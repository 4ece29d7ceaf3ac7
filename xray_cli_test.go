package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// xrayDoc is a segment document as batch-get-traces returns it, its
// subsegments embedded.
type xrayDoc struct {
	ID          string         `json:"id"`
	TraceID     string         `json:"trace_id"`
	ParentID    string         `json:"parent_id"`
	Name        string         `json:"name"`
	Origin      string         `json:"origin"`
	Namespace   string         `json:"namespace"`
	Annotations map[string]any `json:"annotations"`
	AWS         map[string]any `json:"aws"`
	Subsegments []*xrayDoc     `json:"subsegments"`
}

// child is the first direct subsegment named name (in any case: the
// Python SDK 0.95 names a boto3 call's subsegment after the endpoint
// prefix, "s3", where newer SDKs write "S3"), or nil.
func (d *xrayDoc) child(name string) *xrayDoc {
	for _, s := range d.Subsegments {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// names lists the direct subsegments' names.
func (d *xrayDoc) names() []string {
	var out []string
	for _, s := range d.Subsegments {
		out = append(out, s.Name)
	}
	return out
}

// xrayLine is the line Lambda appends to REPORT for a traced invocation.
var xrayLine = regexp.MustCompile(`(?m)^XRAY TraceId: (1-[0-9a-f]{8}-[0-9a-f]{24})\tSegmentId: ([0-9a-f]{16})\tSampled: (true|false)`)

// tracedInvoke invokes function until Lambda samples the call (Active
// tracing samples the first request of each second, then 5 %) and returns
// its trace id and response body.
func tracedInvoke(t *testing.T, aws *awsCLI, function string) (string, map[string]any) {
	t.Helper()
	for try := 0; try < 5; try++ {
		res := aws.invoke(function, `{}`, "--log-type", "Tail")
		tail := logTail(t, res)
		if res.StatusCode != 200 || res.FunctionError != "" {
			t.Fatalf("invoke %s: %+v %v\n%s", function, res, res.Body, tail)
		}
		m := xrayLine.FindStringSubmatch(tail)
		if m == nil {
			t.Fatalf("invoke %s: no XRAY line after REPORT:\n%s", function, tail)
		}
		if m[3] == "true" {
			return m[1], res.Body
		}
		time.Sleep(1100 * time.Millisecond)
	}
	t.Fatalf("five invokes of %s, a second apart, were none of them sampled", function)
	return "", nil
}

// traceDocs waits until get-trace-summaries lists traceID and
// batch-get-traces gives a trace for which complete holds, and returns its
// segment documents and its summary.
func traceDocs(t *testing.T, aws *awsCLI, traceID string, since time.Time, complete func([]*xrayDoc) bool) ([]*xrayDoc, map[string]any) {
	t.Helper()
	var docs []*xrayDoc
	var summary map[string]any
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sums struct{ TraceSummaries []map[string]any }
		aws.json(&sums, "xray", "get-trace-summaries", "--start-time", fmt.Sprint(since.Add(-time.Minute).Unix()),
			"--end-time", fmt.Sprint(time.Now().Add(time.Minute).Unix()))
		summary = nil
		for _, s := range sums.TraceSummaries {
			if s["Id"] == traceID {
				summary = s
			}
		}
		if summary != nil {
			var got struct {
				Traces []struct {
					Id       string
					Segments []struct{ Id, Document string }
				}
				UnprocessedTraceIds []string
			}
			aws.json(&got, "xray", "batch-get-traces", "--trace-ids", traceID)
			docs = nil
			if len(got.Traces) == 1 && got.Traces[0].Id == traceID {
				for _, s := range got.Traces[0].Segments {
					var d xrayDoc
					if err := json.Unmarshal([]byte(s.Document), &d); err != nil {
						t.Fatalf("segment %s: document is not JSON (%v): %s", s.Id, err, s.Document)
					}
					if d.ID != s.Id || d.TraceID != traceID {
						t.Errorf("segment %s: document has id %s and trace %s", s.Id, d.ID, d.TraceID)
					}
					docs = append(docs, &d)
				}
				b, _ := json.MarshalIndent(got, "", " ")
				last = string(b)
			}
			if complete(docs) {
				return docs, summary
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s not complete within 30 s; summary %v, last batch-get-traces:\n%s", traceID, summary, last)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// lambdaSegments finds Lambda's two segments of a trace of function: the
// service segment (AWS::Lambda) and the function segment
// (AWS::Lambda::Function) under it.
func lambdaSegments(docs []*xrayDoc, function string) (service, fn *xrayDoc) {
	for _, d := range docs {
		switch {
		case d.Origin == "AWS::Lambda" && d.Name == function:
			service = d
		case d.Origin == "AWS::Lambda::Function" && d.Name == function:
			fn = d
		}
	}
	return service, fn
}

// invocationOf is the function segment's Invocation subsegment, when the
// function segment hangs under the service segment.
func invocationOf(docs []*xrayDoc, function string) *xrayDoc {
	service, fn := lambdaSegments(docs, function)
	if service == nil || fn == nil || fn.ParentID != service.ID {
		return nil
	}
	return fn.child("Invocation")
}

// headerParent is the Parent of a trace header.
func headerParent(h string) string {
	for _, kv := range strings.Split(h, ";") {
		if v, ok := strings.CutPrefix(kv, "Parent="); ok {
			return v
		}
	}
	return ""
}

const xrayPythonHandler = `import os

from aws_xray_sdk.core import patch_all, xray_recorder

patch_all()

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    s3.list_buckets()
    sub = xray_recorder.begin_subsegment("transform")
    sub.put_annotation("lab", "xray")
    xray_recorder.end_subsegment()
    return {"header": os.environ.get("_X_AMZN_TRACE_ID", "")}
`

// TestXRayLayerTrace is the X-Ray lab's Python path through the whole
// program: the ready layer published by `lambdalab xray-layer --publish`, a
// function with Active tracing that patches boto3 and opens a subsegment
// of its own, and the trace read back with the CLI's xray commands.
func TestXRayLayerTrace(t *testing.T) {
	requireDocker(t)
	requireAWSCLI(t)
	data := shortTempDir(t)
	seedXRayLayerCache(t, filepath.Join(data, "cache", "xray-layer"))
	keys := addUser(t, data, "tracer@example.com")
	// The command opens the package store, which a running serve holds:
	// publish first.
	stdout, stderr, err := runXRayCmd(t, "--out", filepath.Join(t.TempDir(), "layer.zip"), "--data", data, "--publish", "--email", "tracer@example.com")
	if err != nil {
		t.Fatalf("xray-layer --publish: %v\n%s%s", err, stdout, stderr)
	}
	m := regexp.MustCompile(`published (arn:aws:lambda:us-east-1:\d{12}:layer:` + xrayLayerName + `:1) `).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("xray-layer --publish printed no layer version ARN:\n%s", stdout)
	}
	layerARN := m[1]

	s := startWithSandbox(t, data)
	aws := newAWSCLI(t, s.AWSURL, keys)
	var layers struct {
		Layers []struct {
			LatestMatchingVersion struct{ LayerVersionArn string }
		}
	}
	aws.json(&layers, "lambda", "list-layers")
	if len(layers.Layers) != 1 || layers.Layers[0].LatestMatchingVersion.LayerVersionArn != layerARN {
		t.Errorf("list-layers: %+v, want %s", layers, layerARN)
	}
	const fn = "traced"
	var created struct{ TracingConfig struct{ Mode string } }
	aws.json(&created, "lambda", "create-function", "--function-name", fn, "--runtime", "python3.13", "--handler", "app.handler",
		"--role", testRole, "--timeout", "30", "--memory-size", "512", "--layers", layerARN, "--tracing-config", "Mode=Active",
		"--zip-file", aws.zipFile("traced.zip", map[string]string{"app.py": xrayPythonHandler}))
	if created.TracingConfig.Mode != "Active" {
		t.Errorf("create-function: TracingConfig %+v, want Active", created.TracingConfig)
	}
	aws.json(nil, "lambda", "wait", "function-active-v2", "--function-name", fn)

	since := time.Now()
	traceID, body := tracedInvoke(t, aws, fn)
	header, _ := body["header"].(string)
	if !strings.HasPrefix(header, "Root="+traceID+";Parent=") || !strings.HasSuffix(header, ";Sampled=1") {
		t.Errorf("the function saw _X_AMZN_TRACE_ID %q, want Root=%s;Parent=…;Sampled=1", header, traceID)
	}
	docs, summary := traceDocs(t, aws, traceID, since, func(docs []*xrayDoc) bool {
		inv := invocationOf(docs, fn)
		return inv != nil && inv.child("S3") != nil && inv.child("transform") != nil
	})

	service, fnSeg := lambdaSegments(docs, fn)
	if len(docs) != 2 {
		var names []string
		for _, d := range docs {
			names = append(names, d.Name+"/"+d.Origin)
		}
		t.Errorf("trace has segments %v, want only Lambda's two (the SDK's subsegments under them)", names)
	}
	if service.ParentID != "" {
		t.Errorf("the AWS::Lambda segment has parent %s, want none (Lambda started the trace)", service.ParentID)
	}
	for _, want := range []string{"Initialization", "Invocation", "Overhead"} {
		if fnSeg.child(want) == nil {
			t.Errorf("the function segment has subsegments %v, want %s among them (a cold start)", fnSeg.names(), want)
		}
	}
	inv := fnSeg.child("Invocation")
	if inv.ID != headerParent(header) {
		t.Errorf("the function's trace header names Parent %s; the Invocation subsegment is %s", headerParent(header), inv.ID)
	}
	call := inv.child("S3")
	if call.Namespace != "aws" || call.AWS["operation"] != "ListBuckets" {
		t.Errorf("the boto3 call's subsegment: namespace %q, aws %v; want aws and ListBuckets", call.Namespace, call.AWS)
	}
	own := inv.child("transform")
	if own.Annotations["lab"] != "xray" {
		t.Errorf("the transform subsegment has annotations %v, want lab=xray", own.Annotations)
	}
	if ann, _ := summary["Annotations"].(map[string]any); ann["lab"] == nil {
		t.Errorf("the trace summary has annotations %v, want lab", summary["Annotations"])
	}

	// A warm invocation is a trace of its own (the SDK must not reuse the
	// last one), without Initialization.
	time.Sleep(1100 * time.Millisecond) // the next second's sampled request
	second, body := tracedInvoke(t, aws, fn)
	if second == traceID {
		t.Fatalf("the warm invocation reused trace %s", traceID)
	}
	header, _ = body["header"].(string)
	docs, _ = traceDocs(t, aws, second, since, func(docs []*xrayDoc) bool {
		inv := invocationOf(docs, fn)
		return inv != nil && inv.child("S3") != nil && inv.child("transform") != nil
	})
	_, fnSeg = lambdaSegments(docs, fn)
	if fnSeg.child("Initialization") != nil || fnSeg.child("Invocation").ID != headerParent(header) {
		t.Errorf("warm invocation: function segment subsegments %v, Invocation %s, header %q; want no Initialization and the header's Parent",
			fnSeg.names(), fnSeg.child("Invocation").ID, header)
	}

	// The summary filter a lab uses to find its traces.
	var filtered struct{ TraceSummaries []struct{ Id string } }
	aws.json(&filtered, "xray", "get-trace-summaries", "--start-time", fmt.Sprint(since.Add(-time.Minute).Unix()),
		"--end-time", fmt.Sprint(time.Now().Add(time.Minute).Unix()), "--filter-expression", `annotation.lab = "xray"`)
	var ids []string
	for _, s := range filtered.TraceSummaries {
		ids = append(ids, s.Id)
	}
	slices.Sort(ids)
	if want := []string{min(traceID, second), max(traceID, second)}; !slices.Equal(ids, want) {
		t.Errorf(`get-trace-summaries --filter-expression 'annotation.lab = "xray"': %q, want %q`, ids, want)
	}
}

// buildXRayGoFunction builds testdata/xraygo, an aws-lambda-go handler using
// the X-Ray SDK for Go, as a Linux bootstrap and zips it executable. It is
// a module of its own, so its dependencies stay out of lambdalab's go.mod.
func buildXRayGoFunction(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = filepath.Join("testdata", "xraygo")
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/xraygo: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fh := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	fh.SetMode(0o755)
	w, err := zw.CreateHeader(fh)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(exe)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bootstrap.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return "fileb://" + p
}

// TestXRayGoSDKTrace runs a provided function built with aws-lambda-go and
// the X-Ray SDK for Go, Active tracing on: its own subsegment, sent by the
// SDK with the function's trace header as parent, hangs under Lambda's
// Invocation subsegment.
func TestXRayGoSDKTrace(t *testing.T) {
	requireDocker(t)
	requireAWSCLI(t)
	zipArg := buildXRayGoFunction(t)
	data := shortTempDir(t)
	s := startWithSandbox(t, data)
	aws := newAWSCLI(t, s.AWSURL, addUser(t, data, "gotracer@example.com"))
	const fn = "traced-go"
	aws.json(nil, "lambda", "create-function", "--function-name", fn, "--runtime", "provided", "--handler", "bootstrap",
		"--role", testRole, "--timeout", "30", "--tracing-config", "Mode=Active", "--zip-file", zipArg)
	aws.json(nil, "lambda", "wait", "function-active-v2", "--function-name", fn)

	since := time.Now()
	traceID, body := tracedInvoke(t, aws, fn)
	header, _ := body["header"].(string)
	if !strings.HasPrefix(header, "Root="+traceID+";Parent=") {
		t.Errorf("the function saw the trace header %q, want Root=%s;Parent=…", header, traceID)
	}
	docs, _ := traceDocs(t, aws, traceID, since, func(docs []*xrayDoc) bool {
		inv := invocationOf(docs, fn)
		return inv != nil && inv.child("work") != nil
	})
	inv := invocationOf(docs, fn)
	if inv.ID != headerParent(header) {
		t.Errorf("the function's trace header names Parent %s; the Invocation subsegment is %s", headerParent(header), inv.ID)
	}
	if work := inv.child("work"); work.Annotations["k"] != "v" {
		t.Errorf("the work subsegment has annotations %v, want k=v", work.Annotations)
	}
	if len(docs) != 2 {
		t.Errorf("trace has %d segments, want Lambda's two", len(docs))
	}
}
