"""Writes botocore.json: requests exactly as botocore puts them on the wire,
signed by botocore itself, for sigv4's fixture tests.

Run from this directory with any botocore (the committed file was made with
the version recorded in it):  python3 botocore_fixtures.py
Nothing is sent anywhere: a before-send hook captures each prepared request
and aborts it.
"""

import datetime
import json
import types
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

SIGNED_AT = datetime.datetime(2026, 12, 1, 9, 30, 0, tzinfo=datetime.timezone.utc)
# botocore reads the clock through these two names.
botocore.auth.get_current_datetime = lambda *a, **k: SIGNED_AT.replace(tzinfo=None)
botocore.auth.time = types.SimpleNamespace(time=lambda: SIGNED_AT.timestamp())

ENDPOINT = "http://127.0.0.1:9001"
KEY, SECRET, TOKEN = "AKIALAMBDALAB0000001", "lab/secret+key/0000000000000000000000001", "session-token/with+chars=="


class Captured(Exception):
    def __init__(self, request):
        self.request = request


def capture(request, **kwargs):
    raise Captured(request)


def client(service, token=None, **cfg):
    session = botocore.session.get_session()
    c = session.create_client(
        service,
        region_name="us-east-1",
        endpoint_url=ENDPOINT,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}, **cfg),
    )
    c.meta.events.register("before-send", capture)
    return c


def wire(name, prepared, note):
    """The request as urllib3 writes it: target from the URL, botocore's
    headers, plus the Host and Content-Length urllib3 adds."""
    parts = urlsplit(prepared.url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    body = prepared.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    headers = [[k, v.decode() if isinstance(v, bytes) else v] for k, v in prepared.headers.items()]
    names = {k.lower() for k, _ in headers}
    if "host" not in names:
        headers.insert(0, ["Host", parts.netloc])
    if body and "content-length" not in names:
        headers.append(["Content-Length", str(len(body))])
    return {
        "name": name,
        "note": note,
        "method": prepared.method,
        "target": target,
        "headers": headers,
        "body": body.decode(),
    }


def call(name, note, fn):
    try:
        fn()
    except Captured as c:
        return wire(name, c.request, note)
    raise RuntimeError(name + ": nothing was sent")


def presigned(name, note, url, method="GET"):
    parts = urlsplit(url)
    return {
        "name": name,
        "note": note,
        "method": method,
        "target": parts.path + "?" + parts.query,
        "headers": [["Host", parts.netloc]],
        "body": "",
    }


fixtures = []
lam = client("lambda", token=TOKEN)
fixtures.append(call(
    "lambda-invoke-qualified",
    "Invoke of my-fn:prod: the path carries %3A, signed as %253A",
    lambda: lam.invoke(FunctionName="my-fn:prod", Payload=b'{"hello": "world"}'),
))
fixtures.append(call(
    "lambda-invoke-latest",
    "Invoke of my-fn:$LATEST",
    lambda: lam.invoke(FunctionName="my-fn:$LATEST", Payload=b"{}"),
))
fixtures.append(call(
    "lambda-invoke-qualifier",
    "Invoke with Qualifier=$LATEST in the query",
    lambda: lam.invoke(FunctionName="my-fn", Qualifier="$LATEST", Payload=b"{}"),
))
fixtures.append(call(
    "lambda-list-functions",
    "ListFunctions with a marker holding '+', ' ', '/', 'ü'",
    lambda: client("lambda").list_functions(MaxItems=10, Marker="a+b c/ü=x"),
))

s3 = client("s3", s3={"addressing_style": "path"})
fixtures.append(call(
    "s3-put-object",
    "PutObject of a key with '//', ' ', 'ü', '+', '$', ':'",
    lambda: s3.put_object(Bucket="bkt", Key="dir//a b/ü+$x:y.txt", Body=b"hello, world"),
))
fixtures.append(call(
    "s3-get-object",
    "GetObject of a key with a literal '%2F', with a Range",
    lambda: s3.get_object(Bucket="bkt", Key="a%2Fb", Range="bytes=0-3"),
))
fixtures.append(call(
    "s3-list-objects",
    "ListObjectsV2 with prefix and delimiter",
    lambda: s3.list_objects_v2(Bucket="bkt", Prefix="dir/a b+", Delimiter="/"),
))

s3v4 = client("s3", token=TOKEN, signature_version="s3v4", s3={"addressing_style": "path"})
fixtures.append(presigned(
    "s3-presign-v4",
    "generate_presigned_url with s3v4 and a session token, 900 s",
    s3v4.generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "reports/2026 Q4+final.csv"}, ExpiresIn=900),
))
s3v2 = client("s3", token=TOKEN, s3={"addressing_style": "path"})
url = s3v2.generate_presigned_url(
    "get_object",
    Params={"Bucket": "bkt", "Key": "reports/2026 Q4+final.csv", "ResponseContentType": "text/csv; charset=utf-8"},
    ExpiresIn=900,
)
if "AWSAccessKeyId=" not in url:
    raise RuntimeError("boto3 no longer presigns with SigV2 by default: " + url)
fixtures.append(presigned(
    "s3-presign-v2",
    "generate_presigned_url default (SigV2) with a session token and a response override",
    url,
))

# botocore normalizes the path of non-S3 requests before signing; the wire
# keeps it. No Lambda operation makes such a path, so sign one by hand.
req = AWSRequest(method="GET", url=ENDPOINT + "/2015-03-31/functions//my-fn/./versions", headers={})
botocore.auth.SigV4Auth(Credentials(KEY, SECRET), "lambda", "us-east-1").add_auth(req)
fixtures.append(wire("lambda-unnormalized-path", req.prepare(),
                     "a path with '//' and '/./', which botocore signs normalized"))

out = {
    "botocore": botocore.__version__,
    "access_key": KEY,
    "secret": SECRET,
    "signed_at": SIGNED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "fixtures": fixtures,
}
with open("botocore.json", "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
