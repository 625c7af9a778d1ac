"""Schemathesis hooks for fuzzing tokenledger with a staff user's bearer token.

Loaded through SCHEMATHESIS_HOOKS by .ci/clients.sh. The fuzzer logs in as a staff user at
run time (TL_FUZZ_USERNAME / TL_FUZZ_PASSWORD against TL_BASE_URL). Fuzzed requests can revoke
that user's own tokens (POST /api/logout/all/, /api/admin/users/{id}/revoke/, /oauth/revoke):
schemathesis then sees a 401 and, as its `retry_on` default asks, logs in again. The one thing
that would end the run's authentication for good is deactivating the fuzzing user itself, so
that id is never generated for the deactivate operation.
"""

import os

import requests
import schemathesis

BASE_URL = os.environ["TL_BASE_URL"].rstrip("/")
USERNAME = os.environ["TL_FUZZ_USERNAME"]
PASSWORD = os.environ["TL_FUZZ_PASSWORD"]
USER_ID = int(os.environ["TL_FUZZ_USER_ID"])


@schemathesis.auth(refresh_interval=240)
class StaffBearer:
    """A fresh access token of the staff user: POST /api/token/."""

    def get(self, case, ctx):
        response = requests.post(
            f"{BASE_URL}/api/token/",
            json={"username": USERNAME, "password": PASSWORD},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook("filter_path_parameters").apply_to(path_regex=r"/deactivate/$")
def keep_the_fuzzing_user_active(ctx, path_parameters):
    return path_parameters is None or path_parameters.get("id") != USER_ID
