"""Pure-Python glue over smneo._smneo: the Client class users import, paginator
objects and client.exceptions. No protocol logic lives here: every request is
built, signed, sent, retried and parsed by the C core."""
import json
import os
import types
from typing import NamedTuple, Optional

from . import _config, _smneo

_OPERATIONS = {op["python_name"]: op for op in _smneo._operations()}
_BY_API_NAME = {op["name"]: op for op in _OPERATIONS.values()}


_PAGINATED = " or ".join(op["python_name"] for op in _OPERATIONS.values() if op["iter_name"])


def _operation(name):
    op = _OPERATIONS.get(name) or _BY_API_NAME.get(name)
    if op is None:
        raise ValueError("unknown operation %r: use one of %s" % (name, ", ".join(sorted(_OPERATIONS))))
    return op


class _Exceptions:
    """client.exceptions: ClientError and the modeled service errors."""

    ClientError = _smneo.ClientError

    def __init__(self):
        for name, cls in _smneo._modeled_errors.items():
            setattr(self, name, cls)

    def from_code(self, error_code):
        """The exception class for a service error code (ClientError when not modeled)."""
        return _smneo._modeled_errors.get(error_code, _smneo.ClientError)

    def __repr__(self):
        return "<smneo client exceptions: %s>" % ", ".join(["ClientError"] + sorted(_smneo._modeled_errors))


_EXCEPTIONS = _Exceptions()


def _param_error(path, rule, message):
    """A ParamValidationError with one issue, like the ones the core raises."""
    exc = _smneo.ParamValidationError("Parameter validation failed:\n%s: %s [%s]" % (path, message, rule))
    exc.issues = [_smneo.Issue("error", path, rule, message)]
    return exc


def _pagination_config(config):
    if config is not None and not isinstance(config, dict):
        raise _param_error("PaginationConfig", "type", "PaginationConfig must be a dict, not %s"
                           % type(config).__name__)
    config = dict(config or {})
    for key in sorted(set(config) - {"MaxItems", "PageSize", "StartingToken"}):
        raise _param_error("PaginationConfig." + key, "unknown-member",
                           "unknown PaginationConfig key %r: use MaxItems, PageSize or StartingToken" % key)
    max_items = config.get("MaxItems") or 0
    page_size = config.get("PageSize") or 0
    for key, value in (("MaxItems", max_items), ("PageSize", page_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _param_error("PaginationConfig." + key, "type", "must be a positive int, not %r" % (value,))
    token = config.get("StartingToken")
    if token is not None and not isinstance(token, str):
        raise _param_error("PaginationConfig.StartingToken", "type", "must be a str, not %r" % (token,))
    return int(max_items), int(page_size), token


class PageIterator:
    """Iterates over the pages (response dicts) of a paginated operation.

    After the run, ``resume_token`` holds a token for PaginationConfig's
    StartingToken when MaxItems stopped it early (else None)."""

    def __init__(self, client, operation, params, max_items, page_size, starting_token):
        self._client = client
        self._op = operation
        self._params = params
        self._max_items = max_items
        self._page_size = page_size
        self._starting_token = starting_token
        self.resume_token = None

    @property
    def result_keys(self):
        return [self._op["result_key"]]

    def __iter__(self):
        run = self._client._paginate(self._op["name"], self._params, self._max_items, self._page_size,
                                     self._starting_token, True)
        try:
            for page in run:
                yield page
        finally:
            self.resume_token = run.resume_token
            run.close()

    def build_full_result(self):
        """All pages merged as botocore does: the result list concatenated, plus
        NextToken (the resume token) when MaxItems stopped the run early."""
        key = self._op["result_key"]
        out = {}
        for page in self:
            value = page.get(key)
            if value is None:
                continue
            if key in out:
                out[key].extend(value)
            else:
                out[key] = list(value)
        if self.resume_token is not None:
            out["NextToken"] = self.resume_token
        return out

    def search(self, expression):
        """Yields the matches of a JMESPath expression over every page (needs jmespath)."""
        import jmespath

        compiled = jmespath.compile(expression)
        for page in self:
            result = compiled.search(page)
            if isinstance(result, list):
                yield from result
            else:
                yield result


class Paginator:
    """client.get_paginator(name): paginate(PaginationConfig=..., **params)."""

    def __init__(self, client, operation):
        self._client = client
        self._op = operation

    def paginate(self, PaginationConfig=None, **kwargs):  # noqa: N803 (boto3's name)
        max_items, page_size, token = _pagination_config(PaginationConfig)
        return PageIterator(self._client, self._op, kwargs, max_items, page_size, token)

    def __repr__(self):
        return "<smneo.Paginator %s>" % self._op["python_name"]


class CompileResult(NamedTuple):
    """What Client.compile returns."""
    job: dict                      # the final DescribeCompilationJob result
    job_name: str
    artifact_path: Optional[str]   # the downloaded, verified compiled archive
    extracted_dir: Optional[str]   # with extract=True
    digest_verified: bool          # checked against ModelDigests.ArtifactDigest
    input_uri: Optional[str]       # where the model archive is in S3
    issues: list                   # warnings gathered on the way (smneo.Issue)


def _json_text(value, name):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    raise _param_error(name, "type", "must be JSON text or a dict/list, not %s" % type(value).__name__)


class Client(_smneo.Client):
    """smneo.Client(region_name=None, endpoint_url=None, profile_name=None, aws_access_key_id=None,
    aws_secret_access_key=None, aws_session_token=None, max_attempts=None, retry_mode=None,
    connect_timeout=None, read_timeout=60, verify=None, validation="strict",
    allow_unknown_enum_values=False, config=None, use_ssl=True, api_version=None, aws_account_id=None)

    A SageMaker Neo client that takes boto3's arguments and returns boto3's dicts.
    None means "resolve as boto3 does" (environment, shared config files, the
    credential chain). validation: "strict" refuses requests with errors before
    sending (ParamValidationError lists every issue), "warn" sends anyway, "off"
    skips the checks; in every mode an unknown member or a value of the wrong
    type is a ParamValidationError. Findings that did not block a call come as
    smneo.ValidationWarning after it succeeded. config: a botocore.config.Config;
    every field is honoured or refused by name (docs/python.md). Retries default
    to botocore's: legacy mode, 5 attempts (standard, 3, with
    AWS_NEW_RETRIES_2026=true), with AWS_RETRY_MODE, AWS_MAX_ATTEMPTS,
    AWS_DEFAULTS_MODE and the profile's keys read as botocore reads them.
    Thread-safe: one client can be shared by many threads. close() (or a with
    block) releases its connections.
    """

    def __init__(self, region_name=None, endpoint_url=None, profile_name=None, aws_access_key_id=None,
                 aws_secret_access_key=None, aws_session_token=None, max_attempts=None, retry_mode=None,
                 connect_timeout=None, read_timeout=None, verify=None, validation="strict",
                 allow_unknown_enum_values=False, config=None, use_ssl=True, api_version=None,
                 aws_account_id=None, **internal):
        if region_name == "sagemaker":
            raise ValueError("smneo.Client takes no service name: replace boto3.client(\"sagemaker\", ...) "
                             "with smneo.Client(...) and pass the region as region_name=")
        from_config, settings = _config.from_config(config)
        settings.update(_config.client_arguments(use_ssl, verify, api_version, aws_account_id))
        # Explicit arguments win over the Config's, as in boto3.
        region_name = region_name or from_config.get("region_name")
        if max_attempts is None:
            max_attempts = from_config.get("max_attempts")
        retry_mode = retry_mode or from_config.get("retry_mode")
        if connect_timeout is None:
            connect_timeout = from_config.get("connect_timeout")
        if read_timeout is None:
            read_timeout = from_config.get("read_timeout", 60)
        if from_config.get("validation") and validation == "strict":
            validation = from_config["validation"]
        self.aws_account_id = aws_account_id
        super().__init__(region_name, endpoint_url, profile_name, aws_access_key_id, aws_secret_access_key,
                         aws_session_token, max_attempts, retry_mode, connect_timeout, read_timeout, verify,
                         validation, allow_unknown_enum_values, _settings=settings, **internal)
        self.meta = types.SimpleNamespace(region_name=self.region_name, endpoint_url=self.endpoint_url,
                                          service_name="sagemaker", config=config)

    @property
    def exceptions(self):
        """ClientError and the modeled errors: client.exceptions.ResourceNotFound etc."""
        return _EXCEPTIONS

    def can_paginate(self, operation_name):
        """True for the operations with a paginator (%s)."""
        op = _OPERATIONS.get(operation_name) or _BY_API_NAME.get(operation_name)
        return bool(op and op["iter_name"])

    def get_paginator(self, operation_name):
        """A Paginator for an operation that pages (%s)."""
        op = _operation(operation_name)
        if not op["iter_name"]:
            raise ValueError("operation %s cannot be paginated: use %s" % (operation_name, _PAGINATED))
        return Paginator(self, op)

    def compile(self, model, *, framework, role_arn, s3_bucket, target_device=None, target_os=None,
                target_arch=None, target_accelerator=None, data_input_config=None, framework_version=None,
                compiler_options=None, s3_prefix=None, job_name=None, output_dir=None, extract=False,
                timeout=None, delay=None, max_delay=None, max_runtime_seconds=None, tags=None, kms_key_id=None,
                keep_job_on_cancel=False, callback=None):
        """The whole Neo flow in one call (docs/compile.md): pack the model directory
        (or take a .tar.gz), check its layout, validate the request, upload it
        (skipped when the same content is there), create the job, wait, download
        the compiled artifact into output_dir and verify its digest; extract it
        with extract=True. data_input_config / compiler_options: JSON text or a
        dict/list. Either target_device or target_os + target_arch
        (+ target_accelerator). callback(event) gets dicts with kind (PACK,
        PACKED, UPLOAD, UPLOADED, CREATED, STATUS, DOWNLOAD, VERIFIED, WARNING,
        STOPPING, WAITING), message, done, total, elapsed and description (STATUS);
        returning False cancels (the job is stopped unless keep_job_on_cancel).
        Ctrl-C cancels too. Returns a CompileResult; raises CompilationJobFailed
        (FailureReason, last_response), ParamValidationError (layout or request),
        DigestMismatchError, ClientError, WaiterTimeout..."""
        options = {
            "model": os.fspath(model), "framework": framework, "role_arn": role_arn, "s3_bucket": s3_bucket,
            "target_device": target_device, "target_os": target_os, "target_arch": target_arch,
            "target_accelerator": target_accelerator,
            "data_input_config": _json_text(data_input_config, "data_input_config"),
            "framework_version": framework_version,
            "compiler_options": _json_text(compiler_options, "compiler_options"),
            "s3_prefix": s3_prefix, "job_name": job_name,
            "output_dir": os.fspath(output_dir) if output_dir is not None else None,
            "extract": bool(extract), "timeout": timeout, "delay": delay, "max_delay": max_delay,
            "max_runtime_seconds": max_runtime_seconds, "tags_json": _json_text(tags, "tags"),
            "kms_key_id": kms_key_id, "keep_job_on_cancel": bool(keep_job_on_cancel),
        }
        return CompileResult(**self._compile(options, callback))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
Client.can_paginate.__doc__ %= _PAGINATED
Client.get_paginator.__doc__ %= _PAGINATED


def _item_iterator(op):
    def iterate(self, **kwargs):
        return self._paginate(op["name"], kwargs, 0, 0, None, False)

    iterate.__name__ = op["iter_name"]
    iterate.__qualname__ = "Client." + op["iter_name"]
    iterate.__doc__ = ("%s(**kwargs): yields every item of %s (its %s) over all pages, in constant memory."
                       % (op["iter_name"], op["python_name"], op["result_key"]))
    return iterate


# One item iterator per operation with a paginator, named by the model
# table (list_x -> iter_x), as the Lua binding's.
for _op in _OPERATIONS.values():
    if _op["iter_name"]:
        setattr(Client, _op["iter_name"], _item_iterator(_op))
Client.__module__ = "smneo"
CompileResult.__module__ = "smneo"
Paginator.__module__ = "smneo"
PageIterator.__module__ = "smneo"
