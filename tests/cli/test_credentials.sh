#!/bin/sh
# shellcheck disable=SC2015  # `check && ok || fail`: ok never fails
# tests/cli/test_credentials.sh SMNEO: credentials from the CLI against a
# local endpoint: `smneo whoami` (account, ARN, user id, the source and its
# profile; never a secret) for environment keys, a profile's keys, an
# assumed role and an MFA role (the code read from stdin without a
# terminal, as getpass reads it); the AWS CLI's assumed-role cache
# (~/.aws/cli/cache/<botocore's key>.json, 0600): written by smneo and read
# by botocore's JSONFileCache, written by botocore and read by smneo, an MFA
# role asking for its code once; web identity (a profile's and the
# environment's) cached the same way, as the AWS CLI caches it, but not as a
# role's source; errors.
# Run from the repository root:
#   sh tests/cli/test_credentials.sh build/smneo
# shellcheck disable=SC2034  # NAME: read by lib.sh
NAME=test_credentials
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true HOME="$WORK/home"
export AWS_CONFIG_FILE="$WORK/config" AWS_SHARED_CREDENTIALS_FILE="$WORK/credentials"
mkdir -p "$HOME"
CACHE="$HOME/.aws/cli/cache"

# run NAME EXPECTED_RC smneo-args... (stdin from $STDIN, /dev/null by default; no
# controlling terminal, so an MFA prompt reads stdin as getpass does)
smneo_cmd() { setsid -w "$SMNEO" --endpoint-url "$URL" "$@" <"${STDIN:-/dev/null}"; }
admin() { curl -s -X "$1" ${3:+--data-binary "$3"} "$URL$2"; }
sts_calls() { # OPERATION: its requests smneo.local answered since the record was cleared
  admin GET "/_smneo/requests?service=sts" | "$PY" -c \
    'import json, sys; print(sum(r["operation"] == sys.argv[1] for r in json.load(sys.stdin)["requests"]))' "$1"
}
assume_roles() { sts_calls AssumeRole; }
# boto_key PROFILE PROVIDER: the access key botocore resolves for PROFILE with
# the AWS CLI's cache (a JSONFileCache of $CACHE) on its PROVIDER
boto_key() {
  AWS_ENDPOINT_URL="$URL" "$PY" -c "import botocore.session, botocore.credentials as bc, sys
s = botocore.session.Session(profile=sys.argv[1])
s.get_component('credential_provider').get_provider(sys.argv[2]).cache = bc.JSONFileCache(sys.argv[3])
print(s.get_credentials().get_frozen_credentials().access_key)" "$1" "$2" "$CACHE"
}
# botocore's cache key for an AssumeRole (json.dumps(args, sort_keys=True), SHA-1)
cache_key() {
  "$PY" -c 'import hashlib, json, sys; print(hashlib.sha1(json.dumps(json.loads(sys.argv[1]), sort_keys=True).encode()).hexdigest())' "$1"
}
start_local
export AWS_ENDPOINT_URL_STS="$URL" # the roles' STS (--endpoint-url is SageMaker's, as in the AWS CLI)

ROLE=arn:aws:iam::123456789012:role
MFA=arn:aws:iam::123456789012:mfa/dev
cat >"$WORK/credentials" <<EOF
[base]
aws_access_key_id = test
aws_secret_access_key = test
EOF
cat >"$WORK/config" <<EOF
[profile r]
role_arn = $ROLE/Cli
source_profile = base
role_session_name = cli-session
duration_seconds = 1800
[profile mfa]
role_arn = $ROLE/Mfa
source_profile = base
mfa_serial = $MFA
role_session_name = mfa-session
EOF
admin POST /_smneo/identity "{\"roles\": {\"$ROLE/Mfa\": {\"mfa_serial\": \"$MFA\", \"mfa_code\": \"424242\"}}}" >/dev/null

# ---- whoami --------------------------------------------------------------------------------------------
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test run env_keys 0 whoami --output json
jcheck env_keys 'd["Account"] == "123456789012" and d["Source"] == "environment" and d["Profile"] is None'
jcheck env_keys 'd["Arn"].startswith("arn:aws:") and d["UserId"]'
run profile_keys 0 whoami --profile base --output json
jcheck profile_keys 'd["Source"] == "shared-credentials-file" and d["Profile"] == "base"'
AWS_DEFAULT_PROFILE=base AWS_PROFILE=nope run default_profile 0 whoami --output json
jcheck default_profile 'd["Profile"] == "base"'
run table 0 whoami --profile base
has table out "Account  123456789012"
has table out "Source   shared-credentials-file (profile base)"

# ---- an assumed role, and the AWS CLI's cache ------------------------------------------------------------
admin DELETE /_smneo/requests >/dev/null
run role 0 whoami --profile r --output json
jcheck role 'd["Arn"] == "arn:aws:sts::123456789012:assumed-role/Cli/cli-session" and d["Source"] == "assume-role"'
jcheck role 'd["Profile"] == "r"'
KEY=$(cache_key "{\"RoleArn\": \"$ROLE/Cli\", \"RoleSessionName\": \"cli-session\", \"DurationSeconds\": 1800}")
[ -f "$CACHE/$KEY.json" ] && ok || { fail "no cache file $KEY.json"; ls -la "$CACHE" 2>&1 | sed 's/^/    /'; }
[ "$(stat -c %a "$CACHE/$KEY.json" 2>/dev/null)" = 600 ] && ok || fail "the cache file is not 0600"
[ "$(find "$CACHE" -name '*.json.*' | wc -l)" -eq 0 ] && ok || fail "a temporary file was left in the cache"
SECRET=$("$PY" -c 'import json, sys; c = json.load(open(sys.argv[1]))["Credentials"]; print(c["SecretAccessKey"])' "$CACHE/$KEY.json")
TOKEN=$("$PY" -c 'import json, sys; c = json.load(open(sys.argv[1]))["Credentials"]; print(c["SessionToken"])' "$CACHE/$KEY.json")
[ -n "$SECRET" ] && [ -n "$TOKEN" ] && ok || fail "the cache file has no secret or token"
hasnt role out "$SECRET"
hasnt role out "$TOKEN"
hasnt role err "$TOKEN"
run role_again 0 whoami --profile r --output json
jcheck role_again 'd["Arn"] == "arn:aws:sts::123456789012:assumed-role/Cli/cli-session"'
[ "$(assume_roles)" = 1 ] && ok || fail "the second whoami assumed the role again ($(assume_roles) AssumeRole calls)"

# botocore's JSONFileCache, as the AWS CLI sets it, reads smneo's file: no STS call
BOTO_KEY=$(boto_key r assume-role)
OUR_KEY=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["Credentials"]["AccessKeyId"])' "$CACHE/$KEY.json")
[ -n "$OUR_KEY" ] && [ "$BOTO_KEY" = "$OUR_KEY" ] && ok || fail "botocore did not read smneo's cache ($BOTO_KEY, $OUR_KEY)"
[ "$(assume_roles)" = 1 ] && ok || fail "botocore assumed the role despite the cache"
# ... and smneo reads what botocore wrote
rm -f "$CACHE/$KEY.json"
BOTO_KEY=$(boto_key r assume-role)
[ "$(assume_roles)" = 2 ] && [ -f "$CACHE/$KEY.json" ] && ok || fail "botocore did not write $KEY.json"
run role_from_boto 0 whoami --profile r --output json
[ "$(assume_roles)" = 2 ] && ok || fail "smneo did not use botocore's cache file"
# an expired entry is not used (botocore's 15 minutes)
"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1])); d["Credentials"]["Expiration"] = "2020-01-01T00:00:00UTC"
json.dump(d, open(sys.argv[1], "w"))' "$CACHE/$KEY.json"
run role_expired 0 whoami --profile r --output json
[ "$(assume_roles)" = 3 ] && ok || fail "an expired cache entry was used"

# ---- MFA: the code from stdin (no terminal), asked once while the cache lasts ----------------------------
echo 424242 >"$WORK/code"
STDIN="$WORK/code" run mfa 0 whoami --profile mfa --output json
jcheck mfa 'd["Arn"] == "arn:aws:sts::123456789012:assumed-role/Mfa/mfa-session"'
has mfa err "Enter MFA code for $MFA: "
hasnt mfa out "424242"
run mfa_cached 0 whoami --profile mfa --output json
hasnt mfa_cached err "Enter MFA code"
rm -rf "$CACHE"
run mfa_no_code 6 whoami --profile mfa
has mfa_no_code err "'mfa'"
echo 000000 >"$WORK/bad"
STDIN="$WORK/bad" run mfa_wrong 6 whoami --profile mfa
has mfa_wrong err "AccessDenied"
[ ! -d "$CACHE" ] || [ "$(find "$CACHE" -name '*.json' | wc -l)" -eq 0 ] && ok || fail "a refused role was cached"

# ---- web identity: cached as the AWS CLI caches it (its assume-role-with-web-identity provider) -----------
printf '%s' "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaS1hIiwiYXVkIjoic3RzLmFtYXpvbmF3cy5jb20ifQ.c2ln" >"$WORK/jwt"
cat >>"$WORK/config" <<EOF
[profile web]
web_identity_token_file = $WORK/jwt
role_arn = $ROLE/Web
role_session_name = web-session
[profile over-web]
role_arn = $ROLE/OverWeb
source_profile = web
role_session_name = over-web
EOF
rm -rf "$CACHE"
admin DELETE /_smneo/requests >/dev/null
run web 0 whoami --profile web --output json
jcheck web 'd["Arn"] == "arn:aws:sts::123456789012:assumed-role/Web/web-session" and d["Source"] == "web-identity"'
WKEY=$(cache_key "{\"RoleArn\": \"$ROLE/Web\", \"RoleSessionName\": \"web-session\"}")
[ -f "$CACHE/$WKEY.json" ] && ok || { fail "no web identity cache file $WKEY.json"; ls -la "$CACHE" 2>&1 | sed 's/^/    /'; }
[ "$(stat -c %a "$CACHE/$WKEY.json" 2>/dev/null)" = 600 ] && ok || fail "the web identity cache file is not 0600"
hasnt web err "eyJhbGciOiJSUzI1NiJ9"
grep -q "eyJhbGciOiJSUzI1NiJ9" "$CACHE/$WKEY.json" && fail "the web identity token is in the cache file" || ok
run web_again 0 whoami --profile web --output json
jcheck web_again 'd["Arn"] == "arn:aws:sts::123456789012:assumed-role/Web/web-session" and d["Source"] == "web-identity"'
[ "$(sts_calls AssumeRoleWithWebIdentity)" = 1 ] && ok ||
  fail "the second whoami called STS again ($(sts_calls AssumeRoleWithWebIdentity) calls)"
# botocore with the AWS CLI's cache on its web identity provider reads smneo's file, and smneo botocore's
BOTO_KEY=$(boto_key web assume-role-with-web-identity)
OUR_KEY=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["Credentials"]["AccessKeyId"])' "$CACHE/$WKEY.json")
[ -n "$OUR_KEY" ] && [ "$BOTO_KEY" = "$OUR_KEY" ] && ok || fail "botocore did not read smneo's web identity cache ($BOTO_KEY, $OUR_KEY)"
rm -f "$CACHE/$WKEY.json"
BOTO_KEY=$(boto_key web assume-role-with-web-identity)
[ "$(sts_calls AssumeRoleWithWebIdentity)" = 2 ] && [ -f "$CACHE/$WKEY.json" ] && ok || fail "botocore did not write $WKEY.json"
run web_from_boto 0 whoami --profile web --output json
[ "$(sts_calls AssumeRoleWithWebIdentity)" = 2 ] && ok || fail "smneo did not use botocore's web identity cache file"
# from the environment, with a generated session name: the key is the role alone
rm -rf "$CACHE"
AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/jwt" AWS_ROLE_ARN="$ROLE/EnvWeb" run web_env 0 whoami --output json
EKEY=$(cache_key "{\"RoleArn\": \"$ROLE/EnvWeb\"}")
[ -f "$CACHE/$EKEY.json" ] && ok || { fail "no cache file $EKEY.json for the environment's web identity"; ls -la "$CACHE" 2>&1 | sed 's/^/    /'; }
AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/jwt" AWS_ROLE_ARN="$ROLE/EnvWeb" run web_env_again 0 whoami --output json
[ "$(sts_calls AssumeRoleWithWebIdentity)" = 3 ] && ok || fail "the environment's web identity was not read from the cache"
# a role's source_profile: botocore resolves it without a cache; the role above it is cached
rm -rf "$CACHE"
run over_web 0 whoami --profile over-web --output json
jcheck over_web 'd["Arn"] == "arn:aws:sts::123456789012:assumed-role/OverWeb/over-web"'
[ "$(find "$CACHE" -name '*.json' | wc -l)" -eq 1 ] && [ ! -f "$CACHE/$WKEY.json" ] && ok ||
  fail "over-web: only its AssumeRole is cached"

# ---- errors ---------------------------------------------------------------------------------------------
run missing 6 whoami --profile nope
has missing err "'nope'"
run usage 2 whoami extra

# A hung credential_process: killed after SMNEO_CREDENTIAL_PROCESS_TIMEOUT
# seconds (with the shell's child), an error naming the profile and the fix;
# 0 waits (botocore).
printf '#!/bin/sh\necho SECRETPARTIAL\nsleep "$1"\n' >"$WORK/hang.sh"
printf '#!/bin/sh\nsleep "$1"\necho '"'"'{"Version": 1, "AccessKeyId": "test", "SecretAccessKey": "test"}'"'"'\n' \
  >"$WORK/late.sh"
chmod +x "$WORK/hang.sh" "$WORK/late.sh"
printf '[profile hung]\ncredential_process = %s/hang.sh 300\n[profile late]\ncredential_process = %s/late.sh 2\n' \
  "$WORK" "$WORK" >>"$WORK/config"
SMNEO_CREDENTIAL_PROCESS_TIMEOUT=1 run hung 6 whoami --profile hung
has hung err "'hung'"
has hung err "SMNEO_CREDENTIAL_PROCESS_TIMEOUT"
hasnt hung err "SECRETPARTIAL"
SMNEO_CREDENTIAL_PROCESS_TIMEOUT=0 run late 0 whoami --profile late --output json
jcheck late 'd["Source"] == "credential_process"'
SMNEO_CREDENTIAL_PROCESS_TIMEOUT=never run badtimeout 6 whoami --profile late
has badtimeout err "SMNEO_CREDENTIAL_PROCESS_TIMEOUT=\"never\""

finish
