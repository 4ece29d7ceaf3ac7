package xray

// Datagrams as the SDKs send them, following reference/lambda-behaviour.md
// §14.2 and the measured quirks in reference/aws-clients.md ("X-Ray").

const header = `{"format":"json","version":1}` + "\n"

// The trace and the Invocation id the function's header named.
const (
	fxTrace  = "1-66581a80-5e3c1f2a9b8d7c6e5f4a3b2c"
	fxParent = "53995c3f42cd8ad8"
)

// Python SDK 0.95 inside Lambda with patch_all(): one subsegment per
// datagram as each closes, innermost first, Python's json.dumps spacing,
// content_length copied from the header as a string.
var pythonDatagrams = []string{
	// boto3 S3 PutObject inside the handler's capture: closes first.
	header + `{"id": "6a2e1f9c4b8d7e30", "name": "S3", "start_time": 1717000000.123456, "parent_id": "8b1c2d3e4f5a6b7c", "in_progress": false, "aws": {"operation": "PutObject", "region": "us-east-1", "request_id": "ABCD1234EXAMPLE", "retries": 0, "bucket_name": "out", "key": "x.txt"}, "http": {"response": {"status": 200, "content_length": "0"}}, "namespace": "aws", "type": "subsegment", "trace_id": "` + fxTrace + `", "end_time": 1717000000.223456}`,
	// The @xray_recorder.capture('transform') subsegment around it.
	header + `{"id": "8b1c2d3e4f5a6b7c", "name": "transform", "start_time": 1717000000.100001, "parent_id": "` + fxParent + `", "in_progress": false, "annotations": {"bucket": "in", "size": 42, "ok": true}, "metadata": {"default": {"keys": ["a.txt"], "nested": {"n": 1}}}, "namespace": "local", "type": "subsegment", "trace_id": "` + fxTrace + `", "end_time": 1717000000.300001}`,
	// A failing call: cause as an object with a stack.
	header + `{"id": "9c0d1e2f3a4b5c6d", "name": "parse", "start_time": 1717000000.310000, "parent_id": "` + fxParent + `", "fault": true, "cause": {"working_directory": "/var/task", "exceptions": [{"id": "0f1e2d3c4b5a6978", "message": "bad input", "type": "ValueError", "stack": [{"path": "/var/task/app.py", "line": 12, "label": "handler"}]}]}, "type": "subsegment", "trace_id": "` + fxTrace + `", "end_time": 1717000000.320000}`,
}

// Go SDK v1.8.5: a closed subsegment with its children embedded, parent_id
// the facade's id, the unknown "Dummy" field, and a child's cause as an
// exception id string.
var goDatagram = header + `{"name":"handle","id":"a1b2c3d4e5f60718","start_time":1717000001.5,"end_time":1717000001.9,"trace_id":"` + fxTrace + `","parent_id":"` + fxParent + `","type":"subsegment","Dummy":false,"subsegments":[{"name":"dynamodb","id":"b2c3d4e5f6071829","start_time":1717000001.6,"end_time":1717000001.7,"namespace":"aws","aws":{"operation":"GetItem","table_name":"t"},"http":{"response":{"status":400,"content_length":27}},"error":true,"cause":"0123456789abcdef","Dummy":false},{"name":"child2","id":"c3d4e5f607182930","start_time":1717000001.75,"in_progress":true,"Dummy":false}]}`

// A full segment from a host tool, with embedded subsegments.
var hostSegment = header + `{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","id":"defdfd9912dc5a56","start_time":1461096053.37518,"end_time":1461096053.4042,"name":"www.example.com","origin":"AWS::EC2::Instance","user":"alice","http":{"request":{"method":"GET","url":"https://www.example.com/health","client_ip":"203.0.113.1","user_agent":"curl/8"},"response":{"status":503,"content_length":"12"}},"fault":true,"aws":{"account_id":"111122223333","xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}},"subsegments":[{"id":"53995c3f42cd8ad9","name":"db","start_time":1461096053.38,"end_time":1461096053.40,"namespace":"remote","sql":{"url":"db:5432"}}]}`
