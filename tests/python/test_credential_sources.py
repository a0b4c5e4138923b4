"""Which credentials a set of environment variables and files resolves to,
by botocore 1.43 and by smneo, case by case: AWS_DEFAULT_PROFILE before
AWS_PROFILE, the legacy AWS_CREDENTIAL_FILE and boto2 config providers and
their place in the chain, and the errors (docs/credentials.md)."""
import os

import pytest

from fakes import fake, need_module  # noqa: F401  (fixture)

import smneo

KEYS = {"a": "AKIDPROFILEA", "b": "AKIDPROFILEB", "default": "AKIDDEFAULT", "ec2": "AKIDEC2FILE",
        "boto": "AKIDBOTO2CFG", "env": "AKIDENVIRON"}

CASES = {
    # name: (environment, files, expected key or an error the message names)
    "default-profile-wins": ({"AWS_DEFAULT_PROFILE": "a", "AWS_PROFILE": "b"}, ("profiles",), "a"),
    "aws-profile-alone": ({"AWS_PROFILE": "b"}, ("profiles",), "b"),
    "default-profile-alone": ({"AWS_DEFAULT_PROFILE": "a"}, ("profiles",), "a"),
    "default-profile-missing": ({"AWS_DEFAULT_PROFILE": "nope", "AWS_PROFILE": "a"}, ("profiles",),
                                ("error", "AWS_DEFAULT_PROFILE")),
    "env-keys-over-default-profile": ({"AWS_DEFAULT_PROFILE": "a", "AWS_ACCESS_KEY_ID": KEYS["env"],
                                       "AWS_SECRET_ACCESS_KEY": "s"}, ("profiles",), "env"),
    "ec2-file": ({"AWS_CREDENTIAL_FILE": "{ec2}"}, (), "ec2"),
    "ec2-file-missing": ({"AWS_CREDENTIAL_FILE": "{tmp}/missing"}, (), ("error", "AWS_CREDENTIAL_FILE")),
    "ec2-file-without-key": ({"AWS_CREDENTIAL_FILE": "{ec2-empty}", "BOTO_CONFIG": "{boto}"}, (), "boto"),
    "profile-before-ec2-file": ({"AWS_CREDENTIAL_FILE": "{ec2}"}, ("profiles",), "default"),
    "boto-config": ({"BOTO_CONFIG": "{boto}"}, (), "boto"),
    "ec2-file-before-boto": ({"AWS_CREDENTIAL_FILE": "{ec2}", "BOTO_CONFIG": "{boto}"}, (), "ec2"),
    "boto-config-missing": ({"BOTO_CONFIG": "{tmp}/missing"}, (), None),
}


def prepare(monkeypatch, tmp, env, files):
    for k in list(os.environ):
        if k.startswith("AWS_") or k == "BOTO_CONFIG":
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp))  # no ~/.boto of the machine
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "credentials"))
    if "profiles" in files:
        (tmp / "credentials").write_text("".join(
            "[%s]\naws_access_key_id = %s\naws_secret_access_key = s\n" % (p, KEYS[p]) for p in ("default", "a", "b")))
    (tmp / "ec2").write_text("# EC2 API tools\nAWSAccessKeyId = %s\nAWSSecretKey=s\n" % KEYS["ec2"])
    (tmp / "ec2-empty").write_text("Region=us-east-1\n")
    (tmp / "boto").write_text("[Boto]\ndebug = 0\n[Credentials]\naws_access_key_id = %s\n"
                              "aws_secret_access_key = s\n" % KEYS["boto"])
    for k, v in env.items():
        monkeypatch.setenv(k, v.format(**{"tmp": str(tmp), "ec2": str(tmp / "ec2"),
                                          "ec2-empty": str(tmp / "ec2-empty"), "boto": str(tmp / "boto")}))


def botocore_key():
    need_module("botocore")
    import botocore.session
    try:
        creds = botocore.session.Session().get_credentials()
    except Exception as e:  # noqa: BLE001 (compared below)
        return ("error", type(e).__name__)
    return creds.access_key if creds else None


def smneo_key(fake):  # noqa: F811
    c = None
    try:
        c = smneo.Client(region_name="us-east-1", endpoint_url=fake.url, _retry_backoff_scale=0.001)
        fake.requests.clear()
        c.list_compilation_jobs()
    except smneo.NoCredentialsError:
        return None
    except smneo.CredentialRetrievalError as e:
        return ("error", str(e))
    finally:
        if c is not None:
            c.close()
    auth = fake.requests[-1].headers["authorization"]
    return auth.split("Credential=", 1)[1].split("/", 1)[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_sources_as_botocore(monkeypatch, tmp_path, fake, case):  # noqa: F811
    env, files, want = CASES[case]
    prepare(monkeypatch, tmp_path, env, files)
    theirs = botocore_key()
    ours = smneo_key(fake)
    if isinstance(want, tuple):
        assert isinstance(theirs, tuple), theirs  # botocore fails too
        assert isinstance(ours, tuple) and want[1] in ours[1], ours
        assert "AKID" not in ours[1]
    else:
        expected = KEYS[want] if want else None
        assert theirs == expected
        assert ours == expected


def test_credential_process_timeout(monkeypatch, tmp_path, fake):  # noqa: F811
    """A hung credential_process is killed after SMNEO_CREDENTIAL_PROCESS_TIMEOUT
    seconds and is a CredentialRetrievalError naming the profile and the fix
    (botocore has no timeout: SMNEO_CREDENTIAL_PROCESS_TIMEOUT=0 keeps that)."""
    prepare(monkeypatch, tmp_path, {"AWS_PROFILE": "slow"}, ())
    script = tmp_path / "proc.sh"
    script.write_text("#!/bin/sh\necho 'SECRETPARTIAL' \nsleep \"$1\"\n"
                      "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"s\"}'\n")
    script.chmod(0o755)
    (tmp_path / "config").write_text("[profile slow]\ncredential_process = %s 300\n"
                                     "[profile late]\ncredential_process = %s 2\n" % (script, script))
    monkeypatch.setenv("SMNEO_CREDENTIAL_PROCESS_TIMEOUT", "1")
    err = smneo_key(fake)
    assert isinstance(err, tuple), err
    assert "'slow'" in err[1] and "1 seconds" in err[1] and "SMNEO_CREDENTIAL_PROCESS_TIMEOUT" in err[1], err
    assert "SECRETPARTIAL" not in err[1]
    # 0: waits for a process that answers after 2 s.
    script.write_text("#!/bin/sh\nsleep \"$1\"\n"
                      "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"s\"}'\n")
    monkeypatch.setenv("AWS_PROFILE", "late")
    monkeypatch.setenv("SMNEO_CREDENTIAL_PROCESS_TIMEOUT", "0")
    assert smneo_key(fake) == "AKIDPROC"
    monkeypatch.setenv("SMNEO_CREDENTIAL_PROCESS_TIMEOUT", "soon")
    err = smneo_key(fake)
    assert isinstance(err, tuple) and "SMNEO_CREDENTIAL_PROCESS_TIMEOUT" in err[1], err
