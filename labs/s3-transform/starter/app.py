"""mask-logs: copy each uploaded log to DEST_BUCKET with secrets masked.

Fill in the TODOs. The function runs as it is, but writes nothing yet.
"""

import os
import re
import urllib.parse

import boto3

s3 = boto3.client("s3")
DEST_BUCKET = os.environ["DEST_BUCKET"]

# TODO: a pattern for e-mail addresses (local part, @, a domain with a dot).
EMAIL = re.compile(r"TODO-EMAIL")
# TODO: a pattern for card numbers: 13 to 19 digits, with at most one space
# or dash between two digits.
CARD = re.compile(r"TODO-CARD")


def mask(text):
    """Return text with every address as [email] and every card as [card]."""
    # TODO: replace the matches of both patterns.
    return text


def handler(event, context):
    masked = []
    # TODO: an event can hold several records; handle every one.
    record = event["Records"][0]
    bucket = record["s3"]["bucket"]["name"]
    # TODO: the key arrives URL-encoded (a space is "+"); decode it.
    key = record["s3"]["object"]["key"]
    print(f"new object s3://{bucket}/{key}")
    # TODO: read the object, mask its text, and write the result under the
    # same key into DEST_BUCKET (never into `bucket`).
    return {"masked": masked}
