"""place-orders: places a batch of orders through checkout, all at once.

Invoked with {"orders": N}, it must invoke checkout N times in parallel
(one thread per order), retry every throttled call until the order is
placed, and return {"placed": ..., "throttled": ...}.
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
# attempt per call: the retrying is yours, below, where you can see it.
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
    """Invokes checkout for one order. Returns (answer, throttles): checkout's
    answer as a dict (None if the order could not be placed) and how many
    times this order was throttled."""
    throttles = 0
    # TODO (task 2): invoke checkout with the payload {"order": number}:
    #   resp = lam.invoke(FunctionName=CHECKOUT, Payload=json.dumps({"order": number}))
    #   answer = json.loads(resp["Payload"].read())
    # A throttle raises ClientError whose err.response["Error"]["Code"] is
    # "TooManyRequestsException". Count it and try again, up to MAX_ATTEMPTS
    # times; let any other error propagate.
    # TODO (task 3): before each new attempt, sleep a random time between 0
    # and min(MAX_DELAY, BASE_DELAY * 2 ** attempt) seconds.
    return None, throttles


def handler(event, context):
    orders = int(event.get("orders", 20))
    # TODO (task 2): call place_order for 1 .. orders, all at the same time:
    #   with ThreadPoolExecutor(max_workers=orders) as pool:
    #       results = list(pool.map(place_order, range(1, orders + 1)))
    results = []
    placed = sum(1 for answer, _ in results if answer and answer.get("status") == "confirmed")
    throttled = sum(throttles for _, throttles in results)
    return {"placed": placed, "throttled": throttled}
