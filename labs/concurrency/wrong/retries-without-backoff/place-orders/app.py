"""place-orders, retrying without backoff: a throttled order is tried again
at once, until checkout takes it."""

import json
import os
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

lam = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1},
                                           max_pool_connections=50))

CHECKOUT = os.environ["CHECKOUT_FUNCTION"]


def place_order(number):
    throttles = 0
    while True:
        try:
            resp = lam.invoke(FunctionName=CHECKOUT, Payload=json.dumps({"order": number}))
            return json.loads(resp["Payload"].read()), throttles
        except ClientError as err:
            if err.response["Error"]["Code"] != "TooManyRequestsException":
                raise
            throttles += 1


def handler(event, context):
    orders = int(event.get("orders", 20))
    with ThreadPoolExecutor(max_workers=orders) as pool:
        results = list(pool.map(place_order, range(1, orders + 1)))
    placed = sum(1 for answer, _ in results if answer and answer.get("status") == "confirmed")
    throttled = sum(throttles for _, throttles in results)
    return {"placed": placed, "throttled": throttled}
