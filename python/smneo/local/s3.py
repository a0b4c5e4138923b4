"""The S3 side: a path-style (and *.localhost virtual-host) object store on
disk, speaking S3's REST/XML protocol."""
import base64
import datetime
import email.utils
import hashlib
import hmac
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
import urllib.parse
from urllib.parse import quote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from . import checksums, sigv4

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")


class S3Error(Exception):
    def __init__(self, code, message, status=400, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra


def _iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % int((t % 1) * 1000)


def _http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def _xml(root, children):
    """A tiny XML writer: children is a list of (tag, text|list|None)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<%s xmlns="%s">' % (root, NS)]
    _xml_items(out, children)
    out.append("</%s>" % root)
    return "".join(out).encode()


def _xml_items(out, children):
    for tag, val in children:
        if val is None:
            continue
        if isinstance(val, list):
            out.append("<%s>" % tag)
            _xml_items(out, val)
            out.append("</%s>" % tag)
        else:
            out.append("<%s>%s</%s>" % (tag, escape(str(val)), tag))


def error_xml(code, message, request_id, **extra):
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
           '<Message>%s</Message>' % (escape(code), escape(message))]
    for k, v in extra.items():
        out.append("<%s>%s</%s>" % (k, escape(str(v)), k))
    out.append("<RequestId>%s</RequestId><HostId>%s</HostId></Error>"
               % (request_id, base64.b64encode(request_id.encode()).decode()))
    return "".join(out).encode()


class Obj:
    """Metadata of one stored object (the bytes live at .path)."""

    FIELDS = ("key", "size", "etag", "mtime", "content_type", "meta", "headers",
              "checksums", "checksum_type")

    def __init__(self, **kw):
        for f in self.FIELDS:
            setattr(self, f, kw.get(f))
        self.path = kw.get("path")

    def to_json(self):
        return {f: getattr(self, f) for f in self.FIELDS}


class Store:
    """Buckets and objects under root/: one directory per bucket, one data
    file plus one JSON metadata file per object (named by the key's hash),
    and multipart uploads under root/.uploads/."""

    def __init__(self, root):
        self.root = root
        self.lock = threading.RLock()
        self.buckets = {}  # name -> {"created": t, "objects": {key: Obj}}
        self.uploads = {}  # id -> dict
        os.makedirs(os.path.join(root, ".uploads"), exist_ok=True)
        self._load()

    # ---- persistence ------------------------------------------------------
    def _bucket_dir(self, bucket):
        return os.path.join(self.root, bucket)

    def _obj_base(self, bucket, key):
        return os.path.join(self.root, bucket,
                            hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest())

    def _load(self):
        for name in sorted(os.listdir(self.root)):
            d = os.path.join(self.root, name)
            if name.startswith(".") or not os.path.isdir(d):
                continue
            created = os.path.getmtime(d)
            region = None          # unknown for data dirs written before regions
            owner = None           # and the owner (the server's account) before owners
            info = os.path.join(d, ".bucket.json")
            if os.path.exists(info):
                with open(info) as f:
                    doc = json.load(f)
                created = doc.get("created", created)
                region = doc.get("region")
                owner = doc.get("owner")
            objects = {}
            for fn in os.listdir(d):
                if fn.endswith(".json") and not fn.startswith("."):
                    with open(os.path.join(d, fn)) as f:
                        o = Obj(**json.load(f))
                    o.path = os.path.join(d, fn[:-5])
                    if os.path.exists(o.path):
                        objects[o.key] = o
            self.buckets[name] = {"created": created, "objects": objects,
                                  "region": region, "owner": owner}

    def _write_json(self, path, data):
        tmp = path + ".tmp-%s" % uuid.uuid4().hex
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)

    # ---- used by the SageMaker side --------------------------------------
    def bucket_exists(self, bucket):
        with self.lock:
            return bucket in self.buckets

    def bucket_region(self, bucket):
        """The region a bucket was created in (None when not recorded)."""
        with self.lock:
            b = self.buckets.get(bucket)
            return None if b is None else b.get("region")

    def head_object(self, bucket, key):
        with self.lock:
            b = self.buckets.get(bucket)
            return None if b is None else b["objects"].get(key)

    def put_bytes(self, bucket, key, data, content_type="binary/octet-stream"):
        tmp = self._tmpfile(bucket)
        with open(tmp, "wb") as f:
            f.write(data)
        return self._commit(bucket, key, tmp, len(data),
                            '"%s"' % hashlib.md5(data).hexdigest(), content_type,
                            {}, {}, {}, None)

    # ---- primitives -------------------------------------------------------
    def _tmpfile(self, bucket):
        fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=self._bucket_dir(bucket))
        os.close(fd)
        return tmp

    def _commit(self, bucket, key, tmp, size, etag, content_type, meta, headers,
                sums, sum_type):
        with self.lock:
            b = self.buckets.get(bucket)
            if b is None:
                os.unlink(tmp)
                raise S3Error("NoSuchBucket", "The specified bucket does not exist",
                              404, BucketName=bucket)
            base = self._obj_base(bucket, key)
            o = Obj(key=key, size=size, etag=etag, mtime=time.time(),
                    content_type=content_type, meta=meta, headers=headers,
                    checksums=sums, checksum_type=sum_type, path=base)
            os.replace(tmp, base)
            self._write_json(base + ".json", o.to_json())
            b["objects"][key] = o
            return o

    def _bucket(self, bucket):
        b = self.buckets.get(bucket)
        if b is None:
            raise S3Error("NoSuchBucket", "The specified bucket does not exist", 404,
                          BucketName=bucket)
        return b


def _range(spec, size):
    """(start, end inclusive) or None for a whole-object read; S3Error 416."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None  # S3 ignores ranges it cannot parse (and multi-ranges)
    a, b = m.group(1), m.group(2)
    if a == "":
        n = int(b)
        if n == 0 or size == 0:
            raise S3Error("InvalidRange", "The requested range is not satisfiable",
                          416, RangeRequested=spec, ActualObjectSize=size)
        return max(0, size - n), size - 1
    start = int(a)
    end = size - 1 if b == "" else min(int(b), size - 1)
    if b != "" and int(b) < start:
        return None
    if start >= size:
        raise S3Error("InvalidRange", "The requested range is not satisfiable", 416,
                      RangeRequested=spec, ActualObjectSize=size)
    return start, end


def _checksum_headers(req):
    """{alg: b64 value} from x-amz-checksum-* headers and trailers."""
    out = {}
    for source in (req.headers_lower, req.trailers):
        for name, value in source.items():
            if name.startswith("x-amz-checksum-"):
                alg = name[len("x-amz-checksum-"):]
                if alg in checksums.ALGORITHMS:
                    out[alg] = value.strip()
    return out


def _verify_checksums(data, given):
    computed = {}
    for alg, value in given.items():
        calc = checksums.b64(alg, data)
        if calc != value:
            try:
                raw = base64.b64decode(value, validate=True)
                ok = len(raw) == len(checksums.new(alg).digest())
            except ValueError:
                ok = False
            if not ok:
                raise S3Error("InvalidRequest", "Value for x-amz-checksum-%s header is "
                              "invalid." % alg)
            raise S3Error("BadDigest", "The %s you specified did not match the "
                          "calculated checksum." % alg.upper())
        computed[alg] = calc
    return computed


def _verify_md5(req, data):
    md5 = hashlib.md5(data).digest()
    given = req.headers_lower.get("content-md5")
    if given is not None:
        try:
            raw = base64.b64decode(given, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 16:
            raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.")
        if raw != md5:
            raise S3Error("BadDigest", "The Content-MD5 you specified did not match "
                          "what we received.")
    return md5


_KEPT_HEADERS = ("content-encoding", "content-disposition", "content-language",
                 "cache-control", "expires", "x-amz-server-side-encryption",
                 "x-amz-server-side-encryption-aws-kms-key-id")


def decode_aws_chunked(raw, mode, verified):
    """Decode an aws-chunked body.  mode is the x-amz-content-sha256 value.
    Returns (payload, trailers dict).  Chunk and trailer signatures are
    checked for the signed variants."""
    signed = mode.startswith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    has_trailer = mode.endswith("-TRAILER")
    out = bytearray()
    pos = 0
    prev = verified.signature if verified else ""
    trailers = {}
    while True:
        eol = raw.find(b"\r\n", pos)
        if eol < 0:
            raise S3Error("IncompleteBody", "The aws-chunked body ended inside a chunk "
                          "header.")
        header = raw[pos:eol].decode("latin-1")
        size_text, _, ext = header.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise S3Error("InvalidChunkSizeError", "Invalid chunk size '%s' in the "
                          "aws-chunked body." % size_text)
        pos = eol + 2
        data = raw[pos:pos + size]
        if len(data) != size:
            raise S3Error("IncompleteBody", "The aws-chunked body is shorter than its "
                          "chunk sizes announce.")
        if signed:
            m = re.fullmatch(r"\s*chunk-signature=([0-9a-f]{64})\s*", ext)
            if not m:
                raise S3Error("SignatureDoesNotMatch", "A chunk of the aws-chunked "
                              "body has no chunk-signature.", 403)
            sts = sigv4.chunk_string_to_sign(verified.amz_date, verified.credential.scope,
                                             prev, hashlib.sha256(data).hexdigest())
            expected = sigv4.sign(verified.key, sts)
            if not hmac.compare_digest(expected, m.group(1)):
                raise S3Error("SignatureDoesNotMatch", "The chunk-signature of a chunk "
                              "does not match the signature we calculated.", 403)
            prev = expected
        out += data
        if size == 0:
            break
        pos += size
        if raw[pos:pos + 2] != b"\r\n":
            raise S3Error("IncompleteBody", "A chunk of the aws-chunked body is not "
                          "followed by CRLF.")
        pos += 2
    pos = eol + 2  # just after the last (zero-size) chunk's header line
    # Trailer section: header lines up to an empty line (or the end).
    trailer_lines = []
    rest = raw[pos:].decode("latin-1")
    for line in rest.split("\r\n"):
        if line == "":
            continue
        trailer_lines.append(line)
    trailer_sig = None
    canonical = []
    for line in trailer_lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "x-amz-trailer-signature":
            trailer_sig = value.strip()
            continue
        trailers[name] = value.strip()
        canonical.append("%s:%s\n" % (name, value.strip()))
    if has_trailer and signed:
        if trailer_sig is None:
            raise S3Error("SignatureDoesNotMatch", "The aws-chunked trailer has no "
                          "x-amz-trailer-signature.", 403)
        sts = sigv4.trailer_string_to_sign(
            verified.amz_date, verified.credential.scope, prev,
            hashlib.sha256("".join(canonical).encode()).hexdigest())
        if not hmac.compare_digest(sigv4.sign(verified.key, sts), trailer_sig):
            raise S3Error("SignatureDoesNotMatch", "The trailer signature does not "
                          "match the signature we calculated.", 403)
    return bytes(out), trailers


class S3:
    def __init__(self, store, account="123456789012"):
        self.store = store
        self.account = account  # the owner of buckets made without a signer (and of older data dirs)

    def handle(self, req, bucket, key):
        """Returns (status, headers list, body bytes); sets req.operation.
        req.region is the region the request is signed for."""
        name, call = self._route(req, bucket, key)
        req.operation = name
        return call()

    def _route(self, req, bucket, key):
        """(S3 operation name, a call that runs it)."""
        m = req.method
        q = req.query
        if bucket is None:
            if m == "GET":
                return "ListBuckets", lambda: self.list_buckets(req)
            raise S3Error("MethodNotAllowed", "The specified method is not allowed "
                          "against this resource.", 405)
        if key is None or key == "":
            if m == "PUT" and not q:
                return "CreateBucket", lambda: self.create_bucket(req, bucket)
            if m == "HEAD":
                return "HeadBucket", lambda: self.head_bucket(req, bucket)
            if m == "DELETE" and not q:
                return "DeleteBucket", lambda: self.delete_bucket(bucket)
            if m == "POST" and "delete" in q:
                return "DeleteObjects", lambda: self.delete_objects(req, bucket)
            if m == "GET" and ("location" in q):
                return "GetBucketLocation", lambda: self.bucket_location(bucket)
            if m == "GET" and not (set(q) - {"list-type", "prefix", "delimiter",
                                             "max-keys", "continuation-token",
                                             "start-after", "encoding-type",
                                             "fetch-owner", "marker"}):
                return ("ListObjectsV2" if q.get("list-type") == "2" else "ListObjects",
                        lambda: self.list_objects(req, bucket))
            raise S3Error("NotImplemented", "smneo.local does not implement this "
                          "bucket operation (%s %s)." % (m, ",".join(sorted(q))), 501)
        if m == "POST" and "uploads" in q:
            return "CreateMultipartUpload", lambda: self.create_upload(req, bucket, key)
        if "uploadId" in q:
            if "x-amz-copy-source" in req.headers_lower:
                raise S3Error("NotImplemented", "smneo.local does not implement "
                              "UploadPartCopy.", 501)
            if m == "PUT" and "partNumber" in q:
                return "UploadPart", lambda: self.upload_part(req, bucket, key)
            if m == "POST":
                return ("CompleteMultipartUpload",
                        lambda: self.complete_upload(req, bucket, key))
            if m == "DELETE":
                return ("AbortMultipartUpload",
                        lambda: self.abort_upload(req, bucket, key))
            raise S3Error("NotImplemented", "smneo.local does not implement "
                          "ListParts.", 501)
        if q and set(q) - {"versionId", "x-id", "partNumber"} and not req.presigned:
            raise S3Error("NotImplemented", "smneo.local does not implement this "
                          "object operation (%s %s)." % (m, ",".join(sorted(q))), 501)
        if m == "PUT":
            if "x-amz-copy-source" in req.headers_lower:
                return "CopyObject", lambda: self.copy_object(req, bucket, key)
            return "PutObject", lambda: self.put_object(req, bucket, key)
        if m in ("GET", "HEAD"):
            return ("HeadObject" if m == "HEAD" else "GetObject",
                    lambda: self.get_object(req, bucket, key, head=(m == "HEAD")))
        if m == "DELETE":
            return "DeleteObject", lambda: self.delete_object(bucket, key)
        raise S3Error("MethodNotAllowed", "The specified method is not allowed "
                      "against this resource.", 405)

    # ---- buckets --------------------------------------------------------------
    def list_buckets(self, req):
        with self.store.lock:
            items = [("Bucket", [("Name", n), ("CreationDate", _iso(b["created"]))])
                     for n, b in sorted(self.store.buckets.items())]
        return 200, [("Content-Type", "application/xml")], _xml(
            "ListAllMyBucketsResult",
            [("Owner", [("ID", "smneo-local"), ("DisplayName", "smneo-local")]),
             ("Buckets", items)])

    def create_bucket(self, req, bucket):
        if not BUCKET_RE.fullmatch(bucket) or ".." in bucket:
            raise S3Error("InvalidBucketName", "The specified bucket is not valid.",
                          BucketName=bucket)
        location = None
        if req.body.strip():
            try:
                root = ElementTree.fromstring(req.body)
                for el in root.iter():
                    if el.tag.endswith("LocationConstraint"):
                        location = (el.text or "").strip()
            except ElementTree.ParseError:
                raise S3Error("MalformedXML", "The XML you provided was not well-formed "
                              "or did not validate against our published schema.")
        region = req.region
        if location and location != region:
            raise S3Error("IllegalLocationConstraintException",
                          "The %s location constraint is incompatible for the region "
                          "specific endpoint this request was sent to." % location)
        if not location and region != "us-east-1":
            raise S3Error("IllegalLocationConstraintException",
                          "The unspecified location constraint is incompatible for the "
                          "region specific endpoint this request was sent to.")
        owner = req.principal.account if getattr(req, "principal", None) is not None else self.account
        if not self.make_bucket(bucket, region, owner):
            if self.owner_of(bucket) != owner:
                raise S3Error("BucketAlreadyExists", "The requested bucket name is not "
                              "available. The bucket namespace is shared by all users of "
                              "the system. Please select a different name and try again.",
                              409, BucketName=bucket)
            if region != "us-east-1":
                raise S3Error("BucketAlreadyOwnedByYou", "Your previous request to "
                              "create the named bucket succeeded and you already own "
                              "it.", 409, BucketName=bucket)
        return 200, [("Location", "/" + bucket)], b""

    def make_bucket(self, bucket, region, owner=None):
        """Creates the bucket in region, owned by the account owner (default:
        the server's); False when it already existed."""
        owner = owner or self.account
        with self.store.lock:
            if bucket in self.store.buckets:
                return False
            d = self.store._bucket_dir(bucket)
            os.makedirs(d, exist_ok=True)
            now = time.time()
            self.store._write_json(os.path.join(d, ".bucket.json"),
                                   {"created": now, "region": region, "owner": owner})
            self.store.buckets[bucket] = {"created": now, "objects": {}, "region": region,
                                          "owner": owner}
        return True

    def owner_of(self, bucket):
        with self.store.lock:
            return self.store._bucket(bucket).get("owner") or self.account

    def head_bucket(self, req, bucket):
        with self.store.lock:
            region = self.store._bucket(bucket).get("region") or "us-east-1"
        expected = req.headers_lower.get("x-amz-expected-bucket-owner")
        if expected is not None and expected != self.owner_of(bucket):
            # S3 answers a HEAD with no body: botocore's code "403", message "Forbidden"
            raise S3Error("AccessDenied", "Access Denied", 403)
        return 200, [("x-amz-bucket-region", region)], b""

    def bucket_location(self, bucket):
        with self.store.lock:
            region = self.store._bucket(bucket).get("region") or "us-east-1"
        return 200, [], _xml_raw_location(region)

    def delete_bucket(self, bucket):
        with self.store.lock:
            b = self.store._bucket(bucket)
            if b["objects"] or any(u["bucket"] == bucket
                                   for u in self.store.uploads.values()):
                raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not "
                              "empty", 409, BucketName=bucket)
            shutil.rmtree(self.store._bucket_dir(bucket), ignore_errors=True)
            del self.store.buckets[bucket]
        return 204, [], b""

    def list_objects(self, req, bucket):
        q = req.query
        v2 = q.get("list-type") == "2"
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        url = q.get("encoding-type") == "url"
        try:
            max_keys = int(q.get("max-keys", "1000"))
            if max_keys < 0:
                raise ValueError
        except ValueError:
            raise S3Error("InvalidArgument", "max-keys must be a non-negative integer "
                          "no greater than 2147483647.", ArgumentName="max-keys")
        max_keys = min(max_keys, 1000)
        after = ""
        token = q.get("continuation-token")
        if v2 and token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode() + b"==").decode()
                if not after.startswith("k:"):
                    raise ValueError
                after = after[2:]
            except ValueError:
                raise S3Error("InvalidArgument", "The continuation token provided is "
                              "incorrect", ArgumentName="continuation-token")
        elif v2:
            after = q.get("start-after", "")
        else:
            after = q.get("marker", "")
        with self.store.lock:
            objs = self.store._bucket(bucket)["objects"]
            keys = sorted(k for k in objs if k.startswith(prefix) and k > after)
            contents, prefixes = [], []
            truncated = False
            last = None
            for k in keys if max_keys > 0 else ():
                if delimiter:
                    i = k.find(delimiter, len(prefix))
                    if i >= 0:
                        cp = k[: i + len(delimiter)]
                        if prefixes and prefixes[-1] == cp:
                            continue
                        if cp <= after:
                            continue
                        if len(contents) + len(prefixes) >= max_keys:
                            truncated = True
                            break
                        prefixes.append(cp)
                        last = cp
                        continue
                if len(contents) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                contents.append(objs[k])
                last = k
        enc = (lambda s: quote(s, safe="/")) if url else (lambda s: s)
        items = [("Name", bucket), ("Prefix", enc(prefix))]
        if v2:
            if token is not None:
                items.append(("ContinuationToken", token))
            if "start-after" in q:
                items.append(("StartAfter", enc(q["start-after"])))
        else:
            items.append(("Marker", enc(q.get("marker", ""))))
        if delimiter:
            items.append(("Delimiter", enc(delimiter)))
        items.append(("MaxKeys", max_keys))
        if url:
            items.append(("EncodingType", "url"))
        items.append(("IsTruncated", "true" if truncated else "false"))
        if v2:
            items.append(("KeyCount", len(contents) + len(prefixes)))
            if truncated:
                # Resuming after the last common prefix must skip everything
                # under it: resume after prefix + a high code point.
                resume = last + "\U0010ffff" if last in prefixes else last
                items.append(("NextContinuationToken", base64.urlsafe_b64encode(
                    ("k:" + resume).encode("utf-8", "surrogatepass")).decode()
                    .rstrip("=")))
        elif truncated and delimiter:
            items.append(("NextMarker", enc(last)))
        for o in contents:
            c = [("Key", enc(o.key)), ("LastModified", _iso(o.mtime)),
                 ("ETag", o.etag)]
            for alg in (o.checksums or {}):
                c.append(("ChecksumAlgorithm", alg.upper()))
            if o.checksums:
                c.append(("ChecksumType", o.checksum_type or "FULL_OBJECT"))
            c += [("Size", o.size), ("StorageClass", "STANDARD")]
            if not v2 or q.get("fetch-owner") == "true":
                c.insert(3, ("Owner", [("ID", "smneo-local"),
                                       ("DisplayName", "smneo-local")]))
            items.append(("Contents", c))
        for p in prefixes:
            items.append(("CommonPrefixes", [("Prefix", enc(p))]))
        return 200, [("Content-Type", "application/xml")], _xml("ListBucketResult", items)

    # ---- objects ----------------------------------------------------------
    def put_object(self, req, bucket, key):
        with self.store.lock:
            self.store._bucket(bucket)
        data = req.body
        md5 = _verify_md5(req, data)
        sums = _verify_checksums(data, _checksum_headers(req))
        meta = {k[len("x-amz-meta-"):]: v for k, v in req.headers_lower.items()
                if k.startswith("x-amz-meta-")}
        kept = {k: v for k, v in req.headers_lower.items() if k in _KEPT_HEADERS}
        if "content-encoding" in kept:
            ce = ",".join(p for p in (s.strip() for s in kept["content-encoding"].split(","))
                          if p and p != "aws-chunked")
            if ce:
                kept["content-encoding"] = ce
            else:
                del kept["content-encoding"]
        tmp = self.store._tmpfile(bucket)
        with open(tmp, "wb") as f:
            f.write(data)
        o = self.store._commit(bucket, key, tmp, len(data), '"%s"' % md5.hex(),
                               req.headers_lower.get("content-type",
                                                     "binary/octet-stream"),
                               meta, kept, sums, "FULL_OBJECT" if sums else None)
        headers = [("ETag", o.etag)]
        for alg, v in sums.items():
            headers.append(("x-amz-checksum-%s" % alg, v))
        if sums:
            headers.append(("x-amz-checksum-type", "FULL_OBJECT"))
        return 200, headers, b""

    def get_object(self, req, bucket, key, head):
        with self.store.lock:
            b = self.store.buckets.get(bucket)
            if b is None:
                raise S3Error("NoSuchBucket", "The specified bucket does not exist",
                              404, BucketName=bucket)
            o = b["objects"].get(key)
            if o is None:
                raise S3Error("NoSuchKey", "The specified key does not exist.", 404,
                              Key=key)
            with open(o.path, "rb") as f:
                data = f.read()
        h = req.headers_lower
        if "if-match" in h and h["if-match"].strip() not in (o.etag, "*", o.etag.strip('"')):
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                          "specified did not hold", 412, Condition="If-Match")
        if "if-none-match" in h and h["if-none-match"].strip() in (o.etag, "*",
                                                                    o.etag.strip('"')):
            return 304, [("ETag", o.etag), ("Last-Modified", _http_date(o.mtime))], b""
        status = 200
        headers = [("Accept-Ranges", "bytes"), ("Last-Modified", _http_date(o.mtime)),
                   ("ETag", o.etag), ("Content-Type", o.content_type)]
        rng = _range(h["range"], o.size) if "range" in h else None
        if rng is not None:
            start, end = rng
            data = data[start:end + 1]
            status = 206
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, o.size)))
        elif h.get("x-amz-checksum-mode", "").upper() == "ENABLED" and o.checksums:
            for alg, v in o.checksums.items():
                headers.append(("x-amz-checksum-%s" % alg, v))
            headers.append(("x-amz-checksum-type", o.checksum_type or "FULL_OBJECT"))
        for k, v in (o.headers or {}).items():
            headers.append((k.title(), v))
        for k, v in (o.meta or {}).items():
            headers.append(("x-amz-meta-" + k, v))
        return status, headers, data

    def delete_object(self, bucket, key):
        with self.store.lock:
            b = self.store._bucket(bucket)
            o = b["objects"].pop(key, None)
            if o is not None:
                for p in (o.path, o.path + ".json"):
                    try:
                        os.unlink(p)
                    except FileNotFoundError:
                        pass
        return 204, [], b""

    def copy_object(self, req, bucket, key):
        h = req.headers_lower
        src = urllib.parse.unquote(h["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
        sbucket, _, skey = src.partition("/")
        if not sbucket or not skey:
            raise S3Error("InvalidArgument", "Copy Source must mention the source "
                          "bucket and key: sourcebucket/sourcekey",
                          ArgumentName="x-amz-copy-source")
        directive = h.get("x-amz-metadata-directive", "COPY").upper()
        with self.store.lock:
            self.store._bucket(bucket)
            so = self.store._bucket(sbucket)["objects"].get(skey)
            if so is None:
                raise S3Error("NoSuchKey", "The specified key does not exist.", 404,
                              Key=skey)
            if (sbucket, skey) == (bucket, key) and directive != "REPLACE":
                raise S3Error("InvalidRequest", "This copy request is illegal because it "
                              "is trying to copy an object to itself without changing "
                              "the object's metadata, storage class, website redirect "
                              "location or encryption attributes.")
            tmp = self.store._tmpfile(bucket)
            shutil.copyfile(so.path, tmp)
        if directive == "REPLACE":
            ctype = h.get("content-type", "binary/octet-stream")
            meta = {k[len("x-amz-meta-"):]: v for k, v in h.items()
                    if k.startswith("x-amz-meta-")}
            kept = {k: v for k, v in h.items() if k in _KEPT_HEADERS}
        else:
            ctype, meta, kept = so.content_type, dict(so.meta or {}), dict(so.headers or {})
        o = self.store._commit(bucket, key, tmp, so.size, so.etag, ctype, meta, kept,
                               dict(so.checksums or {}), so.checksum_type)
        items = [("LastModified", _iso(o.mtime)), ("ETag", o.etag)]
        for alg, v in (o.checksums or {}).items():
            items.append(("Checksum" + alg.upper(), v))
        return 200, [("Content-Type", "application/xml")], _xml("CopyObjectResult", items)

    def delete_objects(self, req, bucket):
        _verify_md5(req, req.body)
        _verify_checksums(req.body, _checksum_headers(req))
        try:
            root = ElementTree.fromstring(req.body)
        except ElementTree.ParseError:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or "
                          "did not validate against our published schema.")
        quiet = False
        keys = []
        for el in root:
            tag = el.tag.split("}")[-1]
            if tag == "Quiet":
                quiet = (el.text or "").strip().lower() == "true"
            elif tag == "Object":
                for c in el:
                    if c.tag.split("}")[-1] == "Key":
                        keys.append(c.text or "")
        if len(keys) > 1000:
            raise S3Error("MalformedXML", "DeleteObjects takes at most 1000 keys.")
        with self.store.lock:
            self.store._bucket(bucket)
        for k in keys:
            self.delete_object(bucket, k)
        items = [] if quiet else [("Deleted", [("Key", k)]) for k in keys]
        return 200, [("Content-Type", "application/xml")], _xml("DeleteResult", items)

    # ---- multipart ----------------------------------------------------------
    def _upload(self, req, bucket, key):
        uid = req.query.get("uploadId", "")
        u = self.store.uploads.get(uid)
        if u is None or u["bucket"] != bucket or u["key"] != key:
            raise S3Error("NoSuchUpload", "The specified upload does not exist. The "
                          "upload ID may be invalid, or the upload may have been "
                          "aborted or completed.", 404, UploadId=uid)
        return u

    def create_upload(self, req, bucket, key):
        h = req.headers_lower
        alg = h.get("x-amz-checksum-algorithm", "").lower() or None
        if alg is not None and alg not in checksums.ALGORITHMS:
            raise S3Error("InvalidRequest", "Checksum algorithm %s is not supported: "
                          "use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256." % alg.upper())
        ctype = h.get("x-amz-checksum-type", "").upper() or None
        if alg and ctype is None:
            ctype = "FULL_OBJECT" if alg == "crc64nvme" else "COMPOSITE"
        if ctype == "FULL_OBJECT" and alg not in checksums.CRC_ALGORITHMS:
            raise S3Error("InvalidRequest", "The FULL_OBJECT checksum type needs a CRC "
                          "checksum algorithm, not %s." % (alg or "none").upper())
        with self.store.lock:
            self.store._bucket(bucket)
            uid = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes) \
                .decode().rstrip("=")
            d = os.path.join(self.store.root, ".uploads", uid)
            os.makedirs(d)
            self.store.uploads[uid] = {
                "bucket": bucket, "key": key, "dir": d, "parts": {},
                "algorithm": alg, "type": ctype,
                "content_type": h.get("content-type", "binary/octet-stream"),
                "meta": {k[len("x-amz-meta-"):]: v for k, v in h.items()
                         if k.startswith("x-amz-meta-")},
                "headers": {k: v for k, v in h.items() if k in _KEPT_HEADERS},
            }
        headers = []
        if alg:
            headers += [("x-amz-checksum-algorithm", alg.upper()),
                        ("x-amz-checksum-type", ctype)]
        return 200, headers + [("Content-Type", "application/xml")], _xml(
            "InitiateMultipartUploadResult",
            [("Bucket", bucket), ("Key", key), ("UploadId", uid)])

    def upload_part(self, req, bucket, key):
        try:
            n = int(req.query["partNumber"])
        except ValueError:
            n = 0
        if not 1 <= n <= MAX_PARTS:
            raise S3Error("InvalidArgument", "Part number must be an integer between 1 "
                          "and 10000, inclusive", ArgumentName="partNumber",
                          ArgumentValue=req.query["partNumber"])
        with self.store.lock:
            u = self._upload(req, bucket, key)
        data = req.body
        md5 = _verify_md5(req, data)
        sums = _verify_checksums(data, _checksum_headers(req))
        if u["algorithm"] and u["algorithm"] not in sums:
            sums[u["algorithm"]] = checksums.b64(u["algorithm"], data)
        path = os.path.join(u["dir"], "part-%05d" % n)
        tmp = path + ".tmp-" + uuid.uuid4().hex
        with open(tmp, "wb") as f:
            f.write(data)
        with self.store.lock:
            os.replace(tmp, path)
            u["parts"][n] = {"etag": '"%s"' % md5.hex(), "size": len(data),
                             "md5": md5.hex(), "checksums": sums, "path": path}
        headers = [("ETag", '"%s"' % md5.hex())]
        for alg, v in sums.items():
            headers.append(("x-amz-checksum-%s" % alg, v))
        return 200, headers, b""

    def abort_upload(self, req, bucket, key):
        with self.store.lock:
            u = self._upload(req, bucket, key)
            del self.store.uploads[req.query["uploadId"]]
        shutil.rmtree(u["dir"], ignore_errors=True)
        return 204, [], b""

    def complete_upload(self, req, bucket, key):
        try:
            root = ElementTree.fromstring(req.body)
        except ElementTree.ParseError:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or "
                          "did not validate against our published schema.")
        wanted = []
        for part in root:
            if not part.tag.endswith("Part"):
                continue
            fields = {c.tag.split("}")[-1]: (c.text or "").strip() for c in part}
            try:
                wanted.append((int(fields.get("PartNumber", "")), fields))
            except ValueError:
                raise S3Error("MalformedXML", "Each Part needs a numeric PartNumber.")
        if not wanted:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or "
                          "did not validate against our published schema.")
        with self.store.lock:
            u = self._upload(req, bucket, key)
            self.store._bucket(bucket)
            numbers = [n for n, _ in wanted]
            if numbers != sorted(set(numbers)):
                raise S3Error("InvalidPartOrder", "The list of parts was not in "
                              "ascending order. The parts list must be specified in "
                              "order by part number.")
            chosen = []
            for i, (n, fields) in enumerate(wanted):
                p = u["parts"].get(n)
                if p is None or fields.get("ETag", "").strip('"') != p["md5"]:
                    raise S3Error("InvalidPart", "One or more of the specified parts "
                                  "could not be found. The part may not have been "
                                  "uploaded, or the specified entity tag may not match "
                                  "the part's entity tag.", UploadId=req.query["uploadId"],
                                  PartNumber=n)
                for alg in checksums.ALGORITHMS:
                    v = fields.get("Checksum" + alg.upper())
                    if v and p["checksums"].get(alg) not in (None, v):
                        raise S3Error("InvalidPart", "The checksum of part %d does not "
                                      "match Checksum%s in the request." % (n, alg.upper()))
                if i < len(wanted) - 1 and p["size"] < MIN_PART_SIZE:
                    raise S3Error("EntityTooSmall", "Your proposed upload is smaller than "
                                  "the minimum allowed object size.",
                                  ProposedSize=p["size"], MinSizeAllowed=MIN_PART_SIZE,
                                  PartNumber=n)
                chosen.append(p)
            del self.store.uploads[req.query["uploadId"]]
        tmp = self.store._tmpfile(bucket)
        size = 0
        with open(tmp, "wb") as out:
            for p in chosen:
                with open(p["path"], "rb") as f:
                    shutil.copyfileobj(f, out)
                size += p["size"]
        etag = '"%s-%d"' % (hashlib.md5(b"".join(bytes.fromhex(p["md5"]) for p in chosen))
                            .hexdigest(), len(chosen))
        sums, ctype = {}, None
        alg = u["algorithm"]
        if alg:
            ctype = u["type"]
            if ctype == "FULL_OBJECT":
                sums[alg] = checksums.b64_file(alg, tmp)
                given = req.headers_lower.get("x-amz-checksum-%s" % alg)
                if given and given != sums[alg]:
                    os.unlink(tmp)
                    raise S3Error("BadDigest", "The %s you specified did not match the "
                                  "calculated checksum." % alg.upper())
            else:
                h = checksums.new(alg)
                for p in chosen:
                    h.update(base64.b64decode(p["checksums"][alg]))
                sums[alg] = "%s-%d" % (base64.b64encode(h.digest()).decode(), len(chosen))
        o = self.store._commit(bucket, key, tmp, size, etag, u["content_type"], u["meta"],
                               u["headers"], sums, ctype)
        shutil.rmtree(u["dir"], ignore_errors=True)
        items = [("Location", "%s/%s/%s" % (req.base_url, bucket, quote(key))),
                 ("Bucket", bucket), ("Key", key), ("ETag", o.etag)]
        for a, v in sums.items():
            items.append(("Checksum" + a.upper(), v))
        if ctype:
            items.append(("ChecksumType", ctype))
        return 200, [("Content-Type", "application/xml")], _xml(
            "CompleteMultipartUploadResult", items)


def _xml_raw_location(region):
    loc = "" if region == "us-east-1" else escape(region)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="%s">'
            '%s</LocationConstraint>' % (NS, loc)).encode()
