"""tests/fixtures/protocol/multi.json is botocore 1.43's answer: how it
serializes STS (AWS Query), SSO and SSO-OIDC (REST-JSON) requests and how it
parses their answers and errors. tests/core/test_protocol.c holds smneo's
core to the same file. Here the file is checked against botocore itself (so
it cannot drift from botocore); SMNEO_REGEN_FIXTURES=1 rewrites it."""
import datetime
import json
import os

import pytest

from fakes import need_module

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "fixtures", "protocol", "multi.json")
ROLE = "arn:aws:iam::123456789012:role/NeoRole"

REQUESTS = [
    ("sts", "AssumeRole", {"RoleArn": ROLE, "RoleSessionName": "botocore-session-1700000000",
                           "ExternalId": "ext+id=1,2.@:/-", "DurationSeconds": 900,
                           "SerialNumber": "arn:aws:iam::123456789012:mfa/user", "TokenCode": "123456",
                           "Tags": [{"Key": "team", "Value": "vision ml/é+"}, {"Key": "k2", "Value": "v2"}],
                           "PolicyArns": [], "TransitiveTagKeys": ["team"]}),
    ("sts", "AssumeRole", {"RoleSessionName": "s-1", "RoleArn": ROLE}),
    ("sts", "AssumeRoleWithWebIdentity", {"RoleArn": ROLE, "RoleSessionName": "web",
                                          "WebIdentityToken": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig+/="}),
    ("sts", "GetCallerIdentity", {}),
    ("sso", "GetRoleCredentials", {"roleName": "Neo Admin", "accountId": "123456789012",
                                   "accessToken": "aoa-token/+="}),
    ("sso-oidc", "CreateToken", {"clientId": "cid", "clientSecret": "csecret", "grantType": "refresh_token",
                                 "refreshToken": "rtoken"}),
]

XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
CREDS_XML = ("<Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s3cr3t&amp;key"
             "</SecretAccessKey><SessionToken>tok&lt;en</SessionToken><Expiration>2023-11-14T23:13:20Z"
             "</Expiration></Credentials>")
RESPONSES = [
    ("sts", "AssumeRole", 200, {"x-amzn-RequestId": "req-1", "Content-Type": "text/xml"},
     '<?xml version="1.0" encoding="UTF-8"?>\n<AssumeRoleResponse xmlns="%s">\n  <AssumeRoleResult>\n    '
     '<SourceIdentity>me</SourceIdentity><AssumedRoleUser><AssumedRoleId>AROA1:s</AssumedRoleId>'
     '<Arn>arn:aws:sts::123456789012:assumed-role/NeoRole/s</Arn></AssumedRoleUser>%s'
     '<PackedPolicySize>6</PackedPolicySize>\n  </AssumeRoleResult>\n  <ResponseMetadata><RequestId>req-1'
     '</RequestId></ResponseMetadata>\n</AssumeRoleResponse>\n' % (XMLNS, CREDS_XML)),
    ("sts", "AssumeRoleWithWebIdentity", 200, {"x-amzn-RequestId": "req-2"},
     '<AssumeRoleWithWebIdentityResponse xmlns="%s"><AssumeRoleWithWebIdentityResult>'
     '<SubjectFromWebIdentityToken>sub &#x263A; &#65;</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com'
     '</Audience><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/NeoRole/web</Arn>'
     '<AssumedRoleId>AROA1:web</AssumedRoleId></AssumedRoleUser>%s<Provider>example.com</Provider>'
     '</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata>'
     '</AssumeRoleWithWebIdentityResponse>' % (XMLNS, CREDS_XML)),
    ("sts", "GetCallerIdentity", 200, {"x-amzn-RequestId": "req-3"},
     '<GetCallerIdentityResponse xmlns="%s"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/u'
     '</Arn><UserId>AIDA1</UserId><Account>123456789012</Account></GetCallerIdentityResult>'
     '<!-- a comment --><ResponseMetadata><RequestId>req-3</RequestId></ResponseMetadata>'
     '</GetCallerIdentityResponse>' % XMLNS),
    ("sts", "AssumeRole", 403, {"x-amzn-RequestId": "req-4"},
     '<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: u is not '
     'authorized to perform: sts:AssumeRole</Message></Error><RequestId>req-4</RequestId></ErrorResponse>'
     % XMLNS),
    ("sts", "AssumeRoleWithWebIdentity", 400, {},
     '<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad &amp; worse'
     '</Message></Error><RequestId>req-5</RequestId></ErrorResponse>'),
    ("sso", "GetRoleCredentials", 200, {"x-amzn-RequestId": "req-6"},
     '{"roleCredentials": {"accessKeyId": "ASIAEXAMPLE", "secretAccessKey": "s3cr3t", "sessionToken": "tok",'
     ' "expiration": 1700003600000}}'),
    ("sso", "GetRoleCredentials", 401, {"x-amzn-ErrorType": "UnauthorizedException:http://x",
                                        "x-amzn-RequestId": "req-7"},
     '{"message": "Session token not found or invalid"}'),
    ("sso-oidc", "CreateToken", 200, {"x-amzn-RequestId": "req-8"},
     '{"accessToken": "at", "tokenType": "Bearer", "expiresIn": 28800, "refreshToken": "rt2"}'),
    ("sso-oidc", "CreateToken", 400, {"x-amzn-ErrorType": "InvalidGrantException", "x-amzn-RequestId": "req-9"},
     '{"error": "invalid_grant", "error_description": "Invalid refresh token provided"}'),
]


def _jsonable(v):
    if isinstance(v, datetime.datetime):
        return v.timestamp()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def botocore_cases():
    need_module("botocore")
    import botocore.session
    from botocore import parsers, serialize
    from botocore.awsrequest import AWSRequest, prepare_request_dict

    session = botocore.session.get_session()
    requests = []
    for service, op, params in REQUESTS:
        model = session.get_service_model(service)
        om = model.operation_model(op)
        d = serialize.create_serializer(model.metadata["protocol"]).serialize_to_request(params, om)
        prepare_request_dict(d, "https://example.com")
        req = AWSRequest(method=d["method"], url=d["url"], data=d["body"], headers=d["headers"]).prepare()
        body = req.body.decode() if isinstance(req.body, bytes) else (req.body or "")
        case = {"service": service, "operation": op, "params": params, "method": req.method,
                "path": req.url[len("https://example.com"):],
                "content_type": req.headers.get("Content-Type"),
                "headers": {k: v for k, v in req.headers.items() if k.lower().startswith("x-amz-")},
                "signed": om.auth_type != "none" and "smithy.api#noAuth" not in (om.auth or [])}
        if model.metadata["protocol"] == "rest-json" and body:
            case["body_json"] = json.loads(body)
        else:
            case["body"] = body
        requests.append(case)
    responses = []
    for service, op, status, headers, body in RESPONSES:
        model = session.get_service_model(service)
        om = model.operation_model(op)
        parser = parsers.create_parser(model.metadata["protocol"])
        # botocore's headers are case-insensitive (HTTPHeaders): lower-case them.
        lower = {k.lower(): v for k, v in headers.items()}
        parsed = parser.parse({"status_code": status, "headers": lower, "body": body.encode()}, om.output_shape)
        case = {"service": service, "operation": op, "status": status, "headers": headers, "body": body}
        if "Error" in parsed and status >= 300:
            case["error"] = {"code": parsed["Error"]["Code"], "message": parsed["Error"].get("Message", "")}
        else:
            case["result"] = _jsonable(parsed)
        responses.append(case)
    return {"comment": "Generated from botocore by tests/python/test_protocol_fixtures.py "
                       "(SMNEO_REGEN_FIXTURES=1): do not edit", "requests": requests, "responses": responses}


def test_fixture_is_botocore():
    doc = botocore_cases()
    if os.environ.get("SMNEO_REGEN_FIXTURES") == "1":
        with open(FIXTURE, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")
    with open(FIXTURE, encoding="utf-8") as f:
        stored = json.load(f)
    assert stored == doc


def test_fixture_covers_every_new_operation():
    with open(FIXTURE, encoding="utf-8") as f:
        stored = json.load(f)
    ops = {(c["service"], c["operation"]) for c in stored["requests"]}
    assert ops == {("sts", "AssumeRole"), ("sts", "AssumeRoleWithWebIdentity"), ("sts", "GetCallerIdentity"),
                   ("sso", "GetRoleCredentials"), ("sso-oidc", "CreateToken")}
    if pytest:  # the unsigned ones are the credential providers' requests
        assert {c["operation"] for c in stored["requests"] if not c["signed"]} == {
            "AssumeRoleWithWebIdentity", "GetRoleCredentials", "CreateToken"}
