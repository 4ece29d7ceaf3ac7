"""order-report, wrong: patches boto3 but opens no subsegment of its own."""

import csv
import io
import json
import os
import posixpath

from aws_xray_sdk.core import patch_all

# Before any client exists: from here on every boto3 call is a subsegment.
patch_all()

import boto3  # noqa: E402

s3 = boto3.client("s3")
REPORT_BUCKET = os.environ["REPORT_BUCKET"]


def summarise(text):
    """Count the orders of a CSV (order_id,customer,amount) and add them up."""
    rows = list(csv.DictReader(io.StringIO(text)))
    total = sum(float(row["amount"]) for row in rows)
    return {"orders": len(rows), "total": round(total, 2)}


def handler(event, context):
    bucket, key = event["bucket"], event["key"]
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    # The mistake: no subsegment and no annotation, so the trace shows the
    # S3 calls but not the time spent summarising, and no search finds it.
    report = summarise(text)
    name = posixpath.splitext(posixpath.basename(key))[0]
    s3.put_object(Bucket=REPORT_BUCKET, Key=f"reports/{name}.json",
                  Body=json.dumps(report).encode("utf-8"), ContentType="application/json")
    return report
