"""Pure-Python glue over smneo._smneo: the Client class users import, paginator
objects and client.exceptions. No protocol logic lives here: every request is
built, signed, sent, retried and parsed by the C core."""
import os
import sys
from typing import NamedTuple, Optional

from . import _config, _display, _errors, _events, _moto, _smneo

_OPERATIONS = {op["python_name"]: op for op in _smneo._operations()}
_BY_API_NAME = {op["name"]: op for op in _OPERATIONS.values()}


_PAGINATED = " or ".join(op["python_name"] for op in _OPERATIONS.values() if op["iter_name"])


def _operation(name):
    op = _OPERATIONS.get(name) or _BY_API_NAME.get(name)
    if op is None:
        raise ValueError("unknown operation %r: use one of %s" % (name, ", ".join(sorted(_OPERATIONS))))
    return op


# boto3's S3 transfer arguments (Client.upload_file etc.) into the core's options
_UPLOAD_EXTRA_ARGS = {"ContentType": "content_type", "Metadata": "metadata",
                      "ServerSideEncryption": "server_side_encryption", "SSEKMSKeyId": "sse_kms_key_id"}


def _transfer_filename(filename):
    if isinstance(filename, os.PathLike):
        filename = os.fspath(filename)
    if not isinstance(filename, str):
        raise ValueError("Filename must be a string or a path-like object")
    return filename


def _s3_uri(bucket, key):
    for label, v in (("Bucket", bucket), ("Key", key)):
        if not isinstance(v, str) or not v:
            raise _param_error(label, "required", "must be a non-empty str")
    return "s3://%s/%s" % (bucket, key)


def _upload_extra_args(extra_args):
    options = {}
    for name, value in (extra_args or {}).items():
        if name not in _UPLOAD_EXTRA_ARGS:
            raise ValueError("Invalid extra_args key %r: smneo's upload_file takes %s"
                             % (name, ", ".join(sorted(_UPLOAD_EXTRA_ARGS))))
        options[_UPLOAD_EXTRA_ARGS[name]] = value
    return options


def _download_extra_args(extra_args):
    for name in extra_args or {}:
        raise ValueError("Invalid extra_args key %r: smneo's download_file takes no ExtraArgs" % (name,))


def _transfer_options(config):
    """A TransferConfig (or any object with its attribute names) as core options."""
    if config is None:
        return {}
    options = {}
    for attr, key in (("multipart_threshold", "multipart_threshold"), ("multipart_chunksize", "part_size"),
                      ("max_concurrency", "concurrency")):
        v = getattr(config, attr, None)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError("Config.%s must be a positive int, not %r" % (attr, v))
            options[key] = v
    if getattr(config, "use_threads", True) is False:
        options["concurrency"] = 1
    return options


def _increments(callback):
    """boto3's Callback(bytes_amount) from the core's (done, total)."""
    if callback is None:
        return None
    if not callable(callback):
        raise TypeError("Callback must be callable")
    last = [0]

    def progress(done, total):
        if done > last[0]:
            amount = done - last[0]
            last[0] = done
            callback(amount)
    return progress


class _Exceptions:
    """client.exceptions, as botocore's: ClientError and the modeled service
    errors (classes made on first use, see smneo._errors)."""

    def __getattr__(self, name):
        if name == "ClientError" or name in _errors.MODELED:
            cls = _errors.classes()[name]
            setattr(self, name, cls)
            return cls
        raise AttributeError("%r object has no attribute %r: the modeled errors are %s"
                             % (type(self).__name__, name, ", ".join(_errors.MODELED)))

    def __dir__(self):
        return ["ClientError", "from_code"] + list(_errors.MODELED)

    def from_code(self, error_code):
        """The exception class for a service error code (ClientError when not modeled)."""
        all_classes = _errors.classes()
        return all_classes["_modeled"].get(error_code, all_classes["ClientError"])

    def __repr__(self):
        return "<smneo client exceptions: %s>" % ", ".join(["ClientError"] + list(_errors.MODELED))


_EXCEPTIONS = _Exceptions()


def _param_error(path, rule, message):
    """A ParamValidationError with one issue, like the ones the core raises."""
    exc = _errors.classes()["ParamValidationError"](report="%s: %s [%s]" % (path, message, rule))
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
        pages = list(self)
        return merge_pages(self._op["result_key"], pages, self.resume_token)

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


def merge_pages(key, pages, resume_token):
    """build_full_result's merge (shared with smneo.aio)."""
    out = {}
    for page in pages:
        value = page.get(key)
        if value is None:
            continue
        if key in out:
            out[key].extend(value)
        else:
            out[key] = list(value)
    if resume_token is not None:
        out["NextToken"] = resume_token
    return out


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


# Result dicts with a notebook display (smneo.Client's and smneo.aio's methods).
RESULT_TYPES = {"DescribeCompilationJob": _display.JobDescription, "ListCompilationJobs": _display.JobList}
# The C methods make these results as these types directly (no Python-level
# wrapper and no copy of the dict on every call: issue 17).
for _name, _type in RESULT_TYPES.items():
    _smneo._set_result_type(_name, _type)
del _name, _type


class CompileResult(NamedTuple):
    """What Client.compile returns."""
    job: dict                      # the final DescribeCompilationJob result
    job_name: str
    artifact_path: Optional[str]   # the downloaded, verified compiled archive
    extracted_dir: Optional[str]   # with extract=True
    digest_verified: bool          # checked against ModelDigests.ArtifactDigest
    input_uri: Optional[str]       # where the model archive is in S3
    issues: list                   # warnings gathered on the way (smneo.Issue)
    logs: list = []                # FAILED: the job log's last 50 events ({"timestamp", "message"})
    diagnosis: Optional[dict] = None  # FAILED: the smneo.Diagnosis of the description and those lines

    _repr_html_ = _display.result_html      # IPython: a compact table (docs/python.md, Notebooks)
    _repr_pretty_ = _display.result_pretty


def _diagnosis(d):
    from .diagnosis import Diagnosis
    return Diagnosis(d) if isinstance(d, dict) else d


def compile_result(out):
    """The core's compile() dict as a CompileResult (smneo.Client's and smneo.aio's)."""
    out["diagnosis"] = _diagnosis(out.get("diagnosis"))
    return CompileResult(**out)


def compile_failed(e):
    """A CompilationJobFailed from the core, its diagnosis a smneo.Diagnosis."""
    if hasattr(e, "diagnosis"):
        e.diagnosis = _diagnosis(e.diagnosis)
    last = getattr(e, "compile_result", None)
    if isinstance(last, dict):
        last["diagnosis"] = getattr(e, "diagnosis", None)


def compile_arguments(args, kwargs):
    """compile()'s arguments (smneo.Client.compile's signature, the same
    TypeErrors) -> (the core's options dict, callback, progress)."""
    import inspect
    bound = inspect.signature(Client.compile).bind(None, *args, **kwargs)
    bound.apply_defaults()
    given = dict(bound.arguments)
    given.pop("self")
    callback, progress = given.pop("callback"), given.pop("progress")
    return _compile_options(**given), callback, progress


def _epoch_ms(value, name):
    """A datetime (naive = UTC) or epoch seconds, as botocore takes timestamps, in ms."""
    import datetime  # here, not at import: `import smneo` stays fast (issue 17)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(round(value.timestamp() * 1000))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise _param_error(name, "range", "must not be before 1970")
        return int(round(value * 1000))
    raise _param_error(name, "type", "must be a datetime or epoch seconds, not %s" % type(value).__name__)


def _json_text(value, name):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        import json
        return json.dumps(value)
    raise _param_error(name, "type", "must be JSON text or a dict/list, not %s" % type(value).__name__)


def _compile_options(model=None, *, framework=None, role_arn, s3_bucket=None, target_device=None, target_os=None,
                     target_arch=None, target_accelerator=None, data_input_config=None, framework_version=None,
                     compiler_options=None, s3_prefix=None, job_name=None, output_dir=None, extract=False,
                     timeout=None, delay=None, max_delay=None, max_runtime_seconds=None, tags=None,
                     kms_key_id=None, keep_job_on_cancel=False, follow_logs=False, vpc_config=None,
                     model_package_version_arn=None, max_wait_seconds=None, max_pending_seconds=None):
    """compile()'s keywords as the options dict of the core."""
    return {
        "model": os.fspath(model) if model is not None else None, "framework": framework, "role_arn": role_arn, "s3_bucket": s3_bucket,
        "target_device": target_device, "target_os": target_os, "target_arch": target_arch,
        "target_accelerator": target_accelerator,
        "data_input_config": _json_text(data_input_config, "data_input_config"),
        "framework_version": framework_version,
        "compiler_options": _json_text(compiler_options, "compiler_options"),
        "s3_prefix": s3_prefix, "job_name": job_name,
        "output_dir": os.fspath(output_dir) if output_dir is not None else None,
        "extract": bool(extract), "timeout": timeout, "delay": delay, "max_delay": max_delay,
        "max_runtime_seconds": max_runtime_seconds, "tags": _json_text(tags, "tags"),
        "kms_key_id": kms_key_id, "keep_job_on_cancel": bool(keep_job_on_cancel),
        "follow_logs": bool(follow_logs),
        "vpc_config": _json_text(vpc_config, "vpc_config"),
        "model_package_version_arn": model_package_version_arn,
        "max_wait_seconds": max_wait_seconds, "max_pending_seconds": max_pending_seconds,
    }


def _job_logs_args(name, start_time, follow, delay, max_delay, tail):
    """get_compilation_job_logs' keywords checked, as _job_logs' arguments
    (shared with smneo.aio)."""
    if not isinstance(name, str) or not name:
        raise _param_error("name", "required", "give the CompilationJobName")
    if follow and tail:
        raise _param_error("tail", "conflict", "tail reads the log as it is: it cannot be combined with follow")
    for label, v in (("delay", delay), ("max_delay", max_delay)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
            raise _param_error(label, "range", "must be a positive number of seconds")
    if tail is not None and (isinstance(tail, bool) or not isinstance(tail, int) or tail < 1):
        raise _param_error("tail", "range", "must be a positive number of lines")
    start = _epoch_ms(start_time, "start_time") if start_time is not None else 0
    return name, start, bool(follow), float(delay or 0), float(max_delay or 0), tail or 0


class CompileRow(NamedTuple):
    """One job of Client.compile_many."""
    model: str
    target: str                        # TargetDevice, or OS/ARCH[/ACCELERATOR]
    compilation_job_name: Optional[str]  # None when the job never started
    compilation_job_status: str        # COMPLETED, FAILED, STOPPED, STOPPING, or "" (never started)
    duration_seconds: float
    artifact_path: Optional[str]
    digest_verified: bool
    failure_reason: Optional[str]
    stopped_by_smneo: bool             # a cancel stopped it (a rerun starts it again)
    skipped: bool                      # completed in the state file: not run again
    diagnosis: Optional[dict] = None   # FAILED in this call: a smneo.Diagnosis, as compile() gives it


def _target_keywords(target):
    """A models x targets target: "ml_c5", "OS/ARCH[/ACCELERATOR]" or a dict of compile() keywords."""
    if isinstance(target, dict):
        return dict(target)
    if not isinstance(target, str) or not target:
        raise TypeError("compile_many: a target is a device name such as \"ml_c5\", a platform such as "
                        "\"LINUX/ARM64\" or a dict of compile() keywords, not %r" % (target,))
    parts = target.split("/")
    if len(parts) == 1:
        return {"target_device": target}
    if len(parts) in (2, 3) and all(parts):
        return dict(zip(("target_os", "target_arch", "target_accelerator"), parts))
    raise ValueError("compile_many: target %r: give a device (\"ml_c5\") or OS/ARCH[/ACCELERATOR] "
                     "(\"LINUX/ARM64\")" % target)


class Client(_smneo.Client):
    """smneo.Client(region_name=None, endpoint_url=None, profile_name=None, aws_access_key_id=None,
    aws_secret_access_key=None, aws_session_token=None, max_attempts=None, retry_mode=None,
    connect_timeout=None, read_timeout=60, verify=None, validation="strict",
    allow_unknown_enum_values=False, config=None, use_ssl=True, api_version=None, aws_account_id=None,
    mfa_token_callback=None)

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
    mfa_token_callback: for a profile that assumes a role with mfa_serial, a
    callable given botocore's prompt ("Enter MFA code for ARN: ") that returns
    the current code as a str, like botocore's prompter (getpass.getpass fits).
    Thread-safe: one client can be shared by many threads. close() (or a with
    block) releases its connections.
    """

    def __init__(self, region_name=None, endpoint_url=None, profile_name=None, aws_access_key_id=None,
                 aws_secret_access_key=None, aws_session_token=None, max_attempts=None, retry_mode=None,
                 connect_timeout=None, read_timeout=None, verify=None, validation="strict",
                 allow_unknown_enum_values=False, config=None, use_ssl=True, api_version=None,
                 aws_account_id=None, mfa_token_callback=None, **internal):
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
        if endpoint_url is None and "_transport" not in internal:
            mocks = sys.modules.get("smneo.local.mock")  # loaded only where smneo.local.mock() is used
            transport = mocks.current_transport() if mocks is not None else None
            if transport is not None:  # inside smneo.local.mock(): answered in-process
                internal["_transport"] = transport
            elif _moto.active():  # inside moto's mock_aws: moto's backends, never AWS
                internal["_transport"] = _moto.transport
        super().__init__(region_name, endpoint_url, profile_name, aws_access_key_id, aws_secret_access_key,
                         aws_session_token, max_attempts, retry_mode, connect_timeout, read_timeout, verify,
                         validation, allow_unknown_enum_values, _settings=settings,
                         mfa_token_callback=mfa_token_callback, **internal)
        self.meta = _events.Meta(self, _OPERATIONS.values(), config)

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

    def compile(self, model=None, *, framework=None, role_arn, s3_bucket=None, target_device=None, target_os=None,
                target_arch=None, target_accelerator=None, data_input_config=None, framework_version=None,
                compiler_options=None, s3_prefix=None, job_name=None, output_dir=None, extract=False,
                timeout=None, delay=None, max_delay=None, max_runtime_seconds=None, tags=None, kms_key_id=None,
                keep_job_on_cancel=False, callback=None, follow_logs=False, vpc_config=None,
                model_package_version_arn=None, max_wait_seconds=None, max_pending_seconds=None, progress=False):
        """The whole Neo flow in one call (docs/compile.md): pack the model directory
        (or take a .tar.gz), check its layout, validate the request, upload it
        (skipped when the same content is there), create the job, wait, download
        the compiled artifact into output_dir and verify its digest; extract it
        with extract=True. data_input_config / compiler_options: JSON text or a
        dict/list. Either target_device or target_os + target_arch
        (+ target_accelerator). callback(event) gets dicts with kind (PACK,
        PACKED, UPLOAD, UPLOADED, CREATED, STATUS, DOWNLOAD, VERIFIED, WARNING,
        STOPPING, WAITING, LOG), message, done, total, elapsed and description (STATUS);
        follow_logs=True reads the job's log while waiting: a LOG event per line
        (message: the line, done: its timestamp in ms);
        returning False cancels (the job is stopped unless keep_job_on_cancel).
        Ctrl-C cancels too. Every CreateCompilationJob option: vpc_config (VpcConfig,
        a dict or JSON), model_package_version_arn (instead of model and
        framework: nothing is packed or uploaded), max_runtime_seconds,
        max_wait_seconds and max_pending_seconds (StoppingCondition), tags,
        kms_key_id. progress=True: a live display in a notebook (docs/python.md,
        Notebooks; nothing in a terminal). Returns a CompileResult; raises CompilationJobFailed
        (FailureReason, last_response, logs: the job log's last 50 events, read
        best-effort, and diagnosis: a smneo.Diagnosis), ParamValidationError (layout or request),
        DigestMismatchError, ClientError, WaiterTimeout..."""
        options = _compile_options(**{k: v for k, v in locals().items() if k not in ("self", "callback", "progress")})
        with _display.live(progress, callback, job_name) as live:
            return self._compile_result(options, live.callback)

    def _compile_result(self, options, callback):
        try:
            out = self._compile(options, callback)
        except _smneo.CompilationJobFailed as e:
            compile_failed(e)
            raise
        return compile_result(out)

    def upload_file(self, Filename, Bucket, Key, ExtraArgs=None, Callback=None, Config=None):
        """Uploads a local file to s3://Bucket/Key, as boto3's S3 client.upload_file
        (docs/s3.md, "Python"): multipart above Config's multipart_threshold,
        parts of multipart_chunksize sent max_concurrency at a time (a
        boto3.s3.transfer.TransferConfig or any object with those attributes).
        ExtraArgs: ContentType, Metadata, ServerSideEncryption, SSEKMSKeyId.
        Callback(bytes_amount) gets the bytes moved since its last call. An S3
        error raises S3UploadFailedError (its __cause__ the ClientError)."""
        path = _transfer_filename(Filename)
        options = _transfer_options(Config)
        options.update(_upload_extra_args(ExtraArgs))
        os.stat(path)  # FileNotFoundError for a missing file, as boto3 (s3transfer) raises it
        try:
            self._s3_transfer(True, path, _s3_uri(Bucket, Key), options, _increments(Callback))
        except _errors.classes()["ClientError"] as e:
            raise _errors.classes()["S3UploadFailedError"](
                "Failed to upload %s to %s/%s: %s" % (path, Bucket, Key, e)) from e

    def download_file(self, Bucket, Key, Filename, ExtraArgs=None, Callback=None, Config=None):
        """Downloads s3://Bucket/Key to a local file, as boto3's S3 client.download_file:
        HeadObject first (a missing object is a ClientError with the code "404"
        from the HeadObject operation), then GetObject into a temporary file
        beside Filename, renamed over it at the end (an existing file is left
        as it was on any failure). Callback(bytes_amount) gets increments.
        ExtraArgs: none are supported (a key raises ValueError)."""
        path = _transfer_filename(Filename)
        options = _transfer_options(Config)
        _download_extra_args(ExtraArgs)
        self._s3_transfer(False, path, _s3_uri(Bucket, Key), options, _increments(Callback))

    def upload_fileobj(self, Fileobj, Bucket, Key, ExtraArgs=None, Callback=None, Config=None):
        """upload_file for a binary file object (it must have read()): its content is
        copied to a temporary file first, then uploaded."""
        if not hasattr(Fileobj, "read"):
            raise ValueError("Fileobj must implement read")
        import shutil
        import tempfile

        with tempfile.NamedTemporaryFile(prefix="smneo-upload-") as tmp:
            shutil.copyfileobj(Fileobj, tmp)
            tmp.flush()
            try:
                self.upload_file(tmp.name, Bucket, Key, ExtraArgs, Callback, Config)
            except _errors.classes()["S3UploadFailedError"] as e:  # name the object, not the temporary file
                raise _errors.classes()["S3UploadFailedError"](
                    "Failed to upload %s to %s/%s: %s" % (Fileobj, Bucket, Key, e.__cause__)) from e.__cause__

    def download_fileobj(self, Bucket, Key, Fileobj, ExtraArgs=None, Callback=None, Config=None):
        """download_file into a binary file object (it must have write()): the object
        goes to a temporary file first and is copied into Fileobj once complete."""
        if not hasattr(Fileobj, "write"):
            raise ValueError("Fileobj must implement write")
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory(prefix="smneo-download-") as tmpdir:
            path = os.path.join(tmpdir, "object")
            self.download_file(Bucket, Key, path, ExtraArgs, Callback, Config)
            with open(path, "rb") as f:
                shutil.copyfileobj(f, Fileobj)

    def wait_for_compilation_job(self, name, *, progress=False, callback=None, **kwargs):
        """wait_for_compilation_job(name, *, delay=5, max_delay=60, timeout=None, callback=None, progress=False)
        -> dict: polls until the job is COMPLETED (returns its description) or
        raises CompilationJobFailed, CompilationJobStopped, WaiterTimeout,
        WaiterCancelled (callback(description) returned False). progress=True:
        a live display in a notebook (nothing in a terminal)."""
        with _display.live(progress, callback, name, waiter=True) as live:
            return _display.JobDescription(super().wait_for_compilation_job(name, callback=live.callback, **kwargs))

    def get_compilation_job_logs(self, name, *, start_time=None, follow=False, delay=None, max_delay=None,
                                 tail=None):
        """Yields the events of a compilation job's log (CloudWatch Logs, group
        /aws/sagemaker/CompilationJobs, streams NAME and NAME/...), merged in
        time order, as {"timestamp": datetime (UTC), "message": str}
        (docs/logs.md). start_time: a datetime (naive = UTC) or epoch seconds.
        follow=True keeps reading until the job is COMPLETED, FAILED or
        STOPPED, polling with the waiter's backoff (delay, doubling up to
        max_delay; 5 and 60 s by default); Ctrl-C stops it within 200 ms.
        tail=N: only the last N events (not with follow). A log that cannot be
        read (none yet, or AccessDenied) is a smneo.LogWarning, not an error."""
        return self._job_logs(*_job_logs_args(name, start_time, follow, delay, max_delay, tail))

    def compile_many(self, jobs=None, *, models=None, targets=None, max_concurrent=None, state_file=None,
                     retry_failed=False, keep_jobs_on_cancel=False, callback=None, **common):
        """Many compile() jobs in one call, under the account's concurrent-job limit
        (docs/compile.md, "Many jobs"). jobs: a list of dicts of compile()
        keywords, or models x targets given as two lists (a target is "ml_c5",
        "LINUX/ARM64[/ACCELERATOR]" or a dict of keywords); the other keywords
        (framework, role_arn, s3_bucket, output_dir, ...) apply to every job, a
        job's own dict overriding them. Each model is packed and uploaded once,
        every request is validated before the first job starts (errors raise,
        naming the job), up to max_concurrent jobs run at once (default 4;
        ResourceLimitExceeded waits and shrinks it), one job's failure never
        stops the others. state_file (a path) makes a rerun skip completed
        jobs, wait for running ones and start again the ones a cancel stopped;
        retry_failed=True runs FAILED ones again. callback(event) gets
        compile()'s event dicts plus "job" (the job's index, None between
        polls) and the kinds QUEUED, SKIPPED, REATTACHED and DONE (a job with
        follow_logs=True also gets its log's lines as LOG events); returning
        False cancels: every running job is stopped unless keep_jobs_on_cancel.
        Ctrl-C stops them too and raises KeyboardInterrupt. Returns one
        CompileRow per job, in order; a job completed when its
        compilation_job_status is "COMPLETED" and failure_reason is None."""
        options, many = compile_many_arguments(jobs, models, targets, max_concurrent, state_file, retry_failed,
                                               keep_jobs_on_cancel, common)
        return compile_many_rows(self._compile_many(options, many, callback))

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
CompileRow.__module__ = "smneo"
Paginator.__module__ = "smneo"
PageIterator.__module__ = "smneo"


def compile_many_arguments(jobs, models, targets, max_concurrent, state_file, retry_failed, keep_jobs_on_cancel,
                           common):
    """compile_many's keywords -> (the jobs' option dicts, the run's options),
    as _compile_many and _steps_compile_many take them (smneo.aio shares it)."""
    if (jobs is None) == (models is None and targets is None):
        raise TypeError("compile_many: give either jobs (a list of dicts of compile() keywords) or "
                        "models and targets (two lists)")
    if jobs is None:
        if not models or not targets:
            raise TypeError("compile_many: models and targets must both be non-empty lists")
        jobs = [dict(_target_keywords(t), model=m) for m in models for t in targets]
    options = []
    for i, job in enumerate(jobs):
        if not isinstance(job, dict):
            raise TypeError("compile_many: jobs[%d] must be a dict of compile() keywords, not %s"
                            % (i, type(job).__name__))
        merged = dict(common)
        merged.update(job)
        if "callback" in merged:
            raise TypeError("compile_many: jobs[%d]: give callback to compile_many, not to a job" % i)
        try:
            options.append(_compile_options(**merged))
        except TypeError as e:
            raise TypeError("compile_many: jobs[%d]: %s" % (i, e)) from None
    many = {"max_concurrent": max_concurrent, "retry_failed": bool(retry_failed),
            "keep_jobs_on_cancel": bool(keep_jobs_on_cancel),
            "state_file": os.fspath(state_file) if state_file is not None else None}
    return options, many


def compile_many_rows(rows):
    """_compile_many's row dicts (or the machine's DONE) -> CompileRows."""
    for row in rows:
        row["diagnosis"] = _diagnosis(row.get("diagnosis"))
    return [CompileRow(**row) for row in rows]
