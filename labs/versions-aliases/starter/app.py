"""word-count: S3 runs it for every upload to wc-uploads.

Version 1 writes a small JSON result for each uploaded object to the bucket
RESULT_BUCKET, under the object's key plus ".json":

    {"version": "1", "key": "notes/a.txt", "bytes": 45}

Version 2 (a later task) adds two fields to it.
"""

import json
import os
import urllib.parse

import boto3

s3 = boto3.client("s3")
RESULT_BUCKET = os.environ["RESULT_BUCKET"]


def handler(event, context):
    # TODO (task 1): the version that is running. Lambda puts it in the
    # environment variable AWS_LAMBDA_FUNCTION_VERSION: "$LATEST", "1", "2"...
    version = None
    results = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        # S3 URL-encodes the key in the event.
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        result = {"version": version, "key": key, "bytes": len(body)}
        # TODO (task 1): write json.dumps(result) to RESULT_BUCKET under the
        # key key + ".json", with s3.put_object(Bucket=..., Key=..., Body=...,
        # ContentType="application/json").
        # TODO (task 3): version 2 adds "lines" and "words" to the result.
        results.append(result)
    return {"version": version, "results": results}
