"""checkout: confirms one order.

The payment backend behind checkout takes about 300 ms per call and falls
over when more than 5 calls reach it at once. The sleep stands in for that
call. Nothing to change here: the lab is about how checkout is called.
"""

import time
import uuid


def handler(event, context):
    time.sleep(0.3)
    return {"order": event.get("order"), "status": "confirmed",
            "confirmation": uuid.uuid4().hex[:12]}
