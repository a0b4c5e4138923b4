"""AWS Signature Version 4 verification, written from the public spec.

Independent of the C core's signer on purpose: it is a second opinion.
Only the server side lives here: parse what the client sent, recompute the
signature with the secret we know, compare in constant time.
"""
import datetime
import hashlib
import hmac
import re
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = datetime.timedelta(minutes=15)


class AuthError(Exception):
    """A refused request. kind is one of: missing, incomplete, malformed,
    unknown_key, mismatch, skew, expired, region, service, and for
    temporary credentials token_missing, token_invalid, token_expired.
    Each protocol maps the kind to the error its service sends."""

    def __init__(self, kind, message, **extra):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.extra = extra


class Credential:
    """The parsed credential scope: keyid/date/region/service/aws4_request."""

    def __init__(self, text):
        parts = text.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
            raise AuthError(
                "malformed",
                "Credential should be scoped to a valid region, service and "
                "end with aws4_request: got '%s'" % "/".join(parts[1:]),
            )
        self.key_id, self.date, self.region, self.service, _ = parts
        self.scope = "/".join(parts[1:])


def parse_authorization(value):
    """Parse an Authorization header into (Credential, signed_headers, sig)."""
    if value.startswith("AWS ") and ":" in value:
        raise AuthError("incomplete", "Signature Version 2 (Authorization: AWS "
                        "keyid:signature) is not supported: sign with %s." % ALGORITHM)
    if not value.startswith(ALGORITHM + " "):
        alg = value.split(" ", 1)[0]
        raise AuthError(
            "malformed" if alg.startswith("AWS4") else "incomplete",
            "Unsupported authorization algorithm '%s': only %s is accepted"
            % (alg, ALGORITHM),
        )
    fields = {}
    for item in value[len(ALGORITHM) + 1:].split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise AuthError(
                "incomplete",
                "Authorization header requires each component to be of the form "
                "key=value: '%s' is not" % item,
            )
        k, v = item.split("=", 1)
        fields[k.strip()] = v.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
    if missing:
        raise AuthError(
            "incomplete",
            "Authorization header requires '%s' parameter." % missing[0],
        )
    cred = Credential(fields["Credential"])
    signed = fields["SignedHeaders"].split(";")
    if not re.fullmatch(r"[0-9a-f]{64}", fields["Signature"]):
        raise AuthError("incomplete", "Signature must be 64 lower-case hex digits")
    return cred, signed, fields["Signature"]


def parse_amz_date(value):
    try:
        return datetime.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
    except (TypeError, ValueError):
        raise AuthError(
            "incomplete",
            "X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z': "
            "got '%s'" % value,
        )


def uri_encode(text, keep_slash):
    return quote(text, safe="/~" if keep_slash else "~")


def canonical_uri(raw_path, service):
    """raw_path is the path as sent on the wire (still percent-encoded).

    S3 signs the path encoded once; every other service encodes the
    already-encoded path a second time (and normalises it)."""
    path = raw_path or "/"
    if service == "s3":
        return uri_encode(unquote(path), True)
    segments = []
    for seg in path.split("/"):
        if seg == "..":
            if segments:
                segments.pop()
        elif seg not in ("", "."):
            segments.append(seg)
    norm = "/" + "/".join(segments)
    if path.endswith("/") and norm != "/":
        norm += "/"
    return uri_encode(norm, True)


def parse_query(raw_query):
    """[(name, value)] decoded, keeping blanks and order."""
    pairs = []
    if not raw_query:
        return pairs
    for item in raw_query.split("&"):
        if not item:
            continue
        k, _, v = item.partition("=")
        pairs.append((unquote(k.replace("+", "%20")), unquote(v.replace("+", "%20"))))
    return pairs


def canonical_query(pairs, exclude=()):
    enc = sorted(
        (uri_encode(k, False), uri_encode(v, False)) for k, v in pairs if k not in exclude
    )
    return "&".join("%s=%s" % kv for kv in enc)


def canonical_headers(headers, signed):
    """headers: list of (name, value) as received (repeats allowed)."""
    values = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.strip().split()))
    lines = []
    for name in signed:
        if name not in values:
            raise AuthError(
                "mismatch",
                "Header '%s' is listed in SignedHeaders but is not in the request" % name,
            )
        lines.append("%s:%s\n" % (name, ",".join(values[name])))
    return "".join(lines)


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def sign(key, string_to_sign):
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class Verified:
    """What a verified request tells the rest of the server."""

    def __init__(self, cred, amz_date, signature, key):
        self.credential = cred
        self.amz_date = amz_date
        self.signature = signature
        self.key = key

    @property
    def service(self):
        return self.credential.service


def _check_time(when, now, skew=MAX_SKEW):
    if abs(now - when) > skew:
        raise AuthError(
            "skew",
            "Signature expired: %s is now earlier than %s (%s - 15 min.)"
            % (
                when.strftime("%Y%m%dT%H%M%SZ"),
                (now - skew).strftime("%Y%m%dT%H%M%SZ"),
                now.strftime("%Y%m%dT%H%M%SZ"),
            )
            if when < now
            else "Signature not yet current: %s is still later than %s (%s + 15 min.)"
            % (
                when.strftime("%Y%m%dT%H%M%SZ"),
                (now + skew).strftime("%Y%m%dT%H%M%SZ"),
                now.strftime("%Y%m%dT%H%M%SZ"),
            ),
            request_time=when,
            server_time=now,
        )


def verify(method, raw_path, raw_query, headers, payload_hash, credentials,
           region=None, service=None, now=None):
    """Verify a header-signed (Authorization) or presigned (query) request.

    headers: list of (name, value); payload_hash: the hex or literal string
    the client signed (for S3, the x-amz-content-sha256 header value; for
    other services, the hex SHA-256 of the body); credentials: anything
    with .get(key_id) -> secret or None (a dict, or the server's Identity);
    region None accepts every region.  Returns Verified or raises AuthError."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    hmap = {}
    for name, value in headers:
        hmap.setdefault(name.lower(), value)
    query = parse_query(raw_query)
    qmap = dict(query)
    auth = hmap.get("authorization")
    presigned = auth is None and "X-Amz-Signature" in qmap
    if auth is None and not presigned:
        if "X-Amz-Credential" in qmap or "X-Amz-Algorithm" in qmap:
            raise AuthError("incomplete", "Query-string authentication requires the "
                            "X-Amz-Signature parameter.")
        if "AWSAccessKeyId" in qmap and "Signature" in qmap:
            raise AuthError("incomplete", "Signature Version 2 query authentication is "
                            "not supported: presign with Signature Version 4 (boto3: "
                            "Config(signature_version='s3v4')).")
        raise AuthError("missing", "Missing Authentication Token")

    if presigned:
        if qmap.get("X-Amz-Algorithm") != ALGORITHM:
            raise AuthError("malformed", "X-Amz-Algorithm only supports '%s'" % ALGORITHM)
        for req in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders"):
            if req not in qmap:
                raise AuthError("incomplete", "Query-string authentication requires "
                                "the %s parameter." % req)
        cred = Credential(qmap["X-Amz-Credential"])
        signed = qmap["X-Amz-SignedHeaders"].split(";")
        signature = qmap["X-Amz-Signature"]
        amz_date_text = qmap["X-Amz-Date"]
    else:
        cred, signed, signature = parse_authorization(auth)
        amz_date_text = hmap.get("x-amz-date")
        if amz_date_text is None:
            if "date" not in hmap:
                raise AuthError(
                    "incomplete",
                    "Authorization header requires existence of either a "
                    "'X-Amz-Date' or a 'Date' header.",
                )
            try:
                from email.utils import parsedate_to_datetime
                d = parsedate_to_datetime(hmap["date"])
                amz_date_text = d.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            except (TypeError, ValueError):
                raise AuthError("incomplete", "Date header is not a valid HTTP date")

    if "host" not in signed:
        raise AuthError("mismatch", "'Host' must be a signed header")
    if sorted(signed) != signed:
        raise AuthError("mismatch", "SignedHeaders must be sorted and lower case")
    when = parse_amz_date(amz_date_text)
    if cred.date != amz_date_text[:8]:
        raise AuthError(
            "mismatch",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
            "version of date from HTTP: '%s' != '%s'" % (cred.date, amz_date_text[:8]),
        )
    secret = credentials.get(cred.key_id)
    if secret is None:
        raise AuthError("unknown_key", "The security token included in the request is "
                        "invalid.", key_id=cred.key_id)
    if region is not None and cred.region != region:
        # The services' own words (S3 words it differently: see server.py).
        raise AuthError(
            "region",
            "Credential should be scoped to a valid region, not '%s'. " % cred.region,
            region=cred.region, expected=region,
        )
    if service is not None and cred.service != service:
        raise AuthError(
            "service",
            "Credential should be scoped to correct service: '%s'. " % service,
        )
    if presigned:
        try:
            expires = int(qmap.get("X-Amz-Expires", "900"))
        except ValueError:
            raise AuthError("incomplete", "X-Amz-Expires must be a number of seconds")
        if expires < 1 or expires > 604800:
            raise AuthError("incomplete", "X-Amz-Expires must be between 1 and 604800 seconds")
        if now > when + datetime.timedelta(seconds=expires):
            raise AuthError("expired", "Request has expired", request_time=when,
                            server_time=now, expires=expires)
        if when - now > MAX_SKEW:
            _check_time(when, now)
    else:
        _check_time(when, now)

    creq = "\n".join([
        method,
        canonical_uri(raw_path, cred.service),
        canonical_query(query, exclude=("X-Amz-Signature",) if presigned else ()),
        canonical_headers(headers, signed),
        ";".join(signed),
        payload_hash,
    ])
    sts = "\n".join([ALGORITHM, amz_date_text, cred.scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = signing_key(secret, cred.date, cred.region, cred.service)
    expected = sign(key, sts)
    if not hmac.compare_digest(expected, signature):
        raise AuthError(
            "mismatch",
            "The request signature we calculated does not match the signature "
            "you provided. Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.",
            canonical_request=creq,
            string_to_sign=sts,
        )
    return Verified(cred, amz_date_text, signature, key)


def chunk_string_to_sign(amz_date, scope, previous, chunk_sha256):
    return "\n".join([ALGORITHM + "-PAYLOAD", amz_date, scope, previous,
                      EMPTY_SHA256, chunk_sha256])


def trailer_string_to_sign(amz_date, scope, previous, trailer_sha256):
    return "\n".join([ALGORITHM + "-TRAILER", amz_date, scope, previous, trailer_sha256])
