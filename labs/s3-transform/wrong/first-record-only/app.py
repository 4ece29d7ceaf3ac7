"""mask-logs, wrong: handles only the first record of an event."""

import os
import re
import urllib.parse

import boto3

s3 = boto3.client("s3")
DEST_BUCKET = os.environ["DEST_BUCKET"]

# An address: a local part, an @ and a domain with at least one dot.
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# 13 to 19 digits, each pair optionally split by one space or dash; \b keeps
# longer numbers (and digits inside words) whole.
CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


def mask(text):
    text = EMAIL.sub("[email]", text)
    return CARD.sub("[card]", text)


def handler(event, context):
    masked = []
    # The mistake: S3 usually sends one record per event, but an event may
    # hold several, and this handles only the first.
    for record in event["Records"][:1]:
        bucket = record["s3"]["bucket"]["name"]
        # S3 sends the key URL-encoded, spaces as '+'.
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        text = mask(body.decode("utf-8"))
        # Never into the source bucket: that write would trigger us again.
        s3.put_object(Bucket=DEST_BUCKET, Key=key, Body=text.encode("utf-8"),
                      ContentType="text/plain; charset=utf-8")
        masked.append(key)
    return {"masked": masked}
