"""Schemathesis hooks for server/tests/openapi.rs, loaded through
SCHEMATHESIS_HOOKS=schemathesis_hooks with this directory on PYTHONPATH.

- Sync bodies are gridsync envelopes (`application/x-gridsync`, binary):
  the bytes schemathesis generates for them are sent as they are, as for
  `application/octet-stream`, so the server's refusals of unsigned and
  undecodable bodies are exercised and checked against the document.
- The run acts as one administrator (GRIDSYNC_RUN_ADMIN) with one session.
  Schemathesis reuses the names it reads in answers, so it would deactivate
  or move that administrator and test every later call with a dead
  session; those calls go to another user instead.
"""

import os

import schemathesis

schemathesis.serializer.alias("application/x-gridsync", "application/octet-stream")

_RUN_ADMIN = os.environ.get("GRIDSYNC_RUN_ADMIN")
_ACTS_ON_A_USER = ("/v1/admin/users/{name}/deactivate", "/v1/admin/users/{name}/assign")


@schemathesis.hook
def before_call(context, case, kwargs):
    """Keeps the run's own administrator active and in place."""
    params = case.path_parameters
    if case.operation.path in _ACTS_ON_A_USER and params and params.get("name") == _RUN_ADMIN:
        params["name"] = _RUN_ADMIN + "-not"
