# version 2: still does nothing
def handler(event, context):
    return None
