# A custom runtime that the node tests run under the real init, as a Pod
# would. Each event says what to do, so a test controls what is printed,
# when, and which AWS call the function makes through its socket.
import json
import os
import socket
import time
import urllib.request

api = os.environ["AWS_LAMBDA_RUNTIME_API"]
who = os.environ.get("WHO", "")
base = "http://" + api + "/2018-06-01/runtime/invocation/"
print("init " + who, flush=True)

while True:
    with urllib.request.urlopen(base + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        ev = json.loads(r.read() or b"{}")
    for line in ev.get("print", []):
        print(line, flush=True)
    # Wait until the test has seen the output so far: proof that it
    # streamed while the invocation was still running.
    if "wait_for" in ev:
        while not os.path.exists(ev["wait_for"]):
            time.sleep(0.01)
    for line in ev.get("after", []):
        print(line, flush=True)
    result = {"who": who, "request_id": rid}
    if "read" in ev:
        with open(ev["read"]) as f:
            result["read"] = f.read()
    if ev.get("aws"):
        req = urllib.request.Request("http://" + api + ev["aws"], data=("body of " + who).encode(),
                                     method="PUT", headers={"X-Who": who})
        with urllib.request.urlopen(req) as r:
            result["aws"] = r.read().decode()
    if ev.get("xray"):
        host, port = os.environ["AWS_XRAY_DAEMON_ADDRESS"].split(":")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(ev["xray"].encode(), (host, int(port)))
        s.close()
    body = json.dumps(result).encode()
    req = urllib.request.Request(base + rid + "/response", data=body, method="POST")
    urllib.request.urlopen(req).read()
