#!/usr/bin/env bash
# Drives an already running tests/peers/oidc/provider.mjs through a full
# authorization-code + PKCE flow with curl and a cookie jar, like a browser
# would, then checks two refusals (wrong client secret, unregistered
# redirect_uri). Starts nothing itself.
#
# usage: selftest.sh PORT
# The client settings must match the provider's; they are read from the same
# environment variables, with the defaults that tests/peers/oidc.sh uses.
set -euo pipefail

PORT=${1:?usage: selftest.sh PORT}
ISSUER=${OIDC_ISSUER:-http://127.0.0.1:$PORT}
CLIENT_ID=${OIDC_CLIENT_ID:-alm-test}
CLIENT_SECRET=${OIDC_CLIENT_SECRET:-alm-test-secret}
REDIRECT_URI=${OIDC_REDIRECT_URIS:-http://127.0.0.1:8080/auth/callback}
REDIRECT_URI=${REDIRECT_URI%%,*}
LOGIN=${OIDC_SELFTEST_LOGIN:-alice@example.test}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jar=$work/cookies

fail() { echo "FAIL: $*" >&2; exit 1; }
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
urlenc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
# req METHOD URL [curl args...]: one request, no redirect following; sets
# STATUS, LOCATION (absolute) and BODY (file).
req() {
  local method=$1 url=$2; shift 2
  local out
  out=$(curl -sS -o "$work/body" -b "$jar" -c "$jar" -X "$method" \
    -w '%{http_code} %{redirect_url}' "$url" "$@")
  STATUS=${out%% *}; LOCATION=${out#* }; BODY=$work/body
  echo "$method ${url#"$ISSUER"} -> $STATUS ${LOCATION#"$ISSUER"}"
}
# The dev pages' form action is an absolute URL (issuer + /interaction/<uid>).
# Payload of the id_token in the token response $BODY, as JSON.
id_token_payload() {
  python3 -c 'import base64, json, sys
p = json.load(open(sys.argv[1]))["id_token"].split(".")[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))))' "$BODY"
}
form_action() {
  local a
  a=$(grep -o '<form[^>]*action="[^"]*"' "$BODY" | head -1 | sed 's/.*action="\([^"]*\)".*/\1/')
  [[ $a == http* ]] || a=$ISSUER$a
  echo "$a"
}

verifier=$(head -c 32 /dev/urandom | b64url)
challenge=$(printf %s "$verifier" | openssl dgst -sha256 -binary | b64url)
state=st-$RANDOM$RANDOM
nonce=nc-$RANDOM$RANDOM
auth_query="client_id=$(urlenc "$CLIENT_ID")&response_type=code&scope=openid%20email&state=$state&nonce=$nonce&code_challenge=$challenge&code_challenge_method=S256"

echo "== authorization request"
req GET "$ISSUER/auth?$auth_query&redirect_uri=$(urlenc "$REDIRECT_URI")"
[[ $STATUS == 303 && $LOCATION == "$ISSUER/interaction/"* ]] || fail "authorize: expected 303 to /interaction/<uid>"

echo "== login page"
req GET "$LOCATION"
[[ $STATUS == 200 ]] && grep -q 'name="login"' "$BODY" && grep -q 'name="password"' "$BODY" || fail "no login form"
action=$(form_action)
echo "form action: $action"
req POST "$action" --data-urlencode prompt=login --data-urlencode "login=$LOGIN" --data-urlencode password=anything
[[ $STATUS == 303 && $LOCATION == "$ISSUER/auth/"* ]] || fail "login: expected 303 to /auth/<uid>"
req GET "$LOCATION"
[[ $STATUS == 303 && $LOCATION == "$ISSUER/interaction/"* ]] || fail "after login: expected 303 to consent"

echo "== consent page"
req GET "$LOCATION"
[[ $STATUS == 200 ]] && grep -q 'value="consent"' "$BODY" || fail "no consent form"
action=$(form_action)
echo "form action: $action"
req POST "$action" --data-urlencode prompt=consent
[[ $STATUS == 303 && $LOCATION == "$ISSUER/auth/"* ]] || fail "consent: expected 303 to /auth/<uid>"
req GET "$LOCATION"
[[ $STATUS == 303 && $LOCATION == "$REDIRECT_URI?"* ]] || fail "expected 303 to the redirect_uri"
echo "final redirect: $LOCATION"
query=${LOCATION#*\?}
code=$(sed -n 's/.*\(^\|&\)code=\([^&]*\).*/\2/p' <<<"$query")
got_state=$(sed -n 's/.*\(^\|&\)state=\([^&]*\).*/\2/p' <<<"$query")
[[ -n $code && $got_state == "$state" ]] || fail "code or state missing from redirect"

echo "== token exchange with a wrong client secret"
req POST "$ISSUER/token" -u "$(urlenc "$CLIENT_ID"):wrong-secret" --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$code" --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$verifier"
cat "$BODY"; echo
[[ $STATUS == 401 ]] && grep -q '"invalid_client"' "$BODY" || fail "wrong secret was not refused with 401 invalid_client"

echo "== token exchange (client_secret_basic + code_verifier)"
req POST "$ISSUER/token" -u "$(urlenc "$CLIENT_ID"):$(urlenc "$CLIENT_SECRET")" --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$code" --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$verifier"
[[ $STATUS == 200 ]] || { cat "$BODY"; fail "token exchange failed"; }
claims=$(id_token_payload)
echo "id_token payload: $claims"
python3 -c 'import json,sys; c=json.loads(sys.argv[1]); assert c["email"]==sys.argv[2] and c["sub"]==sys.argv[2] and c["nonce"]==sys.argv[3], c' \
  "$claims" "$LOGIN" "$nonce" || fail "id_token claims are wrong"

echo "== second authorization (session cookie reused, new scope profile -> consent only)"
verifier2=$(head -c 32 /dev/urandom | b64url)
challenge2=$(printf %s "$verifier2" | openssl dgst -sha256 -binary | b64url)
req GET "$ISSUER/auth?client_id=$(urlenc "$CLIENT_ID")&response_type=code&scope=openid%20email%20profile&state=$state&code_challenge=$challenge2&code_challenge_method=S256&redirect_uri=$(urlenc "$REDIRECT_URI")"
for _ in 1 2 3 4 5; do
  [[ $LOCATION == "$ISSUER/"* ]] || break
  req GET "$LOCATION"
  if [[ $STATUS == 200 ]]; then
    grep -q 'name="login"' "$BODY" && fail "login asked again despite the session cookie"
    req POST "$(form_action)" --data-urlencode prompt=consent
  fi
done
[[ $STATUS == 303 && $LOCATION == "$REDIRECT_URI?"* ]] || fail "second flow did not reach the redirect_uri"
code2=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$LOCATION")

echo "== token exchange (client_secret_post)"
req POST "$ISSUER/token" --data-urlencode grant_type=authorization_code --data-urlencode "client_id=$CLIENT_ID" \
  --data-urlencode "client_secret=$CLIENT_SECRET" --data-urlencode "code=$code2" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$verifier2"
[[ $STATUS == 200 ]] || { cat "$BODY"; fail "client_secret_post exchange failed"; }
claims=$(id_token_payload)
echo "id_token payload: $claims"
python3 -c 'import json,sys; c=json.loads(sys.argv[1]); assert c["email"]==c["name"]==sys.argv[2], c' \
  "$claims" "$LOGIN" || fail "id_token claims are wrong (profile scope)"

echo "== reusing the first code is refused"
req POST "$ISSUER/token" -u "$(urlenc "$CLIENT_ID"):$(urlenc "$CLIENT_SECRET")" --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$code" --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$verifier"
cat "$BODY"; echo
[[ $STATUS == 400 ]] && grep -q '"invalid_grant"' "$BODY" || fail "code reuse was not refused"

echo "== authorization request without PKCE is refused (error sent to the redirect_uri)"
req GET "$ISSUER/auth?client_id=$(urlenc "$CLIENT_ID")&response_type=code&scope=openid&state=$state&redirect_uri=$(urlenc "$REDIRECT_URI")"
[[ $STATUS == 303 && $LOCATION == "$REDIRECT_URI?"*error=invalid_request* ]] || fail "authorize without PKCE was not refused"

echo "== authorization request with an unregistered redirect_uri"
req GET "$ISSUER/auth?$auth_query&redirect_uri=$(urlenc "http://127.0.0.1:1/evil")"
[[ $STATUS == 400 && -z $LOCATION ]] && grep -q 'redirect_uri' "$BODY" || fail "unregistered redirect_uri was not refused"
cat "$BODY"; echo

echo "oidc selftest: OK"
