"""The SageMaker side: compilation jobs with a time-based lifecycle, and
pipeline execution steps seeded from a JSON file."""
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

from .model import OPERATIONS, SHAPES, ServiceError, to_epoch, validate

STOPPABLE = ("STARTING", "INPROGRESS")
TERMINAL = ("COMPLETED", "FAILED", "STOPPED")
DEFAULT_MAX_RESULTS = 10
MANIFEST_NAME = "smneo-local-manifest.json"


def _ts(t):
    """Epoch seconds as the JSON protocol sends them (fractional milliseconds)."""
    return round(t, 3)


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


# What each framework needs in the archive: a predicate over the member
# names, and the FailureReason when it is not met.
def _has_suffix(names, *suffixes):
    return [n for n in names if n.lower().endswith(suffixes)]


def _model_files_problem(framework, names):
    """None if the archive has what the framework needs, else the reason."""
    base = [posixpath.basename(n) for n in names]
    if framework == "PYTORCH":
        found = _has_suffix(base, ".pt", ".pth")
        if len(found) != 1:
            return ("InputConfiguration: Exactly one .pt or .pth file is allowed "
                    "for PyTorch models; the archive has %d." % len(found))
    elif framework == "TENSORFLOW":
        if not _has_suffix(base, ".pb"):
            return ("InputConfiguration: No SavedModel (saved_model.pb) or frozen "
                    "graph (.pb) file found in the TensorFlow model archive.")
    elif framework == "KERAS":
        if not _has_suffix(base, ".h5"):
            return "InputConfiguration: No .h5 file found in the Keras model archive."
    elif framework == "MXNET":
        if not _has_suffix(base, "-symbol.json") or not _has_suffix(base, ".params"):
            return ("InputConfiguration: MXNet models need a -symbol.json file and "
                    "a .params file in the archive.")
    elif framework == "ONNX":
        if not _has_suffix(base, ".onnx"):
            return "InputConfiguration: No .onnx file found in the ONNX model archive."
    elif framework == "TFLITE":
        if not _has_suffix(base, ".tflite"):
            return "InputConfiguration: No .tflite file found in the TFLite model archive."
    elif framework == "DARKNET":
        if not _has_suffix(base, ".cfg") or not _has_suffix(base, ".weights"):
            return ("InputConfiguration: Darknet models need a .cfg file and a "
                    ".weights file in the archive.")
    else:  # XGBOOST, SKLEARN: any model file
        if not names:
            return "InputConfiguration: The model archive contains no files."
    return None


class Job:
    def __init__(self, name, arn, request, created, duration):
        self.name = name
        self.arn = arn
        self.request = request
        self.created = created
        self.duration = duration
        self.start = created + duration * 0.25
        self.end = created + duration
        self.stop_requested = None
        self.stop_done = None
        self.outcome = None  # dict once finished (COMPLETED / FAILED)

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


class SageMaker:
    def __init__(self, s3, region, account, job_duration=3.0, pipelines=None,
                 clock=time.time):
        self.s3 = s3
        self.region = region
        self.account = account
        self.job_duration = float(job_duration)
        self.clock = clock
        self.jobs = {}
        self.lock = threading.RLock()
        self.pipelines = load_pipelines(pipelines) if pipelines is not None else {}

    # ---- dispatch -------------------------------------------------------
    def call(self, operation, body):
        handler = getattr(self, "op_" + operation, None)
        if handler is None:
            raise ServiceError("UnknownOperationException",
                               "Operation %s is not served by smneo.local" % operation)
        validate(OPERATIONS[operation]["input"]["shape"], body)
        return handler(body)

    # ---- lifecycle helpers -----------------------------------------------
    def _job(self, name):
        job = self.jobs.get(name)
        if job is None:
            raise ServiceError("ResourceNotFound",
                               "Could not find compilation job '%s'." % name)
        return job

    def _settle(self, job, now):
        """Run the compilation once its time has come (under self.lock)."""
        if job.outcome is None and job.stop_requested is None and now >= job.end:
            job.outcome = self._compile(job)
        return job.state(now)

    def _compile(self, job):
        req = job.request
        if req.get("ModelPackageVersionArn"):
            return {"status": "FAILED", "reason": (
                "ClientError: ModelPackageVersionArn: model packages are not "
                "available on the local endpoint (smneo.local); use InputConfig.")}
        src = req["InputConfig"]["S3Uri"]
        framework = req["InputConfig"]["Framework"]
        loc = parse_s3_uri(src)
        obj = self.s3.head_object(*loc) if loc else None
        if obj is None:
            return {"status": "FAILED", "reason": (
                "ClientError: InputConfiguration: Unable to download the model "
                "artifact from %s. Check that the S3 URI is correct and that the "
                "object exists." % src)}
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
            return {"status": "FAILED", "reason": (
                "ClientError: InputConfiguration: Unable to untar the input model "
                "%s. Please confirm the model is a tar.gz file." % src)}
        problem = _model_files_problem(framework, [m.name for m, _ in members])
        if problem:
            return {"status": "FAILED", "reason": "ClientError: " + problem}
        out_uri = artifact_uri(req)
        out_bucket, out_key = parse_s3_uri(out_uri)
        if not self.s3.bucket_exists(out_bucket):
            return {"status": "FAILED", "reason": (
                "ClientError: OutputConfiguration: Unable to upload the compiled "
                "model to %s: the bucket %s does not exist." % (out_uri, out_bucket))}
        data = self._artifact(job, members)
        self.s3.put_bytes(out_bucket, out_key, data, "application/x-gzip")
        return {
            "status": "COMPLETED",
            "artifact": out_uri,
            "digest": hashlib.blake2b(data, digest_size=64).hexdigest(),
        }

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
    def op_CreateCompilationJob(self, body):
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
            if dic is not None:
                try:
                    parsed = json.loads(dic)
                except ValueError:
                    parsed = None
                if not isinstance(parsed, (dict, list)):
                    raise ServiceError("ValidationException", (
                        "InputConfig.DataInputConfig must be a JSON object or list "
                        "of input shapes, e.g. {\"input0\": [1,3,224,224]}: got %r"
                        % dic))
        with self.lock:
            if name in self.jobs:
                raise ServiceError("ResourceInUse", (
                    "Resource Already Exists: Compilation job with name %s already "
                    "exists. Choose a different name." % name))
            arn = "arn:aws:sagemaker:%s:%s:compilation-job/%s" % (
                self.region, self.account, name)
            # AWS lower-cases names inside ARNs.
            arn = arn[: arn.rindex("/") + 1] + name.lower()
            self.jobs[name] = Job(name, arn, json.loads(json.dumps(body)),
                                  self.clock(), self.job_duration)
        return {"CompilationJobArn": arn}

    def op_DescribeCompilationJob(self, body):
        with self.lock:
            job = self._job(body["CompilationJobName"])
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

    def op_StopCompilationJob(self, body):
        with self.lock:
            job = self._job(body["CompilationJobName"])
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

    def op_DeleteCompilationJob(self, body):
        with self.lock:
            job = self._job(body["CompilationJobName"])
            status = self._settle(job, self.clock())[0]
            if status not in TERMINAL:
                raise ServiceError("ValidationException", (
                    "Cannot delete compilation job %s while it is %s: a job can be "
                    "deleted only when it is COMPLETED, FAILED or STOPPED. Stop it "
                    "and delete it after its status becomes STOPPED."
                    % (job.name, status)))
            del self.jobs[job.name]
            return {}

    def op_ListCompilationJobs(self, body):
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
            for job in self.jobs.values():
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

    def op_ListPipelineExecutionSteps(self, body):
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
