"""smneo's exception classes, created on first use (docs/python.md, "Exceptions").

Where botocore is importable, each class is also a real subclass of
botocore's counterpart (``except botocore.exceptions.ClientError`` catches
smneo's), with botocore's attributes (``response``, ``operation_name``,
``kwargs``, ``fmt``). Importing ``botocore.exceptions`` costs milliseconds, so
nothing here runs at ``import smneo``: the classes are built once, by the
first of ``smneo.<ErrorName>``, ``client.exceptions.<Name>`` or the
extension's first raise (which calls :func:`classes`). Without botocore the
same tree stands alone.
"""
import importlib
import threading

from . import _smneo

# name -> (smneo base, botocore counterpart or None, botocore's fmt, attributes
# a keyword argument sets on the instance). Order matters: bases come first.
# The fmt strings are the messages botocore formats from the keyword
# arguments; they are used only when botocore is absent (else inherited).
_TREE = (
    ("SmneoError", None, None, None, (),
     "Base class of every smneo error (the role of botocore's BotoCoreError)."),
    ("ClientError", "SmneoError", "ClientError", None, (),
     "The service answered with an error. .response is boto3's error dict\n"
     "({'Error': {'Code', 'Message'}, 'ResponseMetadata': {...}}), .operation_name the API name."),
    ("ParamValidationError", "SmneoError", "ParamValidationError", "Parameter validation failed:\n{report}", (),
     "Parameters refused before sending. .issues lists every finding\n"
     "(smneo.Issue: severity, path, rule, message)."),
    ("NoCredentialsError", "SmneoError", "NoCredentialsError", "Unable to locate credentials", (),
     "No credentials were found anywhere in the chain."),
    ("CredentialRetrievalError", "SmneoError", "CredentialRetrievalError",
     "Error when retrieving credentials from {provider}: {error_msg}", (),
     "A credential source exists but could not provide credentials."),
    ("TokenRetrievalError", "CredentialRetrievalError", "TokenRetrievalError",
     "Error when retrieving token from {provider}: {error_msg}", (),
     "The SSO token is not cached, or expired and could not be refreshed: the message says which\n"
     "`aws sso login` to run."),
    ("UnauthorizedSSOTokenError", "CredentialRetrievalError", "UnauthorizedSSOTokenError",
     "The SSO session associated with this profile has expired or is otherwise invalid. To refresh this SSO "
     "session run aws sso login with the corresponding profile.", (),
     "The SSO session expired or the portal refused its token: run the `aws sso login` the message names."),
    ("NoRegionError", "SmneoError", "NoRegionError", "You must specify a region.", (),
     "No region: pass region_name or set AWS_REGION."),
    ("HTTPClientError", "SmneoError", "HTTPClientError", "An HTTP Client raised an unhandled exception: {error}",
     ("request", "response"), "The request could not be sent or answered."),
    ("EndpointConnectionError", "HTTPClientError", "EndpointConnectionError",
     'Could not connect to the endpoint URL: "{endpoint_url}"', (),
     "Could not connect to the endpoint (refused, unreachable, DNS)."),
    ("SSLError", "EndpointConnectionError", "SSLError", "SSL validation failed for {endpoint_url} {error}", (),
     "TLS handshake or certificate verification failed."),
    ("ProxyConnectionError", "HTTPClientError", "ProxyConnectionError",
     'Failed to connect to proxy URL: "{proxy_url}"', (),
     "The proxy could not be resolved or refused the connection."),
    ("ConnectTimeoutError", "HTTPClientError", "ConnectTimeoutError",
     'Connect timeout on endpoint URL: "{endpoint_url}"', (),
     "No connection to the endpoint within connect_timeout."),
    ("ReadTimeoutError", "HTTPClientError", "ReadTimeoutError", 'Read timeout on endpoint URL: "{endpoint_url}"', (),
     "No data from the endpoint within read_timeout."),
    ("ConnectionClosedError", "HTTPClientError", "ConnectionClosedError",
     'Connection was closed before we received a valid response from endpoint URL: "{endpoint_url}".', (),
     "The connection was closed (or reset) before a complete response arrived."),
    ("ResponseParserError", "SmneoError", None, None, (), "The response was malformed or truncated."),
    ("PaginationError", "SmneoError", "PaginationError", "Error during pagination: {message}", (),
     "A paginator received the same next token twice (botocore's PaginationError)."),
    ("WaiterError", "SmneoError", "WaiterError", "Waiter {name} failed: {reason}", ("last_response",),
     "Base class of the waiter's errors (.last_response: the last description)."),
    ("CompilationJobFailed", "WaiterError", None, None, ("FailureReason",),
     "The compilation job ended FAILED; .FailureReason holds the service's reason."),
    ("CompilationJobStopped", "WaiterError", None, None, (), "The compilation job ended STOPPED."),
    ("WaiterTimeout", "WaiterError", None, None, (), "The waiter's overall timeout elapsed."),
    ("WaiterCancelled", "WaiterError", None, None, (), "The waiter's callback returned False."),
    ("ArtifactError", "SmneoError", None, None, (),
     "A model archive could not be packed, read or checked (a ValueError)."),
    ("UnsafeArchiveError", "ArtifactError", None, None, (),
     "An archive was refused: a path leaving the destination, a device node, or a size/ratio limit (gzip bomb)."),
    ("DigestMismatchError", "ArtifactError", None, None, (), "The file's digest differs from the expected one."),
    ("S3UploadFailedError", "SmneoError", None, None, (),
     "upload_file/upload_fileobj met an S3 error (boto3's S3UploadFailedError, a subclass of it where boto3\n"
     "is importable): the message is 'Failed to upload FILE to BUCKET/KEY: ' and the ClientError's text;\n"
     "__cause__ is the ClientError."),
)
# boto3's (not botocore's) counterparts, module and class
_BOTO3 = {"S3UploadFailedError": ("boto3.exceptions", "S3UploadFailedError")}
# also ValueError, as before botocore parity (ParamValidationError, ArtifactError)
_VALUE_ERRORS = ("ParamValidationError", "ArtifactError")

NAMES = frozenset(entry[0] for entry in _TREE)
MODELED = tuple(sorted({code for op in _smneo._operations() for code in op["errors"]}))

_lock = threading.Lock()
_classes = None


def _botocore_exceptions():
    try:  # import_module: botocore is optional, type checkers need not know it
        return importlib.import_module("botocore.exceptions")
    except ImportError:
        return None


def _format(fmt, kwargs):
    if fmt is None:
        return None
    try:
        return fmt.format(**kwargs)
    except (KeyError, IndexError, ValueError, AttributeError):
        return None


def _rebuild(cls, args, state):
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class _SmneoErrorMethods:
    """The methods of SmneoError (copied into the class built at run time)."""

    def __init__(self, *args, **kwargs):
        # botocore's keyword form (NoRegionError(), EndpointConnectionError(endpoint_url=...))
        # and smneo's (a detail text, optionally with botocore's keywords): the message is
        # botocore's formatted fmt, followed by the detail when it adds something.
        for name in type(self)._smneo_attrs:
            setattr(self, name, kwargs.pop(name, getattr(self, name, None)))
        base = _format(getattr(self, "fmt", None), kwargs)
        if len(args) == 1 and base is not None:
            detail = str(args[0])
            args = (detail if detail.startswith(base) else "%s: %s" % (base, detail),)
        elif not args and base is not None:
            args = (base,)
        Exception.__init__(self, *args)
        self.kwargs = kwargs

    def __reduce__(self):
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _client_error_init(self, error_response, operation_name=None):
    """ClientError(error_response, operation_name), with botocore's message."""
    error = error_response.get("Error", {}) if isinstance(error_response, dict) else {}
    metadata = error_response.get("ResponseMetadata", {}) if isinstance(error_response, dict) else {}
    retry = ""
    if isinstance(metadata, dict) and metadata.get("MaxAttemptsReached") and "RetryAttempts" in metadata:
        retry = " (reached max retries: %s)" % metadata["RetryAttempts"]
    code = error.get("Code", "Unknown") if isinstance(error, dict) else "Unknown"
    message = error.get("Message", "Unknown") if isinstance(error, dict) else "Unknown"
    Exception.__init__(self, "An error occurred (%s) when calling the %s operation%s: %s"
                       % (code, operation_name, retry, message))
    self.response = error_response
    self.operation_name = operation_name


def _client_error_reduce(self):
    return type(self), (self.response, self.operation_name)


def _build():
    bce = _botocore_exceptions()
    out = {}
    for name, parent, botocore_name, fmt, attrs, doc in _TREE:
        bases = []
        if parent is not None:
            bases.append(out[parent])
        if name in _VALUE_ERRORS:
            bases.append(ValueError)
        counterpart = getattr(bce, botocore_name, None) if bce is not None and botocore_name else None
        if name in _BOTO3 and bce is not None:
            try:
                counterpart = getattr(importlib.import_module(_BOTO3[name][0]), _BOTO3[name][1], None)
            except ImportError:
                counterpart = None
        if counterpart is not None:
            bases.append(counterpart)
        if not bases:
            bases.append(Exception)
        ns = {"__module__": "smneo", "__doc__": doc, "__qualname__": name,
              "_smneo_attrs": tuple(attrs) + (out[parent]._smneo_attrs if parent else ())}
        if fmt is not None:  # botocore's own when present (the same text, a newer botocore may differ)
            ns["fmt"] = getattr(counterpart, "fmt", fmt)
        if parent is None:
            ns["__init__"] = _SmneoErrorMethods.__init__
            ns["__reduce__"] = _SmneoErrorMethods.__reduce__
            ns["fmt"] = None
        if name == "ClientError":
            ns["__init__"] = _client_error_init
            ns["__reduce__"] = _client_error_reduce
        out[name] = type(name, tuple(bases), ns)
    modeled = {}
    for code in MODELED:
        modeled[code] = type(code, (out["ClientError"],), {
            "__module__": "smneo", "__qualname__": code,
            "__doc__": "The modeled service error %s (a ClientError)." % code})
    out.update(modeled)
    out["_modeled"] = modeled
    out["_botocore"] = bce is not None
    return out


def classes():
    """Every exception class by name (built on the first call); "_modeled" maps
    the service error codes to theirs, "_botocore" says whether they inherit
    botocore's."""
    global _classes
    if _classes is None:
        with _lock:
            if _classes is None:
                _classes = _build()
    return _classes
