"""Stored Responses: which backend holds a response, so that its later requests reach it.

vLLM keeps a Responses API answer (`store`) in the memory of the one server that generated it;
`GET /v1/responses/{id}`, its `cancel` and a later `previous_response_id` work on that server only.
The gateway records, for each response it relays, its id -> `ResponseHome` (backend, model,
department, service) for `responses.sticky_ttl_seconds`, and routes those requests there.

    settings.py     the `responses` configuration section
    homes.py        `ResponseHome` and the `ResponseHomes` protocol both stores implement
    embedded.py     a SQLite file next to the keys' database (single node)
    redis_store.py  Redis keys with a TTL, shared by every replica
    factory.py      `store` section -> the open store
    errors.py       the 404 and 503 clients see
    routes.py       `GET /v1/responses/{id}` and `POST /v1/responses/{id}/cancel`
"""

from gateway.stored_responses.homes import ResponseHome, ResponseHomes
from gateway.stored_responses.settings import ResponsesConfig

__all__ = ["ResponseHome", "ResponseHomes", "ResponsesConfig"]
