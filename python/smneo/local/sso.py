"""The IAM Identity Center side (REST-JSON, unsigned): the SSO portal's
GetRoleCredentials and SSO-OIDC's CreateToken with a refresh token."""
import hashlib
import json
import secrets

from .identity import unique_id
from .model import Model, ServiceError

SSO_UNAUTHORIZED = "Session token not found or invalid"


class SSO:
    def __init__(self, identity):
        self.identity = identity
        self.model = Model("sso")
        self.oidc_model = Model("sso-oidc")

    # ---- portal ---------------------------------------------------------------
    def get_role_credentials(self, params):
        """params: {"roleName", "accountId", "accessToken"} from the query
        string and the x-amz-sso_bearer_token header."""
        token = params.get("accessToken")
        if not token:
            raise ServiceError("UnauthorizedException", SSO_UNAUTHORIZED, 401)
        self.model.validate("GetRoleCredentialsRequest", params,
                            code="InvalidRequestException")
        ident = self.identity
        with ident.lock:
            entry = ident.sso_tokens.get(token)
            if entry is None or (entry["expires"] is not None and
                                 ident.clock() >= entry["expires"]):
                raise ServiceError("UnauthorizedException", SSO_UNAUTHORIZED, 401)
            roles, user = entry["roles"], entry["user"]
        account, role = params["accountId"], params["roleName"]
        if roles is not None and (account, role) not in roles:
            raise ServiceError("ForbiddenException", "No access", 403)
        # The role Identity Center provisions for a permission set.
        reserved = "AWSReservedSSO_%s_%s" % (
            role, hashlib.sha256(role.encode()).hexdigest()[:16])
        arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (account, reserved, user)
        user_id = "%s:%s" % (unique_id("AROA", reserved + account), user)
        p = ident.issue(arn, user_id, account, 3600, "GetRoleCredentials", True)
        return {"roleCredentials": {
            "accessKeyId": p.key_id, "secretAccessKey": p.secret,
            "sessionToken": p.token, "expiration": int(p.expires * 1000)}}

    # ---- OIDC -------------------------------------------------------------------
    def create_token(self, body):
        try:
            self.oidc_model.validate("CreateTokenRequest", body,
                                     code="InvalidRequestException")
        except ServiceError as e:
            raise oidc_error("InvalidRequestException", e.message)
        grant = body["grantType"]
        if grant != "refresh_token":
            raise oidc_error("UnsupportedGrantTypeException", "smneo.local serves "
                             "the refresh_token grant only; got %s" % grant)
        ident = self.identity
        with ident.lock:
            now = ident.clock()
            client = ident.oidc_clients.get(body["clientId"])
            if client is None or not secrets.compare_digest(
                    client["secret"].encode(), body["clientSecret"].encode(
                        "utf-8", "surrogatepass")):
                raise oidc_error("InvalidClientException", "Invalid client provided")
            if client["expires"] is not None and now >= client["expires"]:
                raise oidc_error("InvalidClientException", "Client registration has "
                                 "expired")
            rt = body.get("refreshToken")
            entry = ident.refresh_tokens.get(rt) if rt else None
            if entry is None or entry["client_id"] != body["clientId"] or (
                    entry["expires"] is not None and now >= entry["expires"]):
                raise oidc_error("InvalidGrantException", "Invalid refresh token provided")
            access = "smneo-sso-" + secrets.token_urlsafe(48)
            ttl = entry["access_token_ttl"]
            ident.sso_tokens[access] = {"expires": now + ttl, "user": entry["user"],
                                        "roles": entry["roles"]}
            out = {"accessToken": access, "tokenType": "Bearer", "expiresIn": int(ttl)}
            if entry["rotate"]:
                new_rt = "smneo-refresh-" + secrets.token_urlsafe(48)
                ident.refresh_tokens[new_rt] = dict(entry)
                del ident.refresh_tokens[rt]
                out["refreshToken"] = new_rt
            else:
                out["refreshToken"] = rt
        return out


# error -> the OAuth "error" value SSO-OIDC puts beside error_description
_OAUTH_ERRORS = {
    "InvalidRequestException": "invalid_request",
    "InvalidClientException": "invalid_client",
    "InvalidGrantException": "invalid_grant",
    "UnsupportedGrantTypeException": "unsupported_grant_type",
    "AccessDeniedException": "access_denied",
    "InternalServerException": "server_error",
    "TooManyRequestsException": "slow_down",
}


def oidc_error(code, description):
    status = {"InvalidClientException": 401, "InternalServerException": 500,
              "TooManyRequestsException": 429}.get(code, 400)
    return ServiceError(code, description, status, error=_OAUTH_ERRORS[code],
                        error_description=description)


def parse_json_body(raw):
    try:
        doc = json.loads(raw.decode("utf-8") or "{}")
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise oidc_error("InvalidRequestException", "The request body is not a JSON "
                         "object")
    return doc
