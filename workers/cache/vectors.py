"""The semantic layer's vectors in Chroma: two collections per cache scope.

A scope has its own collections, rather than one collection filtered by a ``where`` on the scope,
because Chroma's filtered queries slow down with the size of the whole collection
(measured: 13 ms at 20,000 vectors in 200 scopes, against about 1 ms for a query of a
collection of the scope's own entries). The scope already includes the owner (team or
org), so isolation between teams is a property of which collection is queried.

Each scope keeps two collections: prompts without anchors, and prompts with anchors
(numbers, quoted text: ``broker.cache.guard.anchor_key``) with the anchors in their
metadata. A lookup with the guard on compares a prompt only with entries of the same
anchors, so a prompt without any queries its collection unfiltered, and one with anchors
filters the other on them: the filter "no anchors" on a single collection matched most of
it and made the query twice as slow (3.1 ms against 1.4 ms at 1,000 entries).

Collection names hash the embedder's name with the scope id; their metadata (owner,
template id and version) is what purges select on. Each vector's metadata carries its
expiry for the sweep; the entry in Redis stays the source of truth.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings
from chromadb.errors import NotFoundError

from broker.cache.canonical import CacheKey
from schemas.config import ChromaSettings

PREFIX = "lbc_"


@dataclass(frozen=True)
class Neighbour:
    id: str
    similarity: float
    query: str


def chroma_client(settings: ChromaSettings, home: Path) -> ClientAPI:
    chroma_settings = Settings(anonymized_telemetry=False)
    if settings.mode == "http":
        return chromadb.HttpClient(host=settings.host, port=settings.port, ssl=settings.ssl, settings=chroma_settings)
    path = Path(settings.path) if settings.path else home / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def collection_name(space: str, scope_id: str, anchored: bool = False) -> str:
    """The scope's collection of prompts without anchors, or (``anchored``) of those with."""
    seed = f"{space}\n{scope_id}" + ("\n#" if anchored else "")
    return PREFIX + hashlib.sha256(seed.encode()).hexdigest()[:48]


def selected(metadata: dict[str, Any] | None, selector: dict[str, Any]) -> bool:
    """Whether a collection's metadata matches a purge selector (see ``broker.cache.purge``)."""
    meta = metadata or {}
    if selector.get("owner") is not None and meta.get("owner") != selector["owner"]:
        return False
    if selector.get("template_id") is not None:
        if meta.get("template_id") != selector["template_id"]:
            return False
        version = selector.get("template_version")
        if version is not None and meta.get("template_version") != version:
            return False
    return True


class VectorIndex:
    def __init__(self, client: ClientAPI, space: str) -> None:
        self.client = client
        self.space = space
        self._collections: dict[str, Collection] = {}
        self._lock = threading.Lock()

    def _collection(
        self, scope_id: str, anchored: bool = False, create_for: CacheKey | None = None
    ) -> Collection | None:
        name = collection_name(self.space, scope_id, anchored)
        found = self._collections.get(name)
        if found is not None:
            return found
        if create_for is None:
            try:
                found = self.client.get_collection(name)
            except NotFoundError:
                return None
        else:
            metadata: dict[str, Any] = {
                "owner": create_for.owner,
                "scope": scope_id,
                "space": self.space,
                "anchored": anchored,
            }
            if create_for.template_id is not None:
                metadata["template_id"] = create_for.template_id
                metadata["template_version"] = create_for.template_version or 0
            found = self.client.get_or_create_collection(
                name, configuration={"hnsw": {"space": "cosine"}}, metadata=metadata, embedding_function=None
            )
        self._collections[name] = found
        return found

    def add(self, key: CacheKey, vector: list[float], expires_at: float, anchors: str | None = None) -> None:
        """Keep the query's vector; ``anchors`` (its numbers and quoted text, "" or None for
        none: see ``broker.cache.guard.anchor_key``) lets a lookup ask for the entries that
        share them."""
        assert key.query is not None
        metadata: dict[str, Any] = {"expires_at": expires_at}
        if anchors:
            metadata["anchors"] = anchors
        with self._lock:
            for retry in (True, False):
                collection = self._collection(key.scope_id, bool(anchors), create_for=key)
                assert collection is not None
                try:
                    collection.upsert(
                        ids=[key.entry_id],
                        embeddings=cast(Any, [vector]),
                        documents=[key.query],
                        metadatas=[metadata],
                    )
                    return
                except NotFoundError:  # another worker's sweep or purge dropped it: make it again
                    self._collections.pop(collection.name, None)
                    if not retry:
                        raise

    def nearest(self, scope_id: str, vector: list[float], count: int, anchors: str | None = None) -> list[Neighbour]:
        """The scope's closest entries, most similar first (cosine similarity = 1 - distance):
        with ``anchors``, only among the entries stored with exactly those anchors ("" for the
        entries without any); without, among all of them."""
        with self._lock:
            if anchors is None:
                found = self._query(scope_id, False, vector, count, None) + self._query(
                    scope_id, True, vector, count, None
                )
                return sorted(found, key=lambda n: n.similarity, reverse=True)[:count]
            where = {"anchors": anchors} if anchors else None
            return self._query(scope_id, bool(anchors), vector, count, where)

    def _query(
        self, scope_id: str, anchored: bool, vector: list[float], count: int, where: dict[str, str] | None
    ) -> list[Neighbour]:
        collection = self._collection(scope_id, anchored)
        if collection is None:
            return []
        try:
            found = collection.query(
                query_embeddings=cast(Any, [vector]),
                n_results=count,
                where=cast(Any, where),
                include=["distances", "documents"],
            )
        except NotFoundError:  # dropped by a purge since we cached the handle
            self._collections.pop(collection.name, None)
            return []
        ids, distances, documents = found["ids"][0], (found["distances"] or [[]])[0], (found["documents"] or [[]])[0]
        return [
            Neighbour(entry_id, 1.0 - float(distance), document or "")
            for entry_id, distance, document in zip(ids, distances, documents, strict=True)
        ]

    def delete(self, scope_id: str, ids: list[str]) -> None:
        """Drop these entries' vectors from whichever of the scope's collections holds them."""
        if not ids:
            return
        with self._lock:
            for anchored in (False, True):
                collection = self._collection(scope_id, anchored)
                if collection is not None:
                    collection.delete(ids=ids)

    def _ours(self) -> list[Collection]:
        return [c for c in self.client.list_collections() if c.name.startswith(PREFIX)]

    def purge(self, selector: dict[str, Any]) -> int:
        """Drop the collections a purge selected; returns how many."""
        dropped = 0
        with self._lock:
            for collection in self._ours():
                if selected(collection.metadata, selector):
                    self.client.delete_collection(collection.name)
                    self._collections.pop(collection.name, None)
                    dropped += 1
        return dropped

    def sweep(self, now: float | None = None) -> int:
        """Delete expired vectors, and collections left empty; returns how many collections went."""
        cutoff = time.time() if now is None else now
        dropped = 0
        with self._lock:
            for collection in self._ours():
                collection.delete(where=cast(Any, {"expires_at": {"$lt": cutoff}}))
                if collection.count() == 0:
                    self.client.delete_collection(collection.name)
                    self._collections.pop(collection.name, None)
                    dropped += 1
        return dropped
