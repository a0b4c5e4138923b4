"""The STS side (AWS Query protocol): AssumeRole, AssumeRoleWithWebIdentity
and GetCallerIdentity, issuing temporary credentials that the server's
SageMaker, S3 and Logs then accept until they expire."""
import base64
import binascii
import json
import re

from .identity import CHAINED_MAX_SESSION, IAM_DEFAULT_MAX_SESSION, unique_id
from .model import Model, ServiceError
from .protocols import query_input

API_VERSION = "2011-06-15"
OPERATIONS = ("AssumeRole", "AssumeRoleWithWebIdentity", "GetCallerIdentity")
UNSIGNED_OPERATIONS = ("AssumeRoleWithWebIdentity",)
MAX_PACKED = 2048
_ROLE_RESOURCE = re.compile(r"role/(?:[\x21-\x7e]+/)*([\w+=,.@-]{1,64})")


class RoleArn:
    """arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, parsed."""

    def __init__(self, text):
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1]:
            raise ServiceError("ValidationError", "Request ARN is invalid")
        self.text = text
        self.partition, self.service, self.region, self.account, self.resource = parts[1:]
        m = _ROLE_RESOURCE.fullmatch(self.resource)
        self.name = m.group(1) if m else None
        self.valid = (self.service == "iam" and self.region == "" and self.name is not None
                      and re.fullmatch(r"\d{12}", self.account) is not None)


def _b64url_json(part):
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    return doc if isinstance(doc, dict) else None


def jwt_claims(token):
    """The payload of a JWT-shaped token (header.payload.signature, base64url
    JSON), or None.  The signature is not checked: there is no key."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    header, payload = _b64url_json(parts[0]), _b64url_json(parts[1])
    if header is None or payload is None or "alg" not in header:
        return None
    return payload


class STS:
    def __init__(self, identity):
        self.identity = identity
        self.model = Model("sts")

    def call(self, action, params, principal):
        """params: the decoded form parameters.  principal: who signed
        (None for an unsigned request)."""
        if action not in OPERATIONS:
            raise ServiceError("InvalidAction", "Could not find operation %s for "
                               "version %s" % (action, params.get("Version", API_VERSION)))
        if principal is None and action not in UNSIGNED_OPERATIONS:
            raise ServiceError("MissingAuthenticationToken",
                               "Request is missing Authentication Token", 403)
        body = query_input(self.model, self.model.input_shape(action), params)
        self.model.validate(self.model.input_shape(action), body, code="ValidationError")
        return getattr(self, "op_" + action)(body, principal)

    # ---- helpers ------------------------------------------------------------
    def _denied(self, principal, action, arn):
        who = principal.arn if principal is not None else "anonymous"
        return ServiceError("AccessDenied", "User: %s is not authorized to perform: "
                            "sts:%s on resource: %s" % (who, action, arn), 403)

    def _duration(self, body, role, chained):
        d = body.get("DurationSeconds", 3600)
        if chained and d > CHAINED_MAX_SESSION:
            raise ServiceError("ValidationError", "The requested DurationSeconds exceeds "
                               "the 1 hour session limit for roles assumed by role "
                               "chaining.")
        if d > role.get("max_session_duration", IAM_DEFAULT_MAX_SESSION):
            raise ServiceError("ValidationError", "The requested DurationSeconds exceeds "
                               "the MaxSessionDuration set for this role.")
        return d

    def _packed_size(self, body):
        """PackedPolicySize (percent of the allowed space) when a session
        policy or tags were given; PackedPolicyTooLarge above 100."""
        if not (body.get("Policy") or body.get("PolicyArns") or body.get("Tags")):
            return None
        size = 0
        if body.get("Policy"):
            try:
                doc = json.loads(body["Policy"])
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                raise ServiceError("MalformedPolicyDocument", "Syntax errors in policy.")
            size += len(json.dumps(doc, separators=(",", ":")))
        size += sum(len(p.get("arn", "")) for p in body.get("PolicyArns", []))
        tags = body.get("Tags", [])
        keys = [t["Key"].lower() for t in tags]
        if len(set(keys)) != len(keys):
            raise ServiceError("ValidationError", "Duplicate tag keys found. Please note "
                               "that Tag keys are case insensitive.")
        missing = {k.lower() for k in body.get("TransitiveTagKeys", [])} - set(keys)
        if missing:
            raise ServiceError("ValidationError", "The specified transitive tag key must "
                               "be included in the requested tags.")
        size += sum(len(t["Key"]) + len(t["Value"]) for t in tags)
        pct = (size * 100 + MAX_PACKED - 1) // MAX_PACKED
        if pct > 100:
            raise ServiceError("PackedPolicyTooLarge", "Packed policy consumes %d%% of "
                               "allotted space, please use smaller policy for request."
                               % pct)
        return pct

    def _assume(self, role_arn, session, duration, source, chained):
        assumed = "arn:%s:sts::%s:assumed-role/%s/%s" % (
            role_arn.partition, role_arn.account, role_arn.name, session)
        role_id = unique_id("AROA", role_arn.text)
        p = self.identity.issue(assumed, "%s:%s" % (role_id, session), role_arn.account,
                                duration, source, chained)
        return p, {"AssumedRoleId": p.user_id, "Arn": assumed}

    @staticmethod
    def _credentials(p):
        return {"AccessKeyId": p.key_id, "SecretAccessKey": p.secret,
                "SessionToken": p.token, "Expiration": p.expires}

    # ---- operations -------------------------------------------------------
    def op_GetCallerIdentity(self, body, principal):
        return {"UserId": principal.user_id, "Account": principal.account,
                "Arn": principal.arn}

    def op_AssumeRole(self, body, principal):
        arn = RoleArn(body["RoleArn"])
        if not arn.valid:
            raise self._denied(principal, "AssumeRole", arn.text)
        role = self.identity.role(arn.text)
        deny = role.get("deny")
        if deny:
            if isinstance(deny, str):
                raise ServiceError("AccessDenied", deny, 403)
            raise self._denied(principal, "AssumeRole", arn.text)
        expected = role.get("external_id")
        if expected is not None and body.get("ExternalId") != expected:
            raise self._denied(principal, "AssumeRole", arn.text)
        serial, code = body.get("SerialNumber"), body.get("TokenCode")
        if (serial is None) != (code is None):
            raise ServiceError("AccessDenied", "MultiFactorAuthentication failed, unable "
                               "to validate MFA code. Please verify your MFA serial number "
                               "is valid and associated with this user.", 403)
        need = role.get("mfa_serial")
        if need is not None:
            if serial is None:
                raise self._denied(principal, "AssumeRole", arn.text)
            if serial != need:
                raise ServiceError("AccessDenied", "MultiFactorAuthentication failed, "
                                   "unable to validate MFA code. Please verify your MFA "
                                   "serial number is valid and associated with this "
                                   "user.", 403)
            want = role.get("mfa_code")
            if want is not None and code != want:
                raise ServiceError("AccessDenied", "MultiFactorAuthentication failed with "
                                   "invalid MFA one time pass code. ", 403)
        duration = self._duration(body, role, principal.chained)
        packed = self._packed_size(body)
        p, user = self._assume(arn, body["RoleSessionName"], duration, "AssumeRole", True)
        out = {"Credentials": self._credentials(p), "AssumedRoleUser": user}
        if packed is not None:
            out["PackedPolicySize"] = packed
        if body.get("SourceIdentity"):
            out["SourceIdentity"] = body["SourceIdentity"]
        return out

    def op_AssumeRoleWithWebIdentity(self, body, principal):
        arn = RoleArn(body["RoleArn"])
        if not arn.valid:
            raise ServiceError("ValidationError", "Request ARN is invalid")
        token = body["WebIdentityToken"]
        claims = self._check_web_identity(token)
        role = self.identity.role(arn.text)
        if role.get("deny"):
            raise ServiceError("AccessDenied", role["deny"] if isinstance(
                role["deny"], str) else "Not authorized to perform "
                "sts:AssumeRoleWithWebIdentity", 403)
        duration = self._duration(body, role, False)
        packed = self._packed_size(body)
        p, user = self._assume(arn, body["RoleSessionName"], duration,
                               "AssumeRoleWithWebIdentity", True)
        aud = claims.get("aud", "sts.amazonaws.com")
        out = {"Credentials": self._credentials(p),
               "SubjectFromWebIdentityToken": str(claims.get("sub", "smneo-local-subject")),
               "AssumedRoleUser": user,
               "Provider": str(claims.get("iss", "smneo.local")).replace("https://", ""),
               "Audience": str(aud[0] if isinstance(aud, list) and aud else aud)}
        if packed is not None:
            out["PackedPolicySize"] = packed
        return out

    def _check_web_identity(self, token):
        with self.identity.lock:
            wi = self.identity.web_identity
            accept, listed, err = wi["accept"], token in wi["tokens"], wi["error"]
        if accept == "none":
            raise _web_identity_error(err or "InvalidIdentityToken")
        claims = jwt_claims(token)
        if accept == "listed" and not listed:
            raise _web_identity_error(err or "InvalidIdentityToken")
        if claims is None:
            if listed:
                return {}
            raise ServiceError("InvalidIdentityToken", "The ID Token provided is not a "
                               "valid JWT. (You may see this error if you sent an Access "
                               "Token)")
        exp = claims.get("exp")
        now = int(self.identity.clock())
        if isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp <= now:
            raise ServiceError("ExpiredTokenException", "Token expired: current date/time "
                               "%d must be before the expiration date/time%d"
                               % (now, int(exp)))
        return claims


def _web_identity_error(code):
    """A refusal in the words STS uses for each code."""
    message, status = {
        "InvalidIdentityToken": ("Couldn't retrieve verification key from your identity "
                                 "provider,  please reference AssumeRoleWithWebIdentity "
                                 "documentation for requirements", 400),
        "IDPRejectedClaim": ("Incorrect token audience", 403),
        "IDPCommunicationError": ("Couldn't retrieve verification key from your identity "
                                  "provider (simulated by smneo.local)", 400),
        "ExpiredTokenException": ("Token expired: the web identity token is past its "
                                  "expiration (simulated by smneo.local)", 400),
        "AccessDenied": ("Not authorized to perform sts:AssumeRoleWithWebIdentity", 403),
    }[code]
    return ServiceError(code, message, status)
