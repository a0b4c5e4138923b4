"""The SageMaker side: compilation jobs with a time-based lifecycle, and
pipeline execution steps seeded from a JSON file."""
import ast
import base64
import gzip
import hashlib
import io
import json
import os
import posixpath
import tarfile
import threading
import time

from . import compilelog
from .model import OPERATIONS, SHAPES, ServiceError, to_epoch, validate

STOPPABLE = ("STARTING", "INPROGRESS")
TERMINAL = ("COMPLETED", "FAILED", "STOPPED")
DEFAULT_MAX_RESULTS = 10
MANIFEST_NAME = "smneo-local-manifest.json"


def _ts(t):
    """Epoch seconds as the JSON protocol sends them (fractional milliseconds)."""
    return round(t, 3)


def parse_data_input_config(text):
    """DataInputConfig as the service reads it: JSON, or the Python-literal
    form of AWS's own examples ({'input0': [1,3,224,224]}). None when it is
    neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    if len(text) > 4096:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def parse_s3_uri(uri):
    """s3://bucket/key -> (bucket, key) or None."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    rest = uri[5:]
    bucket, _, key = rest.partition("/")
    if not bucket:
        return None
    return bucket, key


def _archive_base(key):
    base = posixpath.basename(key.rstrip("/")) or "model"
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if base.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def target_name(output_config):
    if output_config.get("TargetDevice"):
        return output_config["TargetDevice"]
    p = output_config.get("TargetPlatform") or {}
    parts = [p.get("Os", ""), p.get("Arch", "")]
    if p.get("Accelerator"):
        parts.append(p["Accelerator"])
    return "_".join(parts)


def artifact_uri(request):
    out = request["OutputConfig"]["S3OutputLocation"].rstrip("/")
    src = (request.get("InputConfig") or {}).get("S3Uri", "")
    parsed = parse_s3_uri(src)
    base = _archive_base(parsed[1]) if parsed else "model"
    return "%s/%s-%s.tar.gz" % (out, base, target_name(request["OutputConfig"]))


def _model_files_problem(framework, names):
    """None if the archive has what the framework needs, else (catalogue
    failure name, extra fields)."""
    base = [posixpath.basename(n) for n in names]

    def count(*suffixes):
        return len([n for n in base if n.lower().endswith(suffixes)])

    if not names:
        return "empty-archive", {}
    if framework == "PYTORCH":
        n = count(".pt", ".pth")
        if n != 1:
            return "pytorch-model-count", {"count": n}
    elif framework == "TENSORFLOW":
        n = count(".pb", ".pbtxt")
        if n != 1:
            return "tensorflow-pb-count", {"count": n}
    elif framework == "KERAS":
        n = count(".h5")
        if n != 1:
            return ("keras-no-h5" if n == 0 else "keras-multiple-h5"), {"count": n}
    elif framework == "MXNET":
        n = count(".params")
        if n > 1:
            return "mxnet-multiple-params", {"count": n}
        if not count("-symbol.json") or not n:
            return "mxnet-files-missing", {}
    elif framework == "ONNX":
        if not count(".onnx"):
            return "onnx-missing", {}
    elif framework == "TFLITE":
        if not count(".tflite"):
            return "tflite-missing", {}
    elif framework == "DARKNET":
        if not count(".cfg") or not count(".weights"):
            return "darknet-files-missing", {}
    return None


class Job:
    def __init__(self, name, arn, request, created, duration, account, region,
                 fault=None):
        self.name = name
        self.arn = arn
        self.request = request
        self.created = created
        self.duration = duration
        self.account = account
        self.region = region
        self.fault = fault          # a "fail" fault chosen at create, or None
        self.start = created + duration * 0.25
        self.end = created + duration
        self.stop_requested = None
        self.stop_done = None
        self.plan = None            # decided at CompilationStartTime
        self.outcome = None         # dict once finished (COMPLETED / FAILED)

    def state(self, now):
        """(status, last_modified, start_time or None, end_time or None)."""
        if self.stop_requested is not None:
            start = self.start if self.stop_requested >= self.start else None
            if now >= self.stop_done:
                return "STOPPED", self.stop_done, start, self.stop_done
            return "STOPPING", self.stop_requested, start, None
        if now < self.start:
            return "STARTING", self.created, None, None
        if now < self.end:
            return "INPROGRESS", self.start, self.start, None
        return self.outcome["status"], self.end, self.start, self.end

    def fields(self):
        """What failure texts and log lines may name ({job}, {bucket}, ...)."""
        req = self.request
        ic = req.get("InputConfig") or {}
        src = parse_s3_uri(ic.get("S3Uri", "")) or ("", "")
        out = parse_s3_uri(req["OutputConfig"]["S3OutputLocation"]) or ("", "")
        dic = ic.get("DataInputConfig") or ""
        parsed = parse_data_input_config(dic) if dic else None
        input_name = next(iter(parsed), "input0") if isinstance(parsed, dict) else \
            "input0"
        return {"job": self.name, "arn": self.arn, "role": req["RoleArn"],
                "region": self.region, "account": self.account,
                "input_uri": ic.get("S3Uri", ""), "bucket": src[0], "key": src[1],
                "output_uri": req["OutputConfig"]["S3OutputLocation"],
                "output_bucket": out[0], "artifact_uri": artifact_uri(req),
                "framework": ic.get("Framework", ""),
                "framework_version": ic.get("FrameworkVersion", "(default version)"),
                "target": target_name(req["OutputConfig"]),
                "data_input_config": dic or "(derived from the model)",
                "input_name": input_name}


class SageMaker:
    def __init__(self, s3, logs, account, job_duration=3.0, pipelines=None,
                 clock=time.time, take_job_fault=None):
        self.s3 = s3
        self.logs = logs
        self.account = account
        self.job_duration = float(job_duration)
        self.clock = clock
        self.take_job_fault = take_job_fault or (lambda name, device: None)
        self.max_concurrent_jobs = None
        self.spaces = {}            # (account, region) -> {name: Job}
        self.lock = threading.RLock()
        self.pipelines = load_pipelines(pipelines) if pipelines is not None else {}

    # ---- dispatch -------------------------------------------------------
    def call(self, operation, body, ctx):
        """ctx: {"account", "region"} of the caller; each pair has its own jobs."""
        handler = getattr(self, "op_" + operation, None)
        if handler is None:
            raise ServiceError("UnknownOperationException",
                               "Operation %s is not served by smneo.local" % operation)
        validate(OPERATIONS[operation]["input"]["shape"], body)
        with self.lock:
            jobs = self.spaces.setdefault((ctx["account"], ctx["region"]), {})
        return handler(body, jobs, ctx)

    # ---- lifecycle helpers -----------------------------------------------
    @staticmethod
    def _job(jobs, name):
        job = jobs.get(name)
        if job is None:
            raise ServiceError("ResourceNotFound",
                               "Could not find compilation job '%s'." % name)
        return job

    def _settle(self, job, now):
        """Decide the job's fate at its start and finish it at its end (under
        self.lock)."""
        if job.stop_requested is None:
            if job.plan is None and now >= job.start:
                job.plan = self._plan(job)
            if job.outcome is None and now >= job.end:
                job.outcome = self._finish(job)
        return job.state(now)

    def _fields(self, job):
        fields = job.fields()
        fields["bucket_region"] = self.s3.bucket_region(fields["bucket"]) or "us-east-1"
        return fields

    def _fail(self, job, name, extra=None):
        fields = self._fields(job)
        fields.update(extra or {})
        return {"failure": compilelog.failure(name, fields)}

    def _plan(self, job):
        """At CompilationStartTime: read the input as the service does, and
        decide whether (and how) the job fails."""
        fault = job.fault
        if fault is not None:
            return {"failure": compilelog.failure(fault.failure, self._fields(job),
                                                  fault.params, fault.reason, fault.log)}
        req = job.request
        if req.get("ModelPackageVersionArn"):
            return self._fail(job, "model-package-not-served")
        src = req["InputConfig"]["S3Uri"]
        loc = parse_s3_uri(src)
        bucket_region = self.s3.bucket_region(loc[0])
        if bucket_region is not None and bucket_region != job.region:
            return self._fail(job, "bucket-wrong-region", {"bucket_region": bucket_region})
        obj = self.s3.head_object(*loc)
        if obj is None:
            return self._fail(job, "s3-object-missing")
        try:
            with open(obj.path, "rb") as f:
                raw = f.read()
            if raw[:2] != b"\x1f\x8b":
                raise tarfile.ReadError("not gzip")
            members = []
            with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tf:
                for m in tf.getmembers():
                    if m.isfile():
                        members.append((m, tf.extractfile(m).read()))
        except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile):
            return self._fail(job, "not-tar-gz")
        problem = _model_files_problem(req["InputConfig"]["Framework"],
                                       [m.name for m, _ in members])
        if problem:
            return self._fail(job, *problem)
        return {"failure": None, "members": members}

    def _finish(self, job):
        """At the job's end: FAILED as planned, or upload the artifact."""
        failure = job.plan["failure"]
        if failure is None:
            out_uri = artifact_uri(job.request)
            out_bucket, out_key = parse_s3_uri(out_uri)
            if not self.s3.bucket_exists(out_bucket):
                failure = self._fail(job, "output-bucket-missing")["failure"]
                job.plan["failure"] = failure
        if failure is not None:
            job.plan.pop("members", None)
            return {"status": "FAILED", "reason": failure["reason"]}
        data = self._artifact(job, job.plan.pop("members"))
        self.s3.put_bytes(out_bucket, out_key, data, "application/x-gzip")
        return {
            "status": "COMPLETED",
            "artifact": out_uri,
            "digest": hashlib.blake2b(data, digest_size=64).hexdigest(),
        }

    def job_log(self, job, now):
        """The job's compile log so far: [(stream, time, message)]."""
        with self.lock:
            self._settle(job, now)
            if job.plan is None:
                return []          # stopped (or not started) before its start
            return compilelog.events(job.name, job.fields(), job.start, job.end,
                                     fail=job.plan["failure"],
                                     stopped_at=job.stop_requested,
                                     stop_done=job.stop_done)

    def _artifact(self, job, members):
        req = job.request
        manifest = {
            "producedBy": "smneo.local",
            "notice": ("Produced by the smneo.local test endpoint: NOT a compiled "
                       "model. It holds the input files unchanged."),
            "CompilationJobName": job.name,
            "CompilationJobArn": job.arn,
            "Framework": req["InputConfig"].get("Framework"),
            "FrameworkVersion": req["InputConfig"].get("FrameworkVersion"),
            "DataInputConfig": req["InputConfig"].get("DataInputConfig"),
            "InputS3Uri": req["InputConfig"]["S3Uri"],
            "Target": target_name(req["OutputConfig"]),
            "OutputConfig": req["OutputConfig"],
        }
        mbytes = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        buf = io.BytesIO()
        # mtime 0 everywhere: the same job input gives the same bytes.
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
                for m, content in members:
                    if m.name.lstrip("./") == MANIFEST_NAME:
                        continue
                    info = tarfile.TarInfo(m.name)
                    info.size = len(content)
                    info.mode = 0o644
                    tf.addfile(info, io.BytesIO(content))
                info = tarfile.TarInfo(MANIFEST_NAME)
                info.size = len(mbytes)
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(mbytes))
        return buf.getvalue()

    # ---- operations -------------------------------------------------------
    def op_CreateCompilationJob(self, body, jobs, ctx):
        name = body["CompilationJobName"]
        has_input = body.get("InputConfig") is not None
        has_package = body.get("ModelPackageVersionArn") is not None
        if has_input == has_package:
            raise ServiceError("ValidationException", (
                "Exactly one of InputConfig or ModelPackageVersionArn must be "
                "specified." if not has_input else
                "InputConfig and ModelPackageVersionArn cannot be specified at the "
                "same time."))
        out = body["OutputConfig"]
        if (out.get("TargetDevice") is None) == (out.get("TargetPlatform") is None):
            raise ServiceError("ValidationException", (
                "Exactly one of OutputConfig.TargetDevice or OutputConfig."
                "TargetPlatform must be specified."))
        if not parse_s3_uri(out["S3OutputLocation"]):
            raise ServiceError("ValidationException", (
                "OutputConfig.S3OutputLocation must be an s3://bucket/prefix URI: "
                "got '%s'" % out["S3OutputLocation"]))
        if has_input:
            ic = body["InputConfig"]
            if not parse_s3_uri(ic["S3Uri"]) or not parse_s3_uri(ic["S3Uri"])[1]:
                raise ServiceError("ValidationException", (
                    "InputConfig.S3Uri must be an s3://bucket/key URI naming the "
                    "model archive: got '%s'" % ic["S3Uri"]))
            dic = ic.get("DataInputConfig")
            if dic is not None and \
                    not isinstance(parse_data_input_config(dic), (dict, list)):
                raise ServiceError("ValidationException", (
                    "InputConfig.DataInputConfig must be a JSON object or list "
                    "of input shapes, e.g. {\"input0\": [1,3,224,224]}: got %r"
                    % dic))
        with self.lock:
            if name in jobs:
                raise ServiceError("ResourceInUse", (
                    "Resource Already Exists: Compilation job with name %s already "
                    "exists. Choose a different name." % name))
            now = self.clock()
            limit = self.max_concurrent_jobs
            if limit is not None:
                running = sum(1 for j in jobs.values()
                              if self._settle(j, now)[0] in STOPPABLE)
                if running >= limit:
                    raise ServiceError("ResourceLimitExceeded", (
                        "The account-level service limit 'Number of concurrent "
                        "compilation jobs' is %d Jobs, with current utilization of %d "
                        "Jobs and a request delta of 1 Jobs. Please use AWS Service "
                        "Quotas to request an increase for this quota. If AWS Service "
                        "Quotas is not available, contact AWS support to request an "
                        "increase for this quota." % (limit, running)))
            # AWS lower-cases names inside ARNs.
            arn = "arn:aws:sagemaker:%s:%s:compilation-job/%s" % (
                ctx["region"], ctx["account"], name.lower())
            fault = self.take_job_fault(name, target_name(out))
            job = jobs[name] = Job(name, arn, json.loads(json.dumps(body)), now,
                                   self.job_duration, ctx["account"], ctx["region"],
                                   fault)
        self.logs.add_source(ctx["account"], ctx["region"], compilelog.LOG_GROUP,
                             lambda t, job=job: self.job_log(job, t))
        return {"CompilationJobArn": arn}

    def op_DescribeCompilationJob(self, body, jobs, ctx):
        with self.lock:
            job = self._job(jobs, body["CompilationJobName"])
            status, modified, start, end = self._settle(job, self.clock())
            req = job.request
            out = {
                "CompilationJobName": job.name,
                "CompilationJobArn": job.arn,
                "CompilationJobStatus": status,
            }
            if start is not None:
                out["CompilationStartTime"] = _ts(start)
            if end is not None:
                out["CompilationEndTime"] = _ts(end)
            out["StoppingCondition"] = req["StoppingCondition"]
            if status == "COMPLETED":
                # The service names the ECR image to serve the artifact with;
                # ours names no real image, and says so.
                out["InferenceImage"] = "smneo.local/no-inference-image:%s-%s" % (
                    req["InputConfig"]["Framework"].lower(),
                    target_name(req["OutputConfig"]).lower())
            if req.get("ModelPackageVersionArn"):
                out["ModelPackageVersionArn"] = req["ModelPackageVersionArn"]
            out["CreationTime"] = _ts(job.created)
            out["LastModifiedTime"] = _ts(modified)
            out["FailureReason"] = (job.outcome or {}).get("reason", "") \
                if status == "FAILED" else ""
            out["ModelArtifacts"] = {"S3ModelArtifacts": artifact_uri(req)
                                     if req.get("InputConfig") else
                                     req["OutputConfig"]["S3OutputLocation"]}
            if status == "COMPLETED":
                out["ModelDigests"] = {"ArtifactDigest": job.outcome["digest"]}
            out["RoleArn"] = req["RoleArn"]
            if req.get("InputConfig"):
                out["InputConfig"] = req["InputConfig"]
            out["OutputConfig"] = req["OutputConfig"]
            if req.get("VpcConfig"):
                out["VpcConfig"] = req["VpcConfig"]
            dic = (req.get("InputConfig") or {}).get("DataInputConfig")
            if status == "COMPLETED" and dic:
                out["DerivedInformation"] = {"DerivedDataInputConfig": dic}
            return out

    def op_StopCompilationJob(self, body, jobs, ctx):
        with self.lock:
            job = self._job(jobs, body["CompilationJobName"])
            now = self.clock()
            status = self._settle(job, now)[0]
            if status in ("STOPPING", "STOPPED"):
                return {}
            if status not in STOPPABLE:
                raise ServiceError("ValidationException", (
                    "Compilation job %s is %s and can no longer be stopped: only "
                    "STARTING or INPROGRESS jobs can be stopped." % (job.name, status)))
            job.stop_requested = now
            job.stop_done = now + min(job.duration * 0.25, 1.0)
            return {}

    def op_DeleteCompilationJob(self, body, jobs, ctx):
        with self.lock:
            job = self._job(jobs, body["CompilationJobName"])
            status = self._settle(job, self.clock())[0]
            if status not in TERMINAL:
                raise ServiceError("ValidationException", (
                    "Cannot delete compilation job %s while it is %s: a job can be "
                    "deleted only when it is COMPLETED, FAILED or STOPPED. Stop it "
                    "and delete it after its status becomes STOPPED."
                    % (job.name, status)))
            del jobs[job.name]
            return {}

    def op_ListCompilationJobs(self, body, jobs, ctx):
        def ts(member):
            v = body.get(member)
            return None if v is None else to_epoch(v, member)

        c_after, c_before = ts("CreationTimeAfter"), ts("CreationTimeBefore")
        m_after, m_before = ts("LastModifiedTimeAfter"), ts("LastModifiedTimeBefore")
        contains = body.get("NameContains")
        status_eq = body.get("StatusEquals")
        sort_by = body.get("SortBy", "CreationTime")
        descending = body.get("SortOrder", "Ascending") == "Descending"
        rows = []
        with self.lock:
            now = self.clock()
            for job in jobs.values():
                status, modified, start, end = self._settle(job, now)
                if c_after is not None and not job.created > c_after:
                    continue
                if c_before is not None and not job.created < c_before:
                    continue
                if m_after is not None and not modified > m_after:
                    continue
                if m_before is not None and not modified < m_before:
                    continue
                if contains and contains.lower() not in job.name.lower():
                    continue
                if status_eq and status != status_eq:
                    continue
                rows.append((job, status, modified, start, end))
        key = {
            "Name": lambda r: (r[0].name, r[0].created),
            "Status": lambda r: (r[1], r[0].created, r[0].name),
            "CreationTime": lambda r: (r[0].created, r[0].name),
        }[sort_by]
        rows.sort(key=key, reverse=descending)
        page, token = _paginate(rows, body, ("jobs", sorted(
            (k, str(v)) for k, v in body.items() if k not in ("NextToken", "MaxResults"))))
        summaries = []
        for job, status, modified, start, end in page:
            s = {
                "CompilationJobName": job.name,
                "CompilationJobArn": job.arn,
                "CreationTime": _ts(job.created),
            }
            if start is not None:
                s["CompilationStartTime"] = _ts(start)
            if end is not None:
                s["CompilationEndTime"] = _ts(end)
            oc = job.request["OutputConfig"]
            if oc.get("TargetDevice"):
                s["CompilationTargetDevice"] = oc["TargetDevice"]
            else:
                tp = oc["TargetPlatform"]
                s["CompilationTargetPlatformOs"] = tp["Os"]
                s["CompilationTargetPlatformArch"] = tp["Arch"]
                if tp.get("Accelerator"):
                    s["CompilationTargetPlatformAccelerator"] = tp["Accelerator"]
            s["LastModifiedTime"] = _ts(modified)
            s["CompilationJobStatus"] = status
            summaries.append(s)
        out = {"CompilationJobSummaries": summaries}
        if token:
            out["NextToken"] = token
        return out

    def op_ListPipelineExecutionSteps(self, body, jobs, ctx):
        arn = body.get("PipelineExecutionArn")
        if not arn:
            raise ServiceError("ValidationException", (
                "1 validation error detected: Value null at 'pipelineExecutionArn' "
                "failed to satisfy constraint: Member must not be null"))
        steps = self.pipelines.get(arn)
        if steps is None:
            raise ServiceError("ResourceNotFound",
                               "Pipeline execution '%s' does not exist." % arn)
        descending = body.get("SortOrder", "Descending") == "Descending"
        ordered = sorted(enumerate(steps),
                         key=lambda p: (p[1].get("StartTime", 0), p[0]),
                         reverse=descending)
        page, token = _paginate([s for _, s in ordered], body,
                                ("steps", arn, body.get("SortOrder", "")))
        out = {"PipelineExecutionSteps": page}
        if token:
            out["NextToken"] = token
        return out


def _paginate(rows, body, query_key):
    """Offset pagination behind an opaque token bound to the query."""
    limit = body.get("MaxResults") or DEFAULT_MAX_RESULTS
    digest = hashlib.sha256(json.dumps(query_key, default=str).encode()).hexdigest()[:16]
    offset = 0
    token = body.get("NextToken")
    if token:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
            offset, tdigest = int(raw["o"]), raw["q"]
        except (ValueError, KeyError, TypeError):
            raise ServiceError("ValidationException",
                               "Invalid pagination token: NextToken '%s' was not "
                               "returned by this endpoint." % token)
        if tdigest != digest or offset < 0:
            raise ServiceError("ValidationException",
                               "Invalid pagination token: the NextToken belongs to a "
                               "request with different filters or sort order.")
    page = rows[offset: offset + limit]
    nxt = None
    if offset + limit < len(rows):
        nxt = base64.urlsafe_b64encode(json.dumps(
            {"o": offset + limit, "q": digest}).encode()).decode().rstrip("=")
    return page, nxt


_STEP_TIMES = ("StartTime", "EndTime")


def load_pipelines(source):
    """A dict {PipelineExecutionArn: [step, ...]} from a path or a mapping.

    Step timestamps may be epoch seconds or ISO 8601 strings; they are
    returned as epoch seconds.  Raises ValueError naming the bad entry."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except ValueError as e:
                raise ValueError("pipelines file %s is not valid JSON: %s" % (source, e))
    else:
        data = source
    if not isinstance(data, dict):
        raise ValueError("pipelines must map PipelineExecutionArn to a list of steps")
    out = {}
    for arn, steps in data.items():
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise ValueError("pipelines[%r] must be a list of step objects" % arn)
        fixed = []
        for i, step in enumerate(steps):
            step = dict(step)
            for k in _STEP_TIMES:
                if k in step:
                    try:
                        step[k] = _ts(to_epoch(step[k], k))
                    except ServiceError:
                        raise ValueError("pipelines[%r][%d].%s is not a timestamp: %r"
                                         % (arn, i, k, step[k]))
            try:
                validate("PipelineExecutionStep", step)
            except ServiceError as e:
                raise ValueError("pipelines[%r][%d]: %s" % (arn, i, e.message))
            fixed.append(step)
        out[arn] = fixed
    return out


assert "DescribeCompilationJobResponse" in SHAPES
