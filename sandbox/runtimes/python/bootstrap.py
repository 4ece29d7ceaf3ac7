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

# Start-up cost matters here: every import below is paid by every cold start
# (Init Duration). So the client imports only what the first invocation
# needs: json, time, and _socket (the C module under socket.py, which would
# also pull in selectors and enum). traceback is imported only when an error
# is formatted, and logging only when the function imports it (see
# _LoggingHook). `python3 -X importtime` shows what is left.
import _socket  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

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
        # __import__ and a look-up do what importlib.import_module does for
        # an absolute name, without importing the importlib package.
        name = module_name.replace("/", ".")
        __import__(name)
        module = sys.modules[name]
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
    import traceback

    frames = [
        (f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)
    ]
    for i, frame in enumerate(frames):
        if frame[0] != _CLIENT_FILE:
            return frames[i:]
    return frames


def exception_document(exc, request_id=None):
    import traceback

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


def configure_logging(logging):
    """Gives the logging module Lambda's set-up: one handler on the root
    logger writing "[INFO]\t2020-01-31T22:12:58.534Z\t<request id>\t<message>"
    records. Like Lambda, it turns every formatter's clock to UTC and leaves
    the root level at WARNING, so logging.info needs setLevel(logging.INFO)
    first."""

    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _current_request_id
            return True

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                write_log(self.format(record))
            except Exception:
                self.handleError(record)

    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    # With Lambda's advanced logging controls the function's log level is
    # applied to the root logger.
    level = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    if level == "WARN":
        level = "WARNING"
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)


class _LoggingHook:
    """A meta path finder that configures the logging package the moment it
    is first imported, before the importer sees it.

    Importing logging costs about 13 ms (it brings re, enum, threading,
    traceback, string, weakref), and the client itself never logs: only a
    function that logs needs it, and then its first "import logging" (its
    own or a library's) gets the module already set up as Lambda's is, so
    nothing the learner can observe differs from configuring it at start.
    The hook finds nothing itself; for "logging" it asks the other finders
    and wraps the loader they return."""

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _ConfiguringLoader(spec.loader)
                return spec
        return None


class _ConfiguringLoader:
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # Done once: the real loader goes back where the import system put
        # this one, and the hook leaves sys.meta_path.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        _remove_logging_hook()
        self._loader.exec_module(module)
        # A logging.py of the function's own, found first on sys.path, is
        # not the standard module: it is left as it is.
        if isinstance(getattr(module, "Handler", None), type) and isinstance(
            getattr(module, "Filter", None), type
        ):
            configure_logging(module)


def _remove_logging_hook():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _LoggingHook)]


def setup_logging():
    logging = sys.modules.get("logging")
    if logging is not None:
        # Imported before the client ran (sitecustomize, an exec wrapper's
        # PYTHONSTARTUP…): configure it now.
        configure_logging(logging)
    else:
        sys.meta_path.insert(0, _LoggingHook())


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


# Why a small HTTP client of its own rather than http.client: importing
# http.client costs about 60 ms of every cold start in the runtime image (it
# brings ssl, email.parser, urllib.parse, …), more than starting the
# interpreter itself. AWS's own runtime interface client talks to the Runtime
# API from C++ for the same reason. The peer here is one local server whose
# answers are plain HTTP/1.1 (a status line, a few headers, a body of known
# length or chunked), so a keep-alive client over _socket covers it: one write
# per request, no read timeout (/next waits for as long as the instance
# lives), one reconnect when a kept-alive connection turns out to be closed.

# A request is sent with one sendall (head and body joined) unless its body is
# larger than this, where copying it would cost more than a second write.
_JOIN_LIMIT = 64 * 1024
# More header bytes than this is not a Runtime API answer.
_MAX_HEAD = 64 * 1024
_RECV_SIZE = 64 * 1024


class ProtocolError(ConnectionError):
    """The Runtime API answered something that is not HTTP/1.1 as expected."""


class Response:
    """One answer of the Runtime API; header names are lower case."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


class RuntimeAPI:
    """One keep-alive connection to the Runtime API."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not address.isascii():
            raise ValueError("AWS_LAMBDA_RUNTIME_API is %r, want host:port" % address)
        family = _socket.AF_INET
        if host.startswith("[") and host.endswith("]"):
            family, host = _socket.AF_INET6, host[1:-1]
        # A numeric address (the usual 127.0.0.1) connects without a name
        # look-up; socket.getaddrinfo would also import the idna codec.
        self._family = family
        self._peer = (host, int(port))
        self._sock = None
        self._buf = bytearray()  # received, not yet parsed
        self._scratch = bytearray(_RECV_SIZE)
        self._scratch_view = memoryview(self._scratch)
        self._received = 0  # bytes received since the last request was sent
        self._host_line = "Host: %s\r\n" % address
        self._next_request = (
            "GET %s/invocation/next HTTP/1.1\r\n%s\r\n" % (API_PREFIX, self._host_line)
        ).encode("ascii")

    # -------------------------------------------------------- connection

    def _connect(self):
        sock = _socket.socket(self._family, _socket.SOCK_STREAM)
        try:
            # Blocking without a timeout whatever socket.setdefaulttimeout
            # the function may have called.
            sock.settimeout(None)
            # One request is one write; without this a request written in
            # two parts could wait on a delayed acknowledgement.
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.connect(self._peer)
        except BaseException:
            sock.close()
            raise
        self._sock = sock

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        del self._buf[:]

    def _call(self, request, body=b""):
        # A kept-alive connection the server has closed fails on first use:
        # the write errors, or the read meets the end of the stream. When
        # not one byte of an answer came, the request is sent once more on a
        # fresh connection.
        for attempt in (1, 2):
            try:
                self._received = 0
                if self._sock is None:
                    self._connect()
                if len(body) <= _JOIN_LIMIT:
                    self._sock.sendall(request + body if body else request)
                else:
                    self._sock.sendall(request)
                    self._sock.sendall(body)
                return self._read_response()
            except OSError:
                answered = self._received > 0
                self.close()
                if answered or attempt == 2:
                    raise

    # -------------------------------------------------------- reading

    def _fill(self):
        n = self._sock.recv_into(self._scratch)
        if n == 0:
            raise ConnectionError("runtime api closed the connection")
        self._received += n
        self._buf += self._scratch_view[:n]

    def _read_line(self):
        buf = self._buf
        start = 0
        while True:
            end = buf.find(b"\r\n", start)
            if end >= 0:
                line = bytes(buf[:end])
                del buf[: end + 2]
                return line
            if len(buf) > _MAX_HEAD:
                raise ProtocolError("runtime api: line longer than %d bytes" % _MAX_HEAD)
            start = max(len(buf) - 1, 0)
            self._fill()

    def _read_exact(self, n):
        buf = self._buf
        if len(buf) >= n:
            body = bytes(buf[:n])
            del buf[:n]
            return body
        # A large event: receive straight into its final buffer.
        out = bytearray(n)
        have = len(buf)
        out[:have] = buf
        del buf[:]
        with memoryview(out) as view:
            while have < n:
                got = self._sock.recv_into(view[have:])
                if got == 0:
                    raise ConnectionError("runtime api closed the connection mid-body")
                self._received += got
                have += got
        return bytes(out)

    def _read_until_close(self):
        while True:
            try:
                self._fill()
            except ConnectionError:
                break
        body = bytes(self._buf)
        self.close()
        return body

    def _read_head(self):
        buf = self._buf
        start = 0
        while True:
            end = buf.find(b"\r\n\r\n", start)
            if end >= 0:
                break
            if len(buf) > _MAX_HEAD:
                raise ProtocolError("runtime api: headers longer than %d bytes" % _MAX_HEAD)
            start = max(len(buf) - 3, 0)
            self._fill()
        # Header values are UTF-8, as the Go server writes them and as
        # Lambda's client reads them.
        lines = buf[:end].decode("utf-8", "replace").split("\r\n")
        del buf[: end + 4]
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not _is_number(code):
            raise ProtocolError("runtime api: bad status line %r" % lines[0][:100])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError("runtime api: bad header line %r" % line[:100])
            name = name.strip().lower()
            value = value.strip()
            if name in headers:
                # Repeated headers read as one, comma-joined, as in http.client.
                headers[name] += ", " + value
            else:
                headers[name] = value
        return version, int(code), headers

    def _read_response(self):
        version, status, headers = self._read_head()
        while 100 <= status < 200:  # interim answers carry no body
            version, status, headers = self._read_head()
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            length = headers["content-length"]
            if not _is_number(length):
                raise ProtocolError("runtime api: bad Content-Length %r" % length[:100])
            body = self._read_exact(int(length))
        else:
            return Response(status, headers, self._read_until_close())
        connection = headers.get("connection", "").lower()
        if connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive"):
            self.close()
        return Response(status, headers, body)

    def _read_chunked(self):
        parts = []
        while True:
            line = self._read_line()
            size = line.split(b";", 1)[0].strip()
            if not size or size.strip(b"0123456789abcdefABCDEF"):
                raise ProtocolError("runtime api: bad chunk size %r" % line[:100])
            size = int(size, 16)
            if size == 0:
                break
            parts.append(self._read_exact(size))
            if self._read_line():
                raise ProtocolError("runtime api: chunk not followed by CRLF")
        while self._read_line():  # trailers, up to the empty line
            pass
        return b"".join(parts)

    # -------------------------------------------------------- the API

    def next(self):
        resp = self._call(self._next_request)
        if resp.status != 200:
            raise RuntimeError(
                "runtime api: /next answered %d: %s" % (resp.status, resp.body[:200])
            )
        return resp

    def _post(self, path, body, content_type, extra=""):
        request = (
            "POST %s HTTP/1.1\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
            % (path, self._host_line, content_type, len(body), extra)
        ).encode("latin-1")
        resp = self._call(request, body)
        if resp.status >= 500:
            # The platform says the environment is broken: end here, as
            # Lambda's client does.
            write_log("runtime api: %s answered %d: %s\n" % (path, resp.status, resp.body[:200]))
            sys.exit(1)
        # 400 (the invocation is no longer current) and 413 (result too
        # large) end the invocation on the platform's side; carry on.
        return resp.status

    def post_response(self, request_id, body, content_type):
        return self._post(
            "%s/invocation/%s/response" % (API_PREFIX, request_id), body, content_type
        )

    def post_error(self, request_id, doc, cause):
        # Like Lambda's Python client, no Lambda-Runtime-Function-Error-Type
        # header on invocation errors: the caller sees the body only.
        extra = ""
        if cause is not None:
            # json.dumps escapes every control character and non-ASCII
            # letter, so the cause cannot break out of its header line.
            encoded = json.dumps(cause)
            if len(encoded) < MAX_XRAY_CAUSE:
                extra = "Lambda-Runtime-Function-XRay-Error-Cause: %s\r\n" % encoded
        return self._post(
            "%s/invocation/%s/error" % (API_PREFIX, request_id),
            json.dumps(doc).encode("utf-8"),
            "application/json",
            extra,
        )

    def post_init_error(self, doc):
        error_type = doc.get("errorType") or "Runtime.Unknown"
        return self._post(
            API_PREFIX + "/init/error",
            json.dumps(doc).encode("utf-8"),
            "application/json",
            # The error type is the runtime's own Runtime.* name or the name
            # of an exception class: one line of ASCII letters and dots.
            "Lambda-Runtime-Function-Error-Type: %s\r\n" % _header_safe(error_type),
        )


def _is_number(text):
    return text.isascii() and text.isdigit()


def _header_safe(value):
    # A learner's exception class may have any name; keep it on one line.
    return "".join(c if " " <= c < "\x7f" else "?" for c in value)


# ---------------------------------------------------------------- the loop


def handle(api, handler, resp):
    global _current_request_id
    headers = resp.headers
    request_id = headers.get("lambda-runtime-aws-request-id") or ""
    _current_request_id = request_id

    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        # A value must not leak from the previous invocation of a warm instance.
        os.environ.pop("_X_AMZN_TRACE_ID", None)

    try:
        deadline_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
    except ValueError:
        deadline_ms = 0

    doc = cause = None
    try:
        context = LambdaContext(
            request_id,
            headers.get("lambda-runtime-invoked-function-arn"),
            deadline_ms,
            _parse_header_json(headers.get("lambda-runtime-client-context"), "Client Context"),
            _parse_header_json(headers.get("lambda-runtime-cognito-identity"), "Cognito Identity"),
        )
        event = unmarshal_event(resp.body, headers.get("content-type"))
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
    try:
        api = RuntimeAPI(address)
    except ValueError as e:
        sys.stderr.write("lambdalab python runtime: %s\n" % e)
        sys.exit(1)
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
        handle(api, handler, api.next())


if __name__ == "__main__":
    main()
