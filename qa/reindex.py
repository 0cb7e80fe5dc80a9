"""`qa reindex`'s staging index: built beside the index in use under STAGING_SUFFIX, marked complete, then swapped
in. A swap that a killed process left half done is finished by the next open of the index (ArticleStore), so the
articles are never lost; an unfinished build is left behind until `qa check --repair` or the next reindex drops
it. Works on a connection's collections by name: the store opens through it without importing maintenance."""

from __future__ import annotations

from typing import Any

from qa.connection import Connection, collection_names, journal_name

# The staging index's collection prefix is the index's with this suffix.
STAGING_SUFFIX = "--reindex"


def staging_prefix(prefix: str) -> str:
    """Where `qa reindex` builds the index that replaces the one at `prefix`."""
    return prefix + STAGING_SUFFIX


def staging_collections(connection: Connection, prefix: str) -> list[str]:
    """Collections an interrupted `qa reindex` of the index at `prefix` left behind."""
    with connection.reading() as client:
        existing = {collection.name for collection in client.list_collections()}
    staging = staging_prefix(prefix)
    return [name for name in (*collection_names(staging), journal_name(staging)) if name in existing]


def drop_staging(connection: Connection, prefix: str) -> None:
    """Delete what an interrupted `qa reindex` left behind; the index in use is not touched."""
    with connection.writing() as client:
        for name in staging_collections(connection, prefix):
            client.delete_collection(name)


def swap_in(connection: Connection, prefix: str) -> None:
    """Make the completely built staging index the one at `prefix`: mark it complete, then swap it in.

    Killed half-way, the next open finishes the swap (finish_swap), so the articles are never lost.
    """
    with connection.writing() as client:
        articles = client.get_collection(collection_names(staging_prefix(prefix))[1])
        articles.modify(metadata={**(articles.metadata or {}), "complete": True})
        finish_swap(connection, prefix)


def swap_pending(existing: dict[str, Any], prefix: str) -> bool:
    """Whether a staging index for `prefix` was marked complete and is not swapped in yet (`existing`: the
    client's collections by name)."""
    articles = collection_names(staging_prefix(prefix))[1]
    return articles in existing and bool((existing[articles].metadata or {}).get("complete"))


def finish_swap(connection: Connection, prefix: str) -> None:
    """Swap in a staging index marked complete: delete each old collection, rename the new one into place. The
    caller holds the write lock."""
    client = connection.client
    existing = {collection.name: collection for collection in client.list_collections()}
    if not swap_pending(existing, prefix):
        return
    for staging_name, name in zip(collection_names(staging_prefix(prefix)), collection_names(prefix), strict=True):
        if staging_name in existing:
            if name in existing:
                client.delete_collection(name)
            client.get_collection(staging_name).modify(name=name)
    # The journals name revisions of the collections swapped out, or of the staging ones: neither leads anywhere now.
    for journal in (journal_name(staging_prefix(prefix)), journal_name(prefix)):
        if journal in existing:
            client.delete_collection(journal)
    connection.epoch += 1  # every store of this process fetches the swapped-in collections again
