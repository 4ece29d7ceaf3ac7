# A tiny runtime for the backend tests: it speaks the Lambda Runtime API with
# urllib and does what each event's "op" asks, hostile things included.
import errno
import json
import os
import socket
import sys
import time
import urllib.request

BASE = "http://%s/2018-06-01/runtime" % os.environ["AWS_LAMBDA_RUNTIME_API"]


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) else type(e).__name__


def write_file(path, mb):
    written = 0
    chunk = b"x" * (1 << 20)
    try:
        with open(path, "wb") as f:
            for _ in range(mb):
                f.write(chunk)
                written += len(chunk)
            f.flush()
            os.fsync(f.fileno())
        return {"written": written, "error": None}
    except OSError as e:
        return {"written": written, "error": errname(e)}


def handle(ev):
    op = ev.get("op")
    if op == "echo":
        print("echo to stdout")
        return {"echo": ev.get("value"), "uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd()}
    if op == "alloc":
        hog = []
        for _ in range(ev["mb"]):
            hog.append(bytearray(1 << 20))
        return {"allocated": len(hog)}
    if op == "write":
        return write_file(ev["path"], ev.get("mb", 1))
    if op == "connect":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect((ev["host"], ev["port"]))
            return {"error": None}
        except OSError as e:
            return {"error": errname(e), "text": str(e)}
        finally:
            s.close()
    if op == "forkbomb":
        children, err = 0, None
        try:
            while children < 5000:
                pid = os.fork()
                if pid == 0:
                    time.sleep(3600)
                    os._exit(0)
                children += 1
        except OSError as e:
            err = errname(e)
        return {"children": children, "error": err}
    if op == "flood":
        line = ("y" * 1023 + "\n").encode()
        out = sys.stdout.buffer
        for _ in range(ev["mb"] * 1024):
            out.write(line)
        out.flush()
        return {"flooded": ev["mb"]}
    if op == "udp":
        # X-Ray's daemon protocol is plain UDP: what the SDKs send.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for d in ev["datagrams"]:
            s.sendto(d.encode(), ("127.0.0.1", 2000))
        s.close()
        return {"sent": len(ev["datagrams"])}
    if op == "procs":
        procs = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open("/proc/%s/cmdline" % p, "rb") as f:
                        procs.append([int(p), f.read().replace(b"\0", b" ").decode().strip()])
                except OSError:
                    pass
        return {"procs": sorted(procs)}
    if op == "read":
        with open(ev["path"]) as f:
            return {"data": f.read()}
    if op == "statvfs":
        st = os.statvfs(ev["path"])
        with open("/proc/self/mounts") as f:
            kind = [l.split()[2] for l in f if l.split()[1] == ev["path"]]
        return {"bytes": st.f_blocks * st.f_frsize, "free": st.f_bavail * st.f_frsize, "type": kind[-1] if kind else None}
    if op == "sleep":
        time.sleep(ev["seconds"])
        return {"slept": ev["seconds"]}
    if op == "exit":
        os._exit(ev.get("code", 3))
    raise ValueError("unknown op %r" % op)


while True:
    with urllib.request.urlopen(BASE + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read() or b"null")
    try:
        body, path = json.dumps(handle(event)).encode(), "/invocation/%s/response" % rid
    except Exception as e:
        body = json.dumps({"errorMessage": str(e), "errorType": type(e).__name__}).encode()
        path = "/invocation/%s/error" % rid
    urllib.request.urlopen(urllib.request.Request(BASE + path, data=body, method="POST")).read()
