"""One front per service: how a request reaches it, how it is authenticated,
and how its answers and errors look on the wire.  Each handle() returns
(status, headers, body) and sets req.operation (and req.error_code when the
answer is an error) for the request record."""
import datetime
import hashlib
import json
import re
from urllib.parse import unquote

from . import sigv4
from .identity import fingerprint
from .model import ServiceError
from .protocols import json_answer, query_error, query_result
from .s3 import S3Error, decode_aws_chunked, error_xml
from .sso import oidc_error, parse_json_body

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"

# How the JSON (coral) services refuse a request, by sigv4.AuthError kind.
_JSON_AUTH_ERRORS = {
    "missing": ("MissingAuthenticationTokenException", 403),
    "incomplete": ("IncompleteSignatureException", 400),
    "malformed": ("IncompleteSignatureException", 400),
    "unknown_key": ("UnrecognizedClientException", 403),
    "mismatch": ("InvalidSignatureException", 403),
    "region": ("InvalidSignatureException", 403),
    "service": ("InvalidSignatureException", 403),
    "skew": ("InvalidSignatureException", 403),
    "expired": ("InvalidSignatureException", 403),
    "token_missing": ("UnrecognizedClientException", 403),
    "token_invalid": ("UnrecognizedClientException", 403),
    "token_expired": ("ExpiredTokenException", 403),
}
# ... and STS, in the Query protocol's words.
_QUERY_AUTH_ERRORS = {
    "missing": ("MissingAuthenticationToken", 403),
    "incomplete": ("IncompleteSignature", 400),
    "malformed": ("IncompleteSignature", 400),
    "unknown_key": ("InvalidClientTokenId", 403),
    "mismatch": ("SignatureDoesNotMatch", 403),
    "region": ("SignatureDoesNotMatch", 403),
    "service": ("SignatureDoesNotMatch", 403),
    "skew": ("SignatureDoesNotMatch", 403),
    "expired": ("SignatureDoesNotMatch", 403),
    "token_missing": ("InvalidClientTokenId", 403),
    "token_invalid": ("InvalidClientTokenId", 403),
    "token_expired": ("ExpiredToken", 403),
}
_AUTH_MESSAGES = {"missing": {"sts": "Request is missing Authentication Token"},
                  "token_expired": {"any": EXPIRED_TOKEN}}

# Injected faults, as each service words them: kind -> (status, code, message)
_FAULTS = {
    "json": {"throttle": (400, "ThrottlingException", "Rate exceeded"),
             "500": (500, "InternalFailure", "The request processing has failed "
                     "because of an unknown error (injected by smneo.local)."),
             "503": (503, "ServiceUnavailable", "Service is unavailable (injected by "
                     "smneo.local).")},
    "sts": {"throttle": (400, "Throttling", "Rate exceeded"),
            "500": (500, "InternalFailure", "An internal error occurred (injected by "
                    "smneo.local)."),
            "503": (503, "ServiceUnavailable", "Service is unavailable (injected by "
                    "smneo.local).")},
    "rest-json": {"throttle": (429, "TooManyRequestsException", "Rate exceeded"),
                  "500": (500, "InternalServerException", "An internal error occurred "
                          "(injected by smneo.local)."),
                  "503": (503, "ServiceUnavailable", "Service is unavailable "
                          "(injected by smneo.local).")},
}


def _scope(req):
    auth = req.headers_lower.get("authorization", "")
    cred = None
    if "Credential=" in auth:
        cred = auth.split("Credential=", 1)[1].split(",", 1)[0]
    elif "X-Amz-Credential" in req.query:
        cred = req.query["X-Amz-Credential"]
    parts = (cred or "").strip().split("/")
    return parts if len(parts) == 5 else None


def credential_scope_service(req):
    """The service named in the request's SigV4 credential scope, or None."""
    parts = _scope(req)
    return parts[3] if parts else None


def credential_key_id(req):
    """The access key id a request claims, before it is verified."""
    parts = _scope(req)
    return parts[0] if parts else None


# virtual-hosted S3 addresses of AWS (BUCKET.s3.amazonaws.com, BUCKET.s3.REGION.amazonaws.com,
# BUCKET.s3-REGION.amazonaws.com, .cn too)
_AWS_S3_VHOST = re.compile(r"^(.+)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")


def route(req):
    """Which service a request is for: by X-Amz-Target, by the SigV4 scope,
    by the unsigned services' paths, else S3."""
    h = req.headers_lower
    target = h.get("x-amz-target")
    scope = credential_scope_service(req)
    if target is not None:
        return "logs" if target.startswith("Logs_20140328.") or scope == "logs" \
            else "sagemaker"
    if scope in ("sagemaker", "logs", "sts"):
        return scope
    signed = "authorization" in h or req.presigned
    if req.raw_path == "/federation/credentials" and req.method == "GET" and (
            "x-amz-sso_bearer_token" in h or not signed):
        return "sso"
    if req.raw_path == "/token" and req.method == "POST" and not signed:
        return "sso-oidc"
    if req.raw_path == "/" and not signed and "Action" in req.form():
        return "sts"
    return "s3"


class Front:
    """Shared by every front: authentication against the server's Identity."""

    service = None
    signing_name = None

    def __init__(self, app):
        self.app = app

    def authenticate(self, req, payload_hash):
        """Verify the SigV4 signature, the pinned region and, for issued
        credentials, the session token; sets req.region and req.principal."""
        app = self.app
        req.claimed_key = credential_key_id(req)
        v = sigv4.verify(req.method, req.raw_path, req.raw_query, req.headers,
                         payload_hash, app.identity, region=app.region,
                         service=self.signing_name)
        token = req.headers_lower.get("x-amz-security-token",
                                      req.query.get("X-Amz-Security-Token"))
        req.principal = app.identity.check_session(v.credential.key_id, token)
        req.region = v.credential.region
        return v

    def ctx(self, req):
        return {"account": req.principal.account, "region": req.region,
                "principal": req.principal}

    def auth_error(self, table, e):
        code, status = table[e.kind]
        msgs = _AUTH_MESSAGES.get(e.kind, {})
        return ServiceError(code, msgs.get(self.service, msgs.get("any", e.message)),
                            status)

    def internal(self, req, exc):
        """The answer to a bug in smneo.local (not an injected fault)."""
        return self.error(req, ServiceError(
            "InternalFailure", "smneo.local internal error: %s" % exc, 500))

    def fault_error(self, family, kind):
        status, code, message = _FAULTS[family][kind]
        return ServiceError(code, message, status)

    def denied(self, req):
        who = req.principal.arn if req.principal is not None else "anonymous"
        return ServiceError("AccessDeniedException", "User: %s is not authorized to "
                            "perform: %s:%s because no identity-based policy allows "
                            "the %s:%s action (injected by smneo.local)"
                            % (who, self.signing_name, req.operation, self.signing_name,
                               req.operation), 400)


class JsonFront(Front):
    """SageMaker and CloudWatch Logs: AWS JSON 1.1, X-Amz-Target routing."""

    def __init__(self, app, service, prefix, backend):
        super().__init__(app)
        self.service = self.signing_name = service
        self.prefix = prefix
        self.backend = backend

    def operation(self, req):
        target = req.headers_lower.get("x-amz-target", "")
        return target.split(".", 1)[1] if target.startswith(self.prefix + ".") else \
            (target or None)

    def error(self, req, err):
        req.error_code = err.code
        return json_answer(err.status, req.request_id,
                           {"__type": err.code, "message": err.message})

    def fault(self, req, kind):
        return self.error(req, self.fault_error("json", kind))

    def handle(self, req, deny=False):
        req.operation = self.operation(req)
        try:
            try:
                self.authenticate(req, hashlib.sha256(req.body).hexdigest())
            except sigv4.AuthError as e:
                raise self.auth_error(_JSON_AUTH_ERRORS, e)
            target = req.headers_lower.get("x-amz-target")
            if req.method != "POST" or not target or \
                    not target.startswith(self.prefix + "."):
                raise ServiceError("UnknownOperationException", (
                    "Requests to %s are POST / with an X-Amz-Target header of the form "
                    "%s.<Operation>." % (self.service, self.prefix)))
            if deny:
                raise self.denied(req)
            try:
                body = json.loads(req.body.decode("utf-8") or "{}")
            except (ValueError, UnicodeDecodeError):
                raise ServiceError("SerializationException",
                                   "The request body is not valid JSON.")
            req.params = body  # recorded as sent (these services take no secrets)
            result = self.backend.call(req.operation, body, self.ctx(req))
        except ServiceError as e:
            return self.error(req, e)
        return json_answer(200, req.request_id, result)


class STSFront(Front):
    service = signing_name = "sts"

    def operation(self, req):
        return req.form().get("Action")

    def error(self, req, err):
        req.error_code = err.code
        return err.status, [("x-amzn-RequestId", req.request_id),
                            ("Content-Type", "text/xml")], \
            query_error(self.app.sts.model, err, req.request_id)

    def fault(self, req, kind):
        return self.error(req, self.fault_error("sts", kind))

    def handle(self, req, deny=False):
        params = req.form()
        req.operation = params.get("Action")
        req.params = {k: (fingerprint(v) if k == "WebIdentityToken" else v)
                      for k, v in sorted(params.items()) if k not in ("Action", "Version")}
        try:
            if "authorization" in req.headers_lower or req.presigned:
                try:
                    self.authenticate(req, hashlib.sha256(req.body).hexdigest())
                except sigv4.AuthError as e:
                    raise self.auth_error(_QUERY_AUTH_ERRORS, e)
            else:
                req.region = self.app.region or "us-east-1"
            if deny:
                raise ServiceError("AccessDenied", "User: %s is not authorized to "
                                   "perform: sts:%s (injected by smneo.local)" % (
                                       req.principal.arn if req.principal else
                                       "anonymous", req.operation), 403)
            if not req.operation:
                raise ServiceError("MissingAction", "Missing Action")
            result = self.app.sts.call(req.operation, params, req.principal)
        except ServiceError as e:
            return self.error(req, e)
        return 200, [("x-amzn-RequestId", req.request_id),
                     ("Content-Type", "text/xml")], \
            query_result(self.app.sts.model, req.operation, result, req.request_id)


class SSOFront(Front):
    """The SSO portal (GetRoleCredentials) and SSO-OIDC (CreateToken):
    REST-JSON, unsigned."""

    def __init__(self, app, service):
        super().__init__(app)
        self.service = service
        self.signing_name = "awsssoportal" if service == "sso" else "sso-oauth"

    def operation(self, req):
        return "GetRoleCredentials" if self.service == "sso" else "CreateToken"

    def error(self, req, err):
        req.error_code = err.code
        doc = dict(err.fields) if err.fields else {"message": err.message}
        return json_answer(err.status, req.request_id, doc,
                           content_type="application/json", error_type=err.code)

    def fault(self, req, kind):
        err = self.fault_error("rest-json", kind)
        if self.service == "sso-oidc" and kind != "503":
            err = oidc_error(err.code, err.message)
        return self.error(req, err)

    def handle(self, req, deny=False):
        req.operation = self.operation(req)
        req.region = self.app.region or "us-east-1"
        try:
            if self.service == "sso":
                params = {"roleName": req.query.get("role_name"),
                          "accountId": req.query.get("account_id"),
                          "accessToken": req.headers_lower.get("x-amz-sso_bearer_token")}
                req.params = dict(params, accessToken=fingerprint(params["accessToken"]))
                if deny:
                    raise ServiceError("ForbiddenException", "No access", 403)
                result = self.app.sso.get_role_credentials(
                    {k: v for k, v in params.items() if v is not None})
            else:
                body = parse_json_body(req.body)
                req.params = {k: (fingerprint(v) if k in _OIDC_SECRETS and
                                  isinstance(v, str) else v) for k, v in body.items()}
                if deny:
                    raise oidc_error("AccessDeniedException", "Access denied (injected "
                                     "by smneo.local)")
                result = self.app.sso.create_token(body)
        except ServiceError as e:
            return self.error(req, e)
        return json_answer(200, req.request_id, result, content_type="application/json")


_OIDC_SECRETS = ("clientSecret", "refreshToken", "code", "codeVerifier", "deviceCode")


class S3Front(Front):
    service = signing_name = "s3"

    def operation(self, req):
        return req.method          # faults name S3 requests by HTTP method

    def error(self, req, err):
        req.error_code = err.code
        headers = [("x-amz-request-id", req.request_id),
                   ("x-amz-id-2", req.request_id.replace("-", ""))]
        if req.method == "HEAD":
            return err.status, headers, b""
        return err.status, headers + [("Content-Type", "application/xml")], \
            error_xml(err.code, err.message, req.request_id, **err.extra)

    def internal(self, req, exc):
        return self.error(req, S3Error("InternalError", "smneo.local internal error: %s"
                                       % exc, 500))

    def fault(self, req, kind):
        status, code, message = {
            "throttle": (503, "SlowDown", "Please reduce your request rate."),
            "500": (500, "InternalError", "We encountered an internal error. Please try "
                    "again."),
            "503": (503, "ServiceUnavailable", "Service is unable to handle request."),
        }[kind]
        return self.error(req, S3Error(code, message, status))

    def handle(self, req, deny=False):
        try:
            self._auth(req)
            if deny:
                raise S3Error("AccessDenied", "Access Denied", 403)
            bucket, key = self._address(req)
            status, headers, body = self.app.s3.handle(req, bucket, key)
        except S3Error as e:
            return self.error(req, e)
        headers = [("x-amz-request-id", req.request_id),
                   ("x-amz-id-2", req.request_id.replace("-", ""))] + headers
        if req.method == "HEAD":
            headers.append(("Content-Length", str(len(body))))
        return status, headers, body

    @staticmethod
    def _address(req):
        host = req.headers_lower.get("host", "")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        path = req.raw_path[1:]
        if hostname.endswith(".localhost"):
            bucket = unquote(hostname[: -len(".localhost")])
            return bucket, unquote(path) if path else None
        aws = _AWS_S3_VHOST.match(hostname)
        if aws:  # BUCKET.s3.REGION.amazonaws.com: requests answered in-process (smneo.local.mock)
            return unquote(aws.group(1)), unquote(path) if path else None
        if not path:
            return None, None
        bucket, sep, key = path.partition("/")
        return unquote(bucket), (unquote(key) if sep else None)

    def _auth(self, req):
        h = req.headers_lower
        content_sha = h.get("x-amz-content-sha256")
        if req.presigned:
            payload = content_sha or "UNSIGNED-PAYLOAD"
        else:
            payload = content_sha
            if payload is None and "authorization" in h:
                raise S3Error("InvalidRequest", "Missing required header for this "
                              "request: x-amz-content-sha256")
        try:
            verified = self.authenticate(req, payload or "")
        except sigv4.AuthError as e:
            raise self._auth_error(req, e)
        if payload is None or payload in ("UNSIGNED-PAYLOAD",):
            return
        if payload.startswith("STREAMING-"):
            if payload not in ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                               "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                               "STREAMING-UNSIGNED-PAYLOAD-TRAILER"):
                raise S3Error("InvalidArgument", "x-amz-content-sha256 must be "
                              "UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
                              "[-TRAILER], STREAMING-UNSIGNED-PAYLOAD-TRAILER or the "
                              "hex SHA-256 of the body", ArgumentName="x-amz-content-sha256")
            body, trailers = decode_aws_chunked(req.body, payload, verified)
            declared = h.get("x-amz-decoded-content-length")
            if declared is not None and declared.strip() != str(len(body)):
                raise S3Error("IncompleteBody", "You did not provide the number of "
                              "bytes specified by the x-amz-decoded-content-length "
                              "header (%s != %d)." % (declared, len(body)))
            announced = {t.strip().lower() for t in h.get("x-amz-trailer", "").split(",")
                         if t.strip()}
            missing = announced - set(trailers)
            if missing:
                raise S3Error("IncompleteBody", "The trailer(s) announced in x-amz-trailer "
                              "are missing: %s" % ", ".join(sorted(missing)))
            req.body, req.trailers = body, trailers
            return
        if len(payload) != 64 or payload.lower() != payload:
            raise S3Error("InvalidArgument", "x-amz-content-sha256 must be "
                          "UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], "
                          "STREAMING-UNSIGNED-PAYLOAD-TRAILER or the hex SHA-256 of the "
                          "body", ArgumentName="x-amz-content-sha256")
        actual = hashlib.sha256(req.body).hexdigest()
        if actual != payload:
            raise S3Error("XAmzContentSHA256Mismatch", "The provided "
                          "'x-amz-content-sha256' header does not match what was "
                          "computed.", ClientComputedContentSHA256=payload,
                          S3ComputedContentSHA256=actual)

    def _auth_error(self, req, e):
        if e.kind == "missing":
            return S3Error("AccessDenied", "Access Denied", 403)
        if e.kind in ("unknown_key", "token_missing"):
            return S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided "
                           "does not exist in our records.", 403,
                           AWSAccessKeyId=e.extra.get("key_id", ""))
        if e.kind == "token_invalid":
            return S3Error("InvalidToken", "The provided token is malformed or otherwise "
                           "invalid.", 400)
        if e.kind == "token_expired":
            # S3 also echoes the token (Token-0); smneo.local keeps it out.
            return S3Error("ExpiredToken", "The provided token has expired.", 400)
        if e.kind == "skew":
            return S3Error("RequestTimeTooSkewed", "The difference between the "
                           "request time and the current time is too large.", 403,
                           RequestTime=e.extra["request_time"].strftime("%Y%m%dT%H%M%SZ"),
                           ServerTime=e.extra["server_time"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                           MaxAllowedSkewMilliseconds=900000)
        if e.kind == "expired":
            return S3Error("AccessDenied", "Request has expired", 403,
                           Expires=(e.extra["request_time"] + datetime.timedelta(
                               seconds=e.extra["expires"])).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           ServerTime=e.extra["server_time"].strftime("%Y-%m-%dT%H:%M:%SZ"))
        code = ("AuthorizationHeaderMalformed" if not req.presigned
                else "AuthorizationQueryParametersError")
        if e.kind == "region":
            return S3Error(code, "The authorization header is malformed; the region "
                           "'%s' is wrong; expecting '%s'" % (e.extra["region"],
                                                              e.extra["expected"]),
                           400, Region=e.extra["expected"])
        if e.kind in ("malformed", "incomplete", "service"):
            return S3Error(code, e.message, 400)
        return S3Error("SignatureDoesNotMatch", e.message, 403,
                       **({"StringToSign": e.extra["string_to_sign"],
                           "CanonicalRequest": e.extra["canonical_request"]}
                          if "string_to_sign" in e.extra else {}))
