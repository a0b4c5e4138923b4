"""smneo: a fast, validating, boto3-compatible client for the Amazon SageMaker Neo
compilation API.

Replace ``boto3.client("sagemaker")`` with ``smneo.Client()`` for the Neo
operations: same keyword arguments, same response dicts, same exception
shapes, plus validation before sending, a waiter, and far less overhead.

    import smneo
    with smneo.Client(region_name="us-west-2") as client:
        client.create_compilation_job(CompilationJobName="resnet", RoleArn=..., InputConfig={...},
                                      OutputConfig={...}, StoppingCondition={...})
        job = client.wait_for_compilation_job("resnet")

The protocol lives in the C core (libsmneo); this package only converts values.
"""
try:
    from . import _smneo
except ImportError as _exc:  # the C extension is not built: keep `import smneo.local` working
    _IMPORT_ERROR = _exc

    def __getattr__(name):
        raise ImportError(
            "smneo's C extension is not built or cannot be loaded (%s): run "
            "`python3 setup.py build_ext --inplace` in the repository, or `pip install .`" % _IMPORT_ERROR)
else:
    from ._smneo import (  # noqa: F401  (re-exported)
        Issue,
        Request,
        ValidationWarning,
        LogWarning,
        parse_response,
        validate,
    )
    from ._glue import Client, CompileResult, CompileRow, PageIterator, Paginator
    from . import artifact  # noqa: F401  (smneo.artifact)
    from .diagnosis import Diagnosis, explain
    from . import _errors

    def __getattr__(name):
        # The exception classes (ClientError, NoCredentialsError, ...) and the modeled
        # service errors (ResourceNotFound, ...) are made on first use, inheriting
        # botocore's where it is importable: `import smneo` does not import botocore.
        if name in _errors.NAMES or name in _errors.MODELED:
            cls = _errors.classes()[name]
            globals()[name] = cls
            return cls
        raise AttributeError("module 'smneo' has no attribute %r" % name)

    def _extension_getattr(name):
        # the same classes as attributes of smneo._smneo (where _smneo.pyi declares them)
        if name in _errors.NAMES or name in _errors.MODELED:
            return _errors.classes()[name]
        if name == "_modeled_errors":
            return _errors.classes()["_modeled"]
        raise AttributeError("module 'smneo._smneo' has no attribute %r" % name)

    _smneo.__getattr__ = _extension_getattr

    def set_stream_logger(name="smneo", level=10, format_string=None):
        """Logs `name` (default "smneo": the core's debug log of requests, responses
        and retries, secrets redacted) to stderr at `level` (default DEBUG), as
        boto3.set_stream_logger does."""
        import logging

        if format_string is None:
            format_string = "%(asctime)s %(name)s [%(levelname)s] %(message)s"
        logger = logging.getLogger(name)
        logger.setLevel(level)
        handler = logging.StreamHandler()
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter(format_string))
        logger.addHandler(handler)

    __version__ = _smneo.__version__
    core_version = _smneo.core_version

    __all__ = [
        "Client", "CompileResult", "CompileRow", "Paginator", "PageIterator", "Issue", "Request", "validate", "parse_response",
        "SmneoError", "ClientError", "ParamValidationError", "NoCredentialsError", "CredentialRetrievalError",
        "TokenRetrievalError", "UnauthorizedSSOTokenError", "NoRegionError", "HTTPClientError", "EndpointConnectionError", "SSLError", "ReadTimeoutError",
        "ConnectionClosedError", "ResponseParserError", "PaginationError", "WaiterError", "CompilationJobFailed",
        "CompilationJobStopped", "WaiterTimeout", "WaiterCancelled", "ArtifactError", "UnsafeArchiveError",
        "DigestMismatchError", "ValidationWarning", "LogWarning", "Diagnosis", "explain", "ConnectTimeoutError",
        "set_stream_logger",
        "ProxyConnectionError", "S3UploadFailedError", "artifact",
    ] + list(_errors.MODELED)
