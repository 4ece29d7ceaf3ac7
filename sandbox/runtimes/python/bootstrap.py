"""lambdalab's runtime interface client for Python.

It plays the part of the client inside Lambda's managed Python runtime: it
talks to the Runtime API at AWS_LAMBDA_RUNTIME_API, imports the handler named
by _HANDLER, and then loops forever: fetch the next event, call the handler,
post its result or its error. Standard library only, so that it runs on any
Python 3 the image carries.

What the learner sees (error documents, log lines, the context object) copies
Lambda's Python runtime; reference/lambda-behaviour.md sections 1, 2 and 5
give the exact shapes.
"""

import os
import sys

_CLIENT_FILE = __file__


def _arrange_sys_path():
    # Lambda puts the function's code first, then the layer directories, then
    # the runtime's own packages, so a package in the zip shadows the same
    # package in a layer and both shadow the runtime's boto3. It only does so
    # when the function has not set PYTHONPATH itself.
    here = os.path.dirname(os.path.abspath(_CLIENT_FILE))
    rest = [p for p in sys.path if p and os.path.abspath(p) != here]
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or "/var/task"
    if os.environ.get("PYTHONPATH"):
        first = [task_root]
    else:
        version = "python%d.%d" % sys.version_info[:2]
        first = [
            task_root,
            "/opt/python/lib/%s/site-packages" % version,
            "/opt/python",
        ]
    sys.path[:] = first + [p for p in rest if p not in first]


_arrange_sys_path()

import http.client  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

os.environ.setdefault("AWS_EXECUTION_ENV", "AWS_Lambda_python3.13")

API_PREFIX = "/2018-06-01/runtime"
# The X-Ray error cause travels in a header; Lambda's client drops it when it
# would exceed 1 MiB.
MAX_XRAY_CAUSE = 1024 * 1024
# Lambda's text log format keeps a multi-line error as one log event by
# joining its lines with carriage returns and turning the indentation of the
# traceback into no-break spaces.
ERROR_LINE_JOIN = "\r"
ERROR_INDENT = "\u00a0"


class Fault(Exception):
    """An error the runtime itself reports, with Lambda's Runtime.* type."""

    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    MARSHAL_ERROR = "Runtime.MarshalError"
    CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


# ---------------------------------------------------------------- handler


def load_handler(spec):
    """Imports the module of a "module.function" handler and returns the
    function, or raises Fault with the error Lambda would report."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as e:
        raise Fault(Fault.MALFORMED_HANDLER_NAME, "Bad handler '%s': %s" % (spec, e))

    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise Fault(
                Fault.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module %s as a handler module" % module_name,
            )
        # A handler may name a module in a sub-directory: "dir/app.handler".
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise Fault(
            Fault.IMPORT_MODULE_ERROR,
            "Unable to import module '%s': %s" % (module_name, e),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise Fault(
            Fault.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '%s': %s" % (module_name, e),
            trace,
        )

    try:
        return getattr(module, function_name)
    except AttributeError:
        raise Fault(
            Fault.HANDLER_NOT_FOUND,
            "Handler '%s' missing on module '%s'" % (function_name, module_name),
        )


# ---------------------------------------------------------------- errors


def error_document(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def learner_frames(tb):
    """The traceback's frames as (file, line, function, text) tuples, without
    the frames of this client that lead into the learner's code."""
    frames = [
        (f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)
    ]
    for i, frame in enumerate(frames):
        if frame[0] != _CLIENT_FILE:
            return frames[i:]
    return frames


def exception_document(exc, request_id=None):
    frames = learner_frames(exc.__traceback__)
    # Formatting plain tuples (not FrameSummary objects) leaves out the
    # column markers newer Pythons add, as Lambda's traces do.
    doc = error_document(
        str(exc), type(exc).__name__, traceback.format_list(frames), request_id
    )
    return doc, frames


def xray_cause(error_type, message, frames):
    stack = [{"label": name, "path": path, "line": line} for path, line, name, _ in frames]
    return {
        "working_directory": os.getcwd(),
        "exceptions": [{"message": message, "type": error_type, "stack": stack}],
        "paths": sorted({path for path, _, _, _ in frames}),
    }


def _reindent(line):
    stripped = line.lstrip(" ")
    return ERROR_INDENT * (len(line) - len(stripped)) + stripped


def log_error(doc):
    """Writes Lambda's [ERROR] log event for an error document."""
    head = "[ERROR]"
    if doc.get("errorType"):
        head += " " + doc["errorType"]
    if doc.get("errorMessage"):
        if doc.get("errorType"):
            head += ":"
        head += " " + doc["errorMessage"]
    lines = [head]
    trace = doc.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for entry in trace:
            if entry == "":
                lines.append("")
            else:
                lines.extend(_reindent(line) for line in entry.splitlines())
    write_log(ERROR_LINE_JOIN.join(lines) + "\n")


def write_log(text):
    sys.stdout.write(text)


def flush_output():
    # stdout and stderr are unbuffered (python -u), but a handler may have
    # swapped in streams of its own; what it wrote belongs to this invocation
    # only if it reaches the pipe before the result is posted.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# ---------------------------------------------------------------- logging

_current_request_id = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id
        return True


class _LogHandler(logging.Handler):
    def emit(self, record):
        try:
            write_log(self.format(record))
        except Exception:
            self.handleError(record)


def setup_logging():
    # Lambda's records: "[INFO]\t2020-01-31T22:12:58.534Z\t<request id>\t<message>".
    # Like Lambda, it turns every formatter's clock to UTC and leaves the root
    # level at WARNING, so logging.info needs setLevel(logging.INFO) first.
    logging.Formatter.converter = time.gmtime
    handler = _LogHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    # With Lambda's advanced logging controls the function's log level is
    # applied to the root logger.
    level = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    if level == "WARN":
        level = "WARNING"
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)


# ---------------------------------------------------------------- context


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client:
    __slots__ = (
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    )


class ClientContext:
    __slots__ = ("custom", "env", "client")


def _from_dict(cls, values):
    if values is None:
        return None
    obj = cls()
    for name in cls.__slots__:
        setattr(obj, name, values.get(name) if isinstance(values, dict) else None)
    return obj


class LambdaContext:
    """The handler's second argument, with the members of Lambda's."""

    def __init__(self, request_id, invoked_function_arn, deadline_ms, client_context, identity):
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string, as in Lambda's own client.
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.tenant_id = None
        self.client_context = _from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _from_dict(Client, self.client_context.client)
        self.identity = _from_dict(CognitoIdentity, {})
        if identity is not None and isinstance(identity, dict):
            self.identity.cognito_identity_id = identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        left = self._deadline_ms - int(time.time() * 1000)
        return left if left > 0 else 0

    def log(self, msg):
        write_log(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
            "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
            "invoked_function_arn=%s,client_context=%s,identity=%s,tenant_id=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


def _parse_header_json(text, name):
    if not text:
        return None
    try:
        return json.loads(text)
    except Exception as e:
        raise Fault(Fault.CONTEXT_UNMARSHAL_ERROR, "Unable to parse %s JSON: %s" % (name, e))


# ---------------------------------------------------------------- marshalling


def _encode_default(obj):
    # boto3's DynamoDB values arrive as Decimal; Lambda's encoder writes them
    # as JSON numbers. A Decimal result means the learner's code loaded the
    # module already, so the client need not pay for importing it at init.
    decimal = sys.modules.get("decimal")
    if decimal is not None and isinstance(obj, decimal.Decimal):
        if obj.is_nan():
            return float("nan")
        if obj == obj.to_integral_value():
            return int(obj)
        return float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


_encoder = json.JSONEncoder(default=_encode_default)


def unmarshal_event(body, content_type):
    if content_type and content_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise Fault(Fault.UNMARSHAL_ERROR, "Unable to unmarshal input: %s" % e)


def marshal_result(result):
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return _encoder.encode(result).encode("utf-8"), "application/json"
    except Exception as e:
        raise Fault(Fault.MARSHAL_ERROR, "Unable to marshal response: %s" % e)


# ---------------------------------------------------------------- Runtime API


class _Connection(http.client.HTTPConnection):
    def connect(self):
        super().connect()
        # One request is one write; without this a reused connection can wait
        # on delayed acknowledgements.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class RuntimeAPI:
    """One keep-alive connection to the Runtime API. No timeout: /next may
    wait for an event for as long as the instance lives."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("AWS_LAMBDA_RUNTIME_API is %r, want host:port" % address)
        self._host, self._port = host, int(port)
        self._conn = _Connection(self._host, self._port)

    def _call(self, method, path, body=None, headers=None):
        headers = headers or {}
        # A kept-alive connection the server has closed fails on first use;
        # one fresh connection is worth a try before giving up.
        for attempt in (1, 2):
            try:
                self._conn.request(method, path, body, headers)
                resp = self._conn.getresponse()
                return resp, resp.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self._conn.close()
                if attempt == 2:
                    raise

    def next(self):
        resp, body = self._call("GET", API_PREFIX + "/invocation/next")
        if resp.status != 200:
            raise RuntimeError(
                "runtime api: /next answered %d: %s" % (resp.status, body[:200])
            )
        return resp, body

    def _post(self, path, body, headers):
        resp, answer = self._call("POST", path, body, headers)
        if resp.status >= 500:
            # The platform says the environment is broken: end here, as
            # Lambda's client does.
            write_log("runtime api: %s answered %d: %s\n" % (path, resp.status, answer[:200]))
            sys.exit(1)
        # 400 (the invocation is no longer current) and 413 (result too
        # large) end the invocation on the platform's side; carry on.
        return resp.status

    def post_response(self, request_id, body, content_type):
        return self._post(
            "%s/invocation/%s/response" % (API_PREFIX, request_id),
            body,
            {"Content-Type": content_type},
        )

    def post_error(self, request_id, doc, cause):
        # Like Lambda's Python client, no Lambda-Runtime-Function-Error-Type
        # header on invocation errors: the caller sees the body only.
        headers = {"Content-Type": "application/json"}
        if cause is not None:
            encoded = json.dumps(cause)
            if len(encoded) < MAX_XRAY_CAUSE:
                headers["Lambda-Runtime-Function-XRay-Error-Cause"] = encoded
        return self._post(
            "%s/invocation/%s/error" % (API_PREFIX, request_id),
            json.dumps(doc).encode("utf-8"),
            headers,
        )

    def post_init_error(self, doc):
        return self._post(
            API_PREFIX + "/init/error",
            json.dumps(doc).encode("utf-8"),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": doc.get("errorType") or "Runtime.Unknown",
            },
        )


# ---------------------------------------------------------------- the loop


def handle(api, handler, resp, body):
    global _current_request_id
    request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id") or ""
    _current_request_id = request_id

    trace_id = resp.getheader("Lambda-Runtime-Trace-Id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        # A value must not leak from the previous invocation of a warm instance.
        os.environ.pop("_X_AMZN_TRACE_ID", None)

    try:
        deadline_ms = int(resp.getheader("Lambda-Runtime-Deadline-Ms") or 0)
    except ValueError:
        deadline_ms = 0

    doc = cause = None
    try:
        context = LambdaContext(
            request_id,
            resp.getheader("Lambda-Runtime-Invoked-Function-Arn"),
            deadline_ms,
            _parse_header_json(resp.getheader("Lambda-Runtime-Client-Context"), "Client Context"),
            _parse_header_json(resp.getheader("Lambda-Runtime-Cognito-Identity"), "Cognito Identity"),
        )
        event = unmarshal_event(body, resp.getheader("Content-Type"))
        result, content_type = marshal_result(handler(event, context))
    except Fault as f:
        doc = error_document(f.message, f.error_type, f.trace, request_id)
        cause = xray_cause("LambdaValidationError", f.message, [])
    except Exception as e:
        doc, frames = exception_document(e, request_id)
        cause = xray_cause(doc["errorType"], doc["errorMessage"], frames)

    if doc is not None:
        log_error(doc)
        flush_output()
        api.post_error(request_id, doc, cause)
    else:
        flush_output()
        api.post_response(request_id, result, content_type)


def main():
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        sys.stderr.write("lambdalab python runtime: AWS_LAMBDA_RUNTIME_API is not set\n")
        sys.exit(1)
    api = RuntimeAPI(address)
    setup_logging()

    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Fault as f:
        doc = error_document(f.message, f.error_type, f.trace)
    except Exception as e:
        # The module itself raised while being imported.
        doc, _ = exception_document(e)
    else:
        doc = None
    if doc is not None:
        log_error(doc)
        flush_output()
        api.post_init_error(doc)
        sys.exit(1)

    while True:
        resp, body = api.next()
        handle(api, handler, resp, body)


if __name__ == "__main__":
    main()
