"""mask-logs, wrong: also replaces the original in the source bucket."""

import os
import re
import urllib.parse

import boto3

s3 = boto3.client("s3")
DEST_BUCKET = os.environ["DEST_BUCKET"]

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


def mask(text):
    text = EMAIL.sub("[email]", text)
    return CARD.sub("[card]", text)


def handler(event, context):
    masked = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        text = mask(body.decode("utf-8")).encode("utf-8")
        s3.put_object(Bucket=DEST_BUCKET, Key=key, Body=text)
        # The mistake: "clean up" the original by overwriting it with the
        # masked copy. That write is a new upload to the source bucket, so
        # S3 invokes the function again, and again.
        s3.put_object(Bucket=bucket, Key=key, Body=text)
        masked.append(key)
    return {"masked": masked}
