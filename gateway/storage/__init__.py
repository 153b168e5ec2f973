"""Where keys, budgets and usage are kept: the `store` section and the plumbing every store shares.

    settings.py       the `store` configuration section (StoreConfig), read by identity, quotas and
                      metering alike
    sqlite.py         the embedded stores' private SQLite files, each run on a thread of its own
    redis_target.py   `store` section -> the Redis to reach: URL, topology, secrets
    redis_client.py   the one way the Redis stores connect (standalone, Sentinel, Cluster)
    redis_packing.py  Redis commands packed by hiredis on redis-py's asyncio connections

Only the configuration is imported here: `gateway config check` and processes on the embedded store
never load redis-py. The stores import the plumbing modules by their own names.
"""

from gateway.storage.settings import RedisMode, StoreConfig, split_address

__all__ = ["RedisMode", "StoreConfig", "split_address"]
