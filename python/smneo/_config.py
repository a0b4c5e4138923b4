"""boto3's client() arguments and botocore.config.Config, taken apart for
smneo.Client. Conversion and checks only: the settings themselves (retry
mode and attempts, defaults mode, User-Agent, endpoints, proxies, TLS) are
resolved by the C core, which also reads the environment variables and
profile keys botocore reads for them. Every Config field is either passed on
or refused by name (docs/python.md has the table); none is dropped.

botocore is never imported here: a Config is read through its attributes.
"""

# The model's API version (service-2.json "apiVersion"): the only api_version
# boto3 could load for these operations.
from . import _smneo

_API_VERSION = _smneo._api_version()

# botocore 1.43's Config.OPTION_DEFAULTS, in its order, each with what smneo
# does with it. A field a newer botocore adds is refused until it is listed.
_HONOURED = (
    "region_name", "signature_version", "user_agent", "user_agent_extra", "user_agent_appid",
    "connect_timeout", "read_timeout", "parameter_validation", "max_pool_connections", "proxies",
    "proxies_config", "s3", "s3_disable_express_session_auth", "retries", "client_cert", "inject_host_prefix",
    "endpoint_discovery_enabled", "use_dualstack_endpoint", "use_fips_endpoint",
    "ignore_configured_endpoint_urls", "defaults_mode", "tcp_keepalive", "request_min_compression_size_bytes",
    "disable_request_compression", "client_context_params", "sigv4a_signing_region_set",
    "request_checksum_calculation", "response_checksum_validation", "account_id_endpoint_mode",
    "auth_scheme_preference",
)


class ConfigError(ValueError):
    """A Config field or client() argument smneo cannot honour (it says which and why)."""


def _refuse(field, why):
    raise ConfigError("Config(%s=...) cannot be used with smneo: %s" % (field, why))


def _user_options(config):
    """The fields the caller gave (botocore records them), else the non-None ones."""
    given = getattr(config, "_user_provided_options", None)
    if isinstance(given, dict):
        return dict(given)
    out = {}
    for name in _HONOURED:
        value = getattr(config, name, None)
        if value is not None:
            out[name] = value
    return out


def _bool(field, value):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    _refuse(field, "use True or False, not %r" % (value,))


def _tri(value):
    """None -> 0 (environment/profile), True -> 1, False -> -1 (the core's convention)."""
    return 0 if value is None else (1 if value else -1)


def _cert_pair(field, value):
    if value is None:
        return None, None
    if isinstance(value, str):
        return value, None
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    _refuse(field, "use a path to a PEM file, or a (certificate, key) pair of paths, not %r" % (value,))


def _proxies(settings, proxies):
    if proxies is None:
        return
    if not isinstance(proxies, dict):
        _refuse("proxies", "use a dict such as {'https': 'http://proxy:3128'}, not %s" % type(proxies).__name__)
    settings["proxies_set"] = 1
    for key, url in proxies.items():
        if key not in ("http", "https"):
            _refuse("proxies", "the key %r is not supported: use 'http' and 'https' (a proxy per scheme; "
                               "per-host keys such as 'https://host' are not)" % (key,))
        if url is not None and not isinstance(url, str):
            _refuse("proxies", "the %r proxy must be a URL string, not %r" % (key, url))
        settings["proxy_" + key] = url


def _proxies_config(settings, pc):
    if pc is None:
        return
    if not isinstance(pc, dict):
        _refuse("proxies_config", "use a dict, not %s" % type(pc).__name__)
    for key, value in pc.items():
        if key == "proxy_ca_bundle":
            if value is not None and not isinstance(value, str):
                _refuse("proxies_config", "proxy_ca_bundle must be a path, not %r" % (value,))
            settings["proxy_ca_bundle"] = value
        elif key == "proxy_client_cert":
            settings["proxy_client_cert"], settings["proxy_client_key"] = _cert_pair(
                "proxies_config", value)
        elif key == "proxy_use_forwarding_for_https":
            if value:
                _refuse("proxies_config", "proxy_use_forwarding_for_https=True is not supported: smneo always "
                                          "tunnels https through the proxy with CONNECT")
        else:
            _refuse("proxies_config", "unknown key %r: use proxy_ca_bundle, proxy_client_cert or "
                                      "proxy_use_forwarding_for_https" % (key,))


def _retries(out, retries):
    """Config.retries as botocore's args.py reads it: total_max_attempts wins
    over max_attempts (which counts retries, so one more attempt)."""
    if retries is None:
        return
    if not isinstance(retries, dict):
        _refuse("retries", "use a dict such as {'mode': 'standard', 'total_max_attempts': 3}")
    for key in retries:
        if key not in ("max_attempts", "total_max_attempts", "mode"):
            _refuse("retries", "unknown key %r: use mode, total_max_attempts or max_attempts" % (key,))
    if retries.get("total_max_attempts") is not None:
        out["max_attempts"] = retries["total_max_attempts"]
    elif retries.get("max_attempts") is not None:
        out["max_attempts"] = retries["max_attempts"] + 1
    if retries.get("mode") is not None:
        out["retry_mode"] = retries["mode"]


_POOL_DEFAULT = 10           # Config.OPTION_DEFAULTS["max_pool_connections"]
_COMPRESSION_MAX = 10485760  # botocore's bound for request_min_compression_size_bytes


def from_config(config):
    """(client keyword arguments, core settings) from a botocore Config."""
    out, settings = {}, {"max_pool_connections": _POOL_DEFAULT}
    if config is None:
        return out, settings
    given = _user_options(config)
    for name in given:
        if name not in _HONOURED:
            _refuse(name, "smneo does not know this field (it knows botocore 1.43's Config)")
    value = lambda name: given.get(name)  # noqa: E731
    if value("region_name") is not None:
        out["region_name"] = value("region_name")
    sv = value("signature_version")
    if sv is not None and sv not in ("v4", "s3v4"):
        _refuse("signature_version", "SageMaker requests are signed with SigV4 only: leave it unset or use 'v4' "
                                     "(botocore.UNSIGNED and other versions are not supported)")
    for name in ("user_agent", "user_agent_extra", "user_agent_appid"):
        if value(name) is not None:
            if not isinstance(value(name), str):
                _refuse(name, "use a str, not %r" % (value(name),))
            settings[name] = value(name)
    # connect_timeout: botocore passes Config's (60 unless a defaults mode
    # other than legacy made it None, then the defaults mode's applies).
    out["connect_timeout"] = getattr(config, "connect_timeout", 60)
    out["read_timeout"] = getattr(config, "read_timeout", 60)
    if value("parameter_validation") is False:
        out["validation"] = "off"
    pool = value("max_pool_connections")
    if pool is not None:
        if not isinstance(pool, int) or isinstance(pool, bool) or pool < 1:
            _refuse("max_pool_connections", "use a positive int, not %r" % (pool,))
        settings["max_pool_connections"] = pool
    _proxies(settings, value("proxies"))
    _proxies_config(settings, value("proxies_config"))
    s3 = value("s3")
    if s3:
        if not isinstance(s3, dict):
            _refuse("s3", "use a dict such as {'addressing_style': 'path'}")
        for key, v in s3.items():
            if key == "addressing_style":
                if v not in (None, "auto", "virtual", "path"):
                    _refuse("s3", "addressing_style must be 'auto', 'virtual' or 'path', not %r" % (v,))
                if v is not None:
                    settings["s3_addressing_style"] = v
                continue
            if key in ("use_accelerate_endpoint", "use_dualstack_endpoint", "payload_signing_enabled",
                       "us_east_1_regional_endpoint") and v in (None, False, "regional"):
                continue
            _refuse("s3", "the S3 option %s=%r is not supported for compile()'s transfers (addressing_style "
                          "is)" % (key, v))
    if value("s3_disable_express_session_auth"):
        _refuse("s3_disable_express_session_auth", "compile() does not use S3 Express One Zone buckets")
    _retries(out, value("retries"))
    cert, key = _cert_pair("client_cert", value("client_cert"))
    if cert:
        settings["client_cert"], settings["client_key"] = cert, key
    # inject_host_prefix, endpoint_discovery_enabled: no SageMaker operation
    # has a host prefix or endpoint discovery (tests/python/test_config_fields.py
    # checks the model), so either value gives the same requests, as in boto3.
    _bool("inject_host_prefix", value("inject_host_prefix"))
    _bool("endpoint_discovery_enabled", value("endpoint_discovery_enabled"))
    for name, core in (("use_dualstack_endpoint", "use_dualstack"), ("use_fips_endpoint", "use_fips")):
        if value(name) is not None:
            settings[core] = _tri(_bool(name, value(name)))
    if value("ignore_configured_endpoint_urls") is not None:
        settings["ignore_configured_endpoint_urls"] = _tri(
            _bool("ignore_configured_endpoint_urls", value("ignore_configured_endpoint_urls")))
    if value("defaults_mode") is not None:
        if not isinstance(value("defaults_mode"), str):
            _refuse("defaults_mode", "use a str such as 'standard'")
        settings["defaults_mode"] = value("defaults_mode")
    if value("tcp_keepalive") is not None:
        settings["tcp_keepalive"] = _tri(_bool("tcp_keepalive", value("tcp_keepalive")))
    size = value("request_min_compression_size_bytes")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or
                             not 0 <= size <= _COMPRESSION_MAX):
        _refuse("request_min_compression_size_bytes", "use an int from 0 to %d, not %r" % (_COMPRESSION_MAX, size))
    # No SageMaker operation has the requestcompression trait: nothing is
    # compressed whatever these say, as in boto3.
    _bool("disable_request_compression", value("disable_request_compression"))
    if value("client_context_params"):
        _refuse("client_context_params", "SageMaker's model defines no client context parameters")
    if value("sigv4a_signing_region_set") is not None:
        _refuse("sigv4a_signing_region_set", "SageMaker requests are signed with SigV4, not SigV4a")
    for name in ("request_checksum_calculation", "response_checksum_validation"):
        v = value(name)
        if v is not None and v not in ("when_supported", "when_required"):
            _refuse(name, "use 'when_supported' or 'when_required', not %r" % (v,))
        if v == "when_required":
            _refuse(name, "'when_required' is not supported: compile()'s S3 transfers always carry checksums "
                          "(SageMaker operations have none either way)")
    mode = value("account_id_endpoint_mode")
    if mode is not None and mode not in ("preferred", "disabled", "required"):
        _refuse("account_id_endpoint_mode", "use 'preferred', 'disabled' or 'required', not %r" % (mode,))
    if mode == "required":
        _refuse("account_id_endpoint_mode", "'required' cannot be met: SageMaker has no account-based endpoints")
    pref = value("auth_scheme_preference")
    if pref is not None and not isinstance(pref, str):
        _refuse("auth_scheme_preference", "use a comma-separated str such as 'sigv4'")
    return out, settings


def client_arguments(use_ssl, verify, api_version, aws_account_id):
    """boto3's client() arguments beyond the credentials and endpoint."""
    settings = {}
    if use_ssl is not None and not isinstance(use_ssl, bool):
        raise ConfigError("use_ssl must be True or False, not %r" % (use_ssl,))
    if use_ssl is False:
        settings["use_http"] = 1
    if api_version is not None and api_version != _API_VERSION:
        raise ConfigError("api_version %r is not available: smneo implements SageMaker %s only"
                          % (api_version, _API_VERSION))
    if aws_account_id is not None and not isinstance(aws_account_id, str):
        raise ConfigError("aws_account_id must be a str, not %r" % (aws_account_id,))
    return settings
