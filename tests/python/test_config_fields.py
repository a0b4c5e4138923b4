"""Every botocore.config.Config field (Config.OPTION_DEFAULTS in botocore
1.43) and boto3's client() arguments: each is honoured, observed on the wire
against a fake SageMaker (or a local proxy in front of it), or refused with an
error naming the field. The table below is the whole list; a field botocore
adds later fails test_every_field_is_in_the_table until it is handled."""
import json
import threading

import pytest

import smneo
from fakes import KEY, SECRET, fake, isolated_env, make_client, need_module, proxy  # noqa: F401


def config(**kw):
    return need_module("botocore.config").Config(**kw)


def refused(field, **kw):
    with pytest.raises(ValueError) as ei:
        smneo.Client(region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                     config=config(**kw))
    assert "Config(%s=" % field in str(ei.value)
    return str(ei.value)


def one_call(fake, **kw):
    with make_client(fake.url, **kw) as c:
        c.list_compilation_jobs()
    return fake.requests[-1]


# ---- the table -----------------------------------------------------------------------------------
HONOURED_ON_WIRE = {"region_name", "user_agent", "user_agent_extra", "user_agent_appid", "read_timeout",
                    "parameter_validation", "max_pool_connections", "proxies", "retries", "defaults_mode",
                    "signature_version", "inject_host_prefix", "endpoint_discovery_enabled",
                    "request_min_compression_size_bytes", "disable_request_compression",
                    "auth_scheme_preference"}
HONOURED_RESOLVED = {"use_dualstack_endpoint", "use_fips_endpoint", "ignore_configured_endpoint_urls"}
HONOURED_BY_LIBCURL = {"connect_timeout", "client_cert", "tcp_keepalive", "proxies_config"}
REFUSED_VALUES = {"s3", "s3_disable_express_session_auth", "client_context_params", "sigv4a_signing_region_set",
                  "request_checksum_calculation", "response_checksum_validation", "account_id_endpoint_mode"}


def test_every_field_is_in_the_table():
    Config = need_module("botocore.config").Config
    table = HONOURED_ON_WIRE | HONOURED_RESOLVED | HONOURED_BY_LIBCURL | REFUSED_VALUES
    assert set(Config.OPTION_DEFAULTS) == table
    from smneo import _config
    assert set(_config._HONOURED) == table


def test_sagemaker_model_has_none_of_the_inert_traits():
    """inject_host_prefix, endpoint_discovery_enabled, request compression and
    checksums change nothing for SageMaker because its model has no such trait."""
    botocore_session = need_module("botocore.session")
    model = botocore_session.get_session().get_service_model("sagemaker")
    for name in model.operation_names:
        op = model.operation_model(name)
        assert not op.endpoint.get("hostPrefix") if op.endpoint else True
        assert not op.endpoint_discovery and not op.http_checksum and not op.request_compression
    assert not model.client_context_parameters
    assert model.metadata["signatureVersion"] == "v4"


def test_region_and_user_agent(fake, isolated_env):  # noqa: F811
    rec = one_call(fake, region_name=None, config=config(region_name="eu-west-1", user_agent_extra="extra/1",
                                                          user_agent_appid="my app"))
    assert "/eu-west-1/sagemaker/aws4_request" in rec.headers["authorization"]
    ua = rec.headers["user-agent"]
    assert ua.startswith("smneo/") and ua.endswith(" app/my-app extra/1")
    rec = one_call(fake, config=config(user_agent="mine/1.0", user_agent_extra="x"))
    assert rec.headers["user-agent"] == "mine/1.0 x"


def test_appid_from_environment_and_profile(fake, isolated_env, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_SDK_UA_APP_ID", "from-env")
    assert one_call(fake).headers["user-agent"].endswith(" app/from-env")
    monkeypatch.delenv("AWS_SDK_UA_APP_ID")
    (isolated_env / "config").write_text("[default]\nsdk_ua_app_id = from-profile\n")
    assert one_call(fake).headers["user-agent"].endswith(" app/from-profile")


def test_read_timeout(fake, isolated_env):  # noqa: F811
    fake.queue("ListCompilationJobs", 200, {"CompilationJobSummaries": []}, delay=1.0)
    with make_client(fake.url, read_timeout=None, config=config(read_timeout=0.2, retries={"total_max_attempts": 1})) as c:
        with pytest.raises(smneo.ReadTimeoutError):
            c.list_compilation_jobs()


def test_parameter_validation_off_sends_bad_values(fake, isolated_env):  # noqa: F811
    with make_client(fake.url) as c:
        with pytest.raises(smneo.ParamValidationError):
            c.describe_compilation_job(CompilationJobName="bad name!")
    n = len(fake.requests)
    with make_client(fake.url, config=config(parameter_validation=False)) as c:
        c.describe_compilation_job(CompilationJobName="bad name!")
    assert len(fake.requests) == n + 1 and fake.requests[-1].json == {"CompilationJobName": "bad name!"}


def test_inert_fields_leave_the_request_unchanged(fake, isolated_env):  # noqa: F811
    base = one_call(fake)
    for kw in (dict(inject_host_prefix=False), dict(endpoint_discovery_enabled=True),
               dict(request_min_compression_size_bytes=0), dict(disable_request_compression=False),
               dict(auth_scheme_preference="sigv4"), dict(signature_version="v4"),
               dict(request_checksum_calculation="when_supported"), dict(account_id_endpoint_mode="disabled")):
        rec = one_call(fake, config=config(**kw))
        assert (rec.path, rec.body, rec.headers.get("content-encoding"), rec.headers["x-amz-target"]) == \
               (base.path, base.body, None, base.headers["x-amz-target"]), kw


def test_retries_and_defaults_mode(fake, isolated_env):  # noqa: F811
    with make_client(fake.url, config=config(retries={"mode": "adaptive", "max_attempts": 1})) as c:
        assert (c.retry_mode, c.max_attempts) == ("adaptive", 2)
    with make_client(fake.url, config=config(defaults_mode="cross-region")) as c:
        assert (c.defaults_mode, c.retry_mode) == ("cross-region", "standard")
    with pytest.raises(ValueError, match="defaults_mode"):
        make_client(fake.url, config=config(defaults_mode="fastest"))


def test_max_pool_connections(fake, isolated_env):  # noqa: F811
    """The pool keeps at most max_pool_connections idle connections: after a
    burst of 4 concurrent calls a pool of 1 opens new connections for the next
    burst, a pool of 10 reuses them."""
    def bursts(pool):
        fake.requests.clear()
        with make_client(fake.url, config=config(max_pool_connections=pool)) as c:
            for _ in range(2):
                for _ in range(4):
                    fake.queue("ListCompilationJobs", 200, {"CompilationJobSummaries": []}, delay=0.2)
                ts = [threading.Thread(target=c.list_compilation_jobs) for _ in range(4)]
                [t.start() for t in ts]
                [t.join() for t in ts]
        return len({r.peer for r in fake.requests})
    assert bursts(10) <= 4
    assert bursts(1) >= 5
    with pytest.raises(ValueError, match="max_pool_connections"):
        make_client(fake.url, config=config(max_pool_connections=0))


def test_proxies_through_a_local_proxy(fake, isolated_env, proxy):  # noqa: F811
    url = "http://127.0.0.1:%d" % proxy.server_address[1]
    with make_client(fake.url, config=config(proxies={"http": url})) as c:
        assert c.list_compilation_jobs()["CompilationJobSummaries"]
    assert proxy.seen == [fake.url + "/"]
    # A proxy for the other scheme only: this request goes direct, the
    # environment's proxies are not used either (as botocore).
    with make_client(fake.url, config=config(proxies={"https": url})) as c:
        c.list_compilation_jobs()
    assert len(proxy.seen) == 1
    assert "per-host" in refused("proxies", proxies={"https://api.sagemaker.us-east-1.amazonaws.com": url})
    assert "CONNECT" in refused("proxies_config", proxies_config={"proxy_use_forwarding_for_https": True})
    assert "proxy_ca" in refused("proxies_config", proxies_config={"proxy_cert": "x"})


def test_endpoint_fields_resolve_as_botocore(isolated_env, monkeypatch):  # noqa: F811
    boto3 = need_module("boto3")
    kw = dict(region_name="us-west-2", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    for cfg in (dict(use_fips_endpoint=True, ignore_configured_endpoint_urls=True),
                dict(use_dualstack_endpoint=True, ignore_configured_endpoint_urls=True),
                dict(use_dualstack_endpoint=True, use_fips_endpoint=True, ignore_configured_endpoint_urls=True),
                dict(ignore_configured_endpoint_urls=False), dict()):
        ours = smneo.Client(config=config(**cfg), **kw)
        theirs = boto3.client("sagemaker", config=config(**cfg), **kw)
        assert ours.endpoint_url == theirs.meta.endpoint_url, cfg
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert smneo.Client(**kw).endpoint_url == boto3.client("sagemaker", **kw).meta.endpoint_url
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    assert (smneo.Client(use_ssl=False, **kw).endpoint_url ==
            boto3.client("sagemaker", use_ssl=False, **kw).meta.endpoint_url == "http://api.sagemaker.us-west-2.amazonaws.com")


def test_client_arguments(isolated_env):  # noqa: F811
    kw = dict(region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    c = smneo.Client(api_version="2017-07-24", aws_account_id="123456789012", verify=False, **kw)
    assert c.aws_account_id == "123456789012"
    with pytest.raises(ValueError, match="api_version '2016-01-01' is not available"):
        smneo.Client(api_version="2016-01-01", **kw)
    with pytest.raises(ValueError, match="use_ssl"):
        smneo.Client(use_ssl="no", **kw)


def test_libcurl_fields_are_checked(isolated_env):  # noqa: F811
    kw = dict(region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    # S3 addressing (tests/core/test_s3.c sees the URLs): passed to the core, which checks it.
    smneo.Client(config=config(s3={"addressing_style": "path"}), **kw)
    smneo.Client(config=config(connect_timeout=3, tcp_keepalive=True, client_cert=("c.pem", "k.pem"),
                               proxies_config={"proxy_ca_bundle": "ca.pem", "proxy_client_cert": "p.pem"}), **kw)
    assert "PEM" in refused("client_cert", client_cert=("a", "b", "c"))
    assert "True or False" in refused("tcp_keepalive", tcp_keepalive="sometimes")


@pytest.mark.parametrize("field,value,why", [
    ("s3", {"payload_signing_enabled": True}, "payload_signing_enabled"),
    ("s3", {"use_accelerate_endpoint": True}, "use_accelerate_endpoint"),
    ("s3_disable_express_session_auth", True, "Express"),
    ("client_context_params", {"x": 1}, "client context"),
    ("sigv4a_signing_region_set", "*", "SigV4a"),
    ("request_checksum_calculation", "when_required", "when_required"),
    ("response_checksum_validation", "when_required", "when_required"),
    ("account_id_endpoint_mode", "required", "account"),
    ("signature_version", "s3", "SigV4"),
    ("request_min_compression_size_bytes", 10485761, "0 to"),
])
def test_refused_values_name_the_field(isolated_env, field, value, why):  # noqa: F811
    assert why in refused(field, **{field: value})
