"""A ticketing system (ServiceNow, say) driving alm as an API client, with Authlib's OAuth 2.0
client: it obtains a token by client credentials, submits a request for a person, approves it
as the step's approver, follows it to the end, and tries one call its role does not allow.
Prints one JSON object with what it saw; the client secret is read from a file, never printed.

    python ticketing_client.py BASE_URL CLIENT_ID SECRET_FILE AUTH_METHOD REQUEST_JSON

AUTH_METHOD: client_secret_basic or client_secret_post. REQUEST_JSON: the body of
POST /api/v1/requests (with requester_id).
"""

import json
import sys
import time

from authlib.integrations.requests_client import OAuth2Session


def main():
    base, client_id, secret_file, method, request_json = sys.argv[1:6]
    with open(secret_file, encoding="utf-8") as f:
        secret = f.read().strip()
    session = OAuth2Session(client_id, secret, token_endpoint_auth_method=method)
    token = session.fetch_token(base + "/oauth/token", grant_type="client_credentials")
    seen = {"token_type": token["token_type"], "expires_in": token["expires_in"]}

    created = session.post(base + "/api/v1/requests", json=json.loads(request_json))
    seen["create_status"] = created.status_code
    if created.status_code != 201:
        seen["create_body"] = created.text
        print(json.dumps(seen))
        return
    rid = created.json()["id"]
    seen["request_id"] = rid
    seen["requester_id"] = created.json()["requester_id"]
    submitted = session.post(f"{base}/api/v1/requests/{rid}/submit")
    seen["submit_status"] = submitted.status_code
    waiting = session.get(base + "/api/v1/approvals")
    seen["approvals_status"] = waiting.status_code
    seen["waiting"] = [r["id"] for r in waiting.json().get("items", [])]
    approved = session.post(
        f"{base}/api/v1/approvals/{rid}/approve", json={"reason": "ticket CHG0042 approved"}
    )
    seen["approve_status"] = approved.status_code
    states = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = session.get(f"{base}/api/v1/requests/{rid}")
        state = got.json().get("state")
        if not states or states[-1] != state:
            states.append(state)
        if state in ("provisioned", "failed", "rejected"):
            break
        time.sleep(0.2)
    seen["states"] = states
    seen["forbidden_status"] = session.get(base + "/api/v1/users").status_code
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
