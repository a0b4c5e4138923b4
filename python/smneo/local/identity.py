"""Who may call smneo.local: the long-term keys it was started with, and the
temporary credentials its STS and SSO portal issue (ASIA... key ids with a
session token and an expiry), plus what its STS, SSO portal and SSO-OIDC
accept: role settings, web identity tokens, SSO access tokens, OIDC clients
and refresh tokens.  Secrets never leave this module except in the answers
that issue them: records and listings carry fingerprints."""
import base64
import hashlib
import json
import os
import re
import secrets
import threading

from . import sigv4

IAM_DEFAULT_MAX_SESSION = 3600
CHAINED_MAX_SESSION = 3600
_USER_NAME_RE = re.compile(r"[\w+=,.@-]{1,64}")
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def fingerprint(secret):
    """What records and listings show instead of a secret: 'sha256:' and the
    first 16 hex digits of its SHA-256 (tests compute the same to compare)."""
    if secret is None:
        return None
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def unique_id(prefix, seed):
    """An IAM-style unique id (AIDA..., AROA...): prefix + 17 characters
    derived from seed, stable across runs."""
    digest = hashlib.sha256(seed.encode()).digest()
    return prefix + "".join(_B32[b % 32] for b in digest[:17])


def _random_key_id():
    return "ASIA" + "".join(secrets.choice(_B32) for _ in range(16))


def _random_secret():
    return base64.b64encode(os.urandom(30)).decode()          # 40 characters


def _random_token(n=300):
    return base64.b64encode(os.urandom(n)).decode()


class Principal:
    """One access key and who it is.  source: "static" for the keys the
    server was started with, else the operation that issued it."""

    __slots__ = ("key_id", "secret", "token", "expires", "arn", "user_id", "account",
                 "source", "chained")

    def __init__(self, key_id, secret, arn, user_id, account, source="static",
                 token=None, expires=None, chained=False):
        self.key_id = key_id
        self.secret = secret
        self.token = token
        self.expires = expires
        self.arn = arn
        self.user_id = user_id
        self.account = account
        self.source = source
        self.chained = chained

    def describe(self):
        """A record of who signed: no secret, the session token fingerprinted."""
        d = {"access_key_id": self.key_id, "arn": self.arn, "account": self.account,
             "source": self.source}
        if self.token is not None:
            d["session_token"] = fingerprint(self.token)
            d["expires"] = self.expires
        return d

    def __repr__(self):
        return "<Principal %s %s>" % (self.key_id, self.arn)


class Identity:
    """Keys, issued credentials and identity-provider settings, behind one lock.

    Settings (configure() takes the same JSON as --identity FILE):
      credential_duration  seconds every issued credential lives, whatever
                           DurationSeconds asked (None: as asked, default 3600)
      roles                {role ARN: {"deny": bool|message, "external_id": str,
                            "mfa_serial": str, "mfa_code": "123456",
                            "max_session_duration": seconds}}
      web_identity         {"accept": "jwt"|"listed"|"none", "tokens": [...],
                            "error": code when refused}
      sso_tokens           {access token: {"expires_in": s | "expires_at": epoch,
                            "user": name, "roles": [{"account_id", "role_name"}]}}
      oidc_clients         {client id: {"secret": s, "expires_in"|"expires_at"}}
      refresh_tokens       {refresh token: {"client_id", "client_secret",
                            "expires_in"|"expires_at", "access_token_ttl": s,
                            "user", "roles", "rotate": bool}}
    """

    def __init__(self, account, credentials, clock):
        self.account = account
        self.clock = clock
        self.lock = threading.RLock()
        self.keys = {}
        for kid, secret in credentials.items():
            user = kid if _USER_NAME_RE.fullmatch(kid) else "smneo-local"
            self.keys[kid] = Principal(
                kid, secret, "arn:aws:iam::%s:user/%s" % (account, user),
                unique_id("AIDA", kid), account)
        self.credential_duration = None
        self.roles = {}
        self.web_identity = {"accept": "jwt", "tokens": set(), "error": None}
        self.sso_tokens = {}
        self.oidc_clients = {}
        self.refresh_tokens = {}

    # ---- SigV4 side -------------------------------------------------------
    def get(self, key_id):
        """The secret for key_id (sigv4.verify's credentials lookup)."""
        p = self.keys.get(key_id)
        return None if p is None else p.secret

    def check_session(self, key_id, token):
        """The principal for a verified key, once its session token checks out.
        Raises sigv4.AuthError token_missing / token_invalid / token_expired."""
        with self.lock:
            p = self.keys[key_id]
            if p.token is None:
                # Long-term keys: a session token beside them is not checked.
                return p
            if token is None:
                raise sigv4.AuthError("token_missing", "The security token included "
                                      "in the request is invalid.")
            if not secrets.compare_digest(token.encode("utf-8", "surrogatepass"),
                                          p.token.encode()):
                raise sigv4.AuthError("token_invalid", "The security token included "
                                      "in the request is invalid.")
            if self.clock() >= p.expires:
                raise sigv4.AuthError("token_expired", "The security token included "
                                      "in the request is expired")
            return p

    # ---- issuing -------------------------------------------------------------
    def issue(self, arn, user_id, account, duration, source, chained):
        """New temporary credentials valid for `duration` seconds (or the
        configured credential_duration), expiring on a whole second."""
        with self.lock:
            if self.credential_duration is not None:
                duration = self.credential_duration
            expires = float(int(self.clock() + duration))
            kid = _random_key_id()
            while kid in self.keys:
                kid = _random_key_id()
            p = Principal(kid, _random_secret(), arn, user_id, account, source=source,
                          token=_random_token(), expires=expires, chained=chained)
            self.keys[kid] = p
            return p

    def expire(self, key_id=None):
        """Make one issued credential (or all) expire now; returns how many."""
        with self.lock:
            now = self.clock()
            n = 0
            for p in self.keys.values():
                if p.token is not None and (key_id is None or p.key_id == key_id):
                    p.expires = min(p.expires, now)
                    n += 1
            return n

    def issued(self):
        with self.lock:
            return [p.describe() for p in self.keys.values() if p.token is not None]

    # ---- settings --------------------------------------------------------------
    def role(self, arn):
        with self.lock:
            return dict(self.roles.get(arn, {}))

    def _expiry(self, spec, default):
        if "expires_at" in spec:
            return float(spec["expires_at"])
        ttl = spec.get("expires_in", default)
        return None if ttl is None else self.clock() + float(ttl)

    def configure(self, doc):
        """Merge settings (see the class docstring); ValueError names a bad key."""
        if not isinstance(doc, dict):
            raise ValueError("identity settings are a JSON object")
        known = {"credential_duration", "roles", "web_identity", "sso_tokens",
                 "oidc_clients", "refresh_tokens"}
        unknown = set(doc) - known
        if unknown:
            raise ValueError("unknown identity setting(s): %s (known: %s)"
                             % (", ".join(sorted(unknown)), ", ".join(sorted(known))))
        with self.lock:
            if "credential_duration" in doc:
                d = doc["credential_duration"]
                if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float))
                                      or d <= 0):
                    raise ValueError("credential_duration must be a positive number of "
                                     "seconds or null")
                self.credential_duration = d
            for arn, spec in _mapping(doc, "roles").items():
                _only(spec, "roles[%s]" % arn, {"deny", "external_id", "mfa_serial",
                                                 "mfa_code", "max_session_duration"})
                msd = spec.get("max_session_duration", IAM_DEFAULT_MAX_SESSION)
                if isinstance(msd, bool) or not isinstance(msd, int) or \
                        not 3600 <= msd <= 43200:
                    raise ValueError("roles[%s].max_session_duration must be 3600..43200 "
                                     "seconds, as IAM allows" % arn)
                self.roles[arn] = dict(spec)
            if "web_identity" in doc:
                wi = doc["web_identity"]
                _only(wi, "web_identity", {"accept", "tokens", "error"})
                accept = wi.get("accept", self.web_identity["accept"])
                if accept not in ("jwt", "listed", "none"):
                    raise ValueError("web_identity.accept must be jwt, listed or none")
                err = wi.get("error", self.web_identity["error"])
                if err is not None and err not in WEB_IDENTITY_ERRORS:
                    raise ValueError("web_identity.error must be one of %s"
                                     % ", ".join(sorted(WEB_IDENTITY_ERRORS)))
                self.web_identity["accept"] = accept
                self.web_identity["error"] = err
                self.web_identity["tokens"].update(_strings(wi.get("tokens", []),
                                                            "web_identity.tokens"))
            for token, spec in _mapping(doc, "sso_tokens").items():
                _only(spec, "sso_tokens entry", {"expires_in", "expires_at", "user", "roles"})
                self.sso_tokens[token] = {"expires": self._expiry(spec, 3600),
                                          "user": spec.get("user", "smneo-user"),
                                          "roles": _roles(spec.get("roles"))}
            for cid, spec in _mapping(doc, "oidc_clients").items():
                _only(spec, "oidc_clients[%s]" % cid, {"secret", "expires_in", "expires_at"})
                if not isinstance(spec.get("secret"), str) or not spec["secret"]:
                    raise ValueError("oidc_clients[%s].secret must be a non-empty string"
                                     % cid)
                self.oidc_clients[cid] = {"secret": spec["secret"],
                                          "expires": self._expiry(spec, 90 * 86400)}
            for rt, spec in _mapping(doc, "refresh_tokens").items():
                _only(spec, "refresh_tokens entry", {
                    "client_id", "client_secret", "expires_in", "expires_at",
                    "access_token_ttl", "user", "roles", "rotate"})
                cid = spec.get("client_id")
                if not isinstance(cid, str) or not cid:
                    raise ValueError("each refresh_tokens entry needs a client_id")
                if "client_secret" in spec:
                    self.oidc_clients[cid] = {"secret": spec["client_secret"],
                                              "expires": self._expiry({}, 90 * 86400)}
                elif cid not in self.oidc_clients:
                    raise ValueError("refresh token for client %r: register the client "
                                     "(oidc_clients) or give client_secret" % cid)
                self.refresh_tokens[rt] = {
                    "client_id": cid, "expires": self._expiry(spec, None),
                    "access_token_ttl": float(spec.get("access_token_ttl", 3600)),
                    "user": spec.get("user", "smneo-user"),
                    "roles": _roles(spec.get("roles")),
                    "rotate": bool(spec.get("rotate", True))}

    def snapshot(self):
        """The settings as JSON, every token and secret fingerprinted."""
        with self.lock:
            return {
                "credential_duration": self.credential_duration,
                "roles": {k: {kk: (fingerprint(vv) if kk == "mfa_code" else vv)
                              for kk, vv in v.items()} for k, v in self.roles.items()},
                "web_identity": {"accept": self.web_identity["accept"],
                                 "error": self.web_identity["error"],
                                 "tokens": sorted(fingerprint(t) for t in
                                                  self.web_identity["tokens"])},
                "sso_tokens": {fingerprint(k): _public(v) for k, v in
                               self.sso_tokens.items()},
                "oidc_clients": {k: {"secret": fingerprint(v["secret"]),
                                     "expires": v["expires"]}
                                 for k, v in self.oidc_clients.items()},
                "refresh_tokens": {fingerprint(k): _public(v) for k, v in
                                   self.refresh_tokens.items()},
                "issued": [p.describe() for p in self.keys.values() if p.token is not None],
            }


WEB_IDENTITY_ERRORS = {"InvalidIdentityToken", "IDPRejectedClaim", "IDPCommunicationError",
                       "ExpiredTokenException", "AccessDenied"}


def _public(entry):
    """A token's settings as JSON (roles as [account_id, role_name] pairs)."""
    out = dict(entry)
    if out.get("roles") is not None:
        out["roles"] = sorted([a, r] for a, r in out["roles"])
    return out


def _mapping(doc, key):
    v = doc.get(key, {})
    if not isinstance(v, dict) or not all(isinstance(x, dict) for x in v.values()):
        raise ValueError("%s must map names to JSON objects" % key)
    return v


def _only(spec, where, allowed):
    if not isinstance(spec, dict):
        raise ValueError("%s must be a JSON object" % where)
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError("%s: unknown key(s) %s (known: %s)"
                         % (where, ", ".join(sorted(unknown)), ", ".join(sorted(allowed))))


def _strings(items, where):
    if not isinstance(items, list) or not all(isinstance(t, str) and t for t in items):
        raise ValueError("%s must be a list of non-empty strings" % where)
    return items


def _roles(roles):
    """None (every account and role) or a set of (account_id, role_name)."""
    if roles is None:
        return None
    out = set()
    for r in roles:
        if not isinstance(r, dict) or not {"account_id", "role_name"} <= set(r):
            raise ValueError("roles entries are {\"account_id\": ..., \"role_name\": ...}")
        out.add((str(r["account_id"]), str(r["role_name"])))
    return out


def load_settings(source):
    """Identity settings from a dict or a JSON file path."""
    if isinstance(source, dict):
        return source
    with open(source, encoding="utf-8") as f:
        try:
            return json.load(f)
        except ValueError as e:
            raise ValueError("identity file %s is not valid JSON: %s" % (source, e))
