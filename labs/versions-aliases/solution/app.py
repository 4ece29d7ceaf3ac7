"""word-count, version 1: S3 runs it for every upload to wc-uploads.

For each uploaded object it writes a small JSON result to the bucket
RESULT_BUCKET, under the object's key plus ".json": which version of the
function ran, the key, and the object's size in bytes.
"""

import json
import os
import urllib.parse

import boto3

s3 = boto3.client("s3")
RESULT_BUCKET = os.environ["RESULT_BUCKET"]


def handler(event, context):
    # The version that is running: "$LATEST", "1", "2", ... Lambda resolves
    # an alias before the code starts, so this is never "prod".
    version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
    results = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        result = {"version": version, "key": key, "bytes": len(body)}
        s3.put_object(Bucket=RESULT_BUCKET, Key=key + ".json",
                      Body=json.dumps(result).encode(), ContentType="application/json")
        results.append(result)
    return {"version": version, "results": results}
