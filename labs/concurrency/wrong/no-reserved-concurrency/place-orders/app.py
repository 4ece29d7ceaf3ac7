"""place-orders: places a batch of orders through checkout, all at once.

Invoked with {"orders": N}, it invokes checkout N times in parallel (one
thread per order). checkout's reserved concurrency lets only 5 of those run
at a time; the rest are throttled, and each throttled order is retried
after a random wait that grows with every attempt (exponential backoff with
full jitter). It returns how many orders were placed and how many
throttles it met on the way.
"""

import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# botocore retries throttled calls by itself (up to 4 more attempts, with
# its own backoff), which would hide every throttle from this code. One
# attempt per call: the retrying is done below, where it can be seen.
# max_pool_connections: one HTTP connection per thread.
lam = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1},
                                           max_pool_connections=50))

CHECKOUT = os.environ["CHECKOUT_FUNCTION"]
# The first retry waits up to about one checkout call (300 ms): sooner than
# that, no slot can have come free.
BASE_DELAY = 0.3  # seconds
MAX_DELAY = 2.0   # no wait is longer than this
MAX_ATTEMPTS = 12


def place_order(number):
    """Invokes checkout for one order. Returns (answer, throttles)."""
    throttles = 0
    for attempt in range(MAX_ATTEMPTS):
        try:
            resp = lam.invoke(FunctionName=CHECKOUT, Payload=json.dumps({"order": number}))
            return json.loads(resp["Payload"].read()), throttles
        except ClientError as err:
            if err.response["Error"]["Code"] != "TooManyRequestsException":
                raise
            throttles += 1
            # Full jitter: anywhere between 0 and the exponential delay, so
            # that the throttled callers do not all come back together.
            time.sleep(random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** attempt)))
    return None, throttles


def handler(event, context):
    orders = int(event.get("orders", 20))
    with ThreadPoolExecutor(max_workers=orders) as pool:
        results = list(pool.map(place_order, range(1, orders + 1)))
    placed = sum(1 for answer, _ in results if answer and answer.get("status") == "confirmed")
    throttled = sum(throttles for _, throttles in results)
    return {"placed": placed, "throttled": throttled}
