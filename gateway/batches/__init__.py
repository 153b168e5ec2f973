"""Batch jobs: OpenAI's Files and Batches APIs, run by the gateway itself, line by line, through its
own pipeline at the lowest priority (vLLM has no `/v1/files` nor `/v1/batches`).

    settings.py     the `batches` configuration section
    records.py      a file's and a batch's records, and their OpenAI objects
    validation.py   a batch input file checked at upload, every error naming its line
    disk.py         the files' bytes in `batches.directory`
    store.py        the `BatchStore` protocol: records, and each batch's work queue
    embedded.py     that store in a SQLite file (one process)
    redis_store.py  that store in Redis: a stream and a consumer group per batch
    factory.py      `store` section -> the open store
    lines.py        the output and error files' lines, in OpenAI's format
    runner.py       the background loop that takes lines and runs them through the pipeline
    service.py      what the routes, the console and the command line do
    routes.py       `/v1/files` and `/v1/batches`
    errors.py       the 404s, 400 and 503 their clients see
"""

from gateway.batches.settings import BatchesConfig

__all__ = ["BatchesConfig"]
