"""order-report, wrong: a handler that does nothing."""


def handler(event, context):
    return {}
