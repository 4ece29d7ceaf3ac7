"""order-report: summarise a day's orders from S3, traced with X-Ray."""

import csv
import io
import json
import os
import posixpath

from aws_xray_sdk.core import patch_all, xray_recorder

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
    # A subsegment of our own: the function segment belongs to Lambda, and
    # annotations go on a subsegment, where X-Ray can search them. (The
    # layer's SDK, 0.95, has begin/end_subsegment but no in_subsegment.)
    sub = xray_recorder.begin_subsegment("summarise")
    try:
        report = summarise(text)
        sub.put_annotation("orders", report["orders"])
    finally:
        xray_recorder.end_subsegment()
    name = posixpath.splitext(posixpath.basename(key))[0]
    s3.put_object(Bucket=REPORT_BUCKET, Key=f"reports/{name}.json",
                  Body=json.dumps(report).encode("utf-8"), ContentType="application/json")
    return report
