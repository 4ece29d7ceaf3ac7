"""word-count, version 2: like version 1, and the result also counts the
object's lines and words.
"""

import json
import os
import urllib.parse

import boto3

s3 = boto3.client("s3")
RESULT_BUCKET = os.environ["RESULT_BUCKET"]


def handler(event, context):
    version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
    results = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        text = body.decode("utf-8", errors="replace")
        result = {
            "version": version,
            "key": key,
            "bytes": len(body),
            "lines": len(text.splitlines()),
            "words": len(text.split()),
        }
        s3.put_object(Bucket=RESULT_BUCKET, Key=key + ".json",
                      Body=json.dumps(result).encode(), ContentType="application/json")
        results.append(result)
    return {"version": version, "results": results}
