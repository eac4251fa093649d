"""The cache worker's service in-process on real Redis, a real embedded Chroma and the real
all-MiniLM-L6-v2: the semantic layer's bookkeeping that the HTTP tests cannot see."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from chromadb.errors import NotFoundError

from broker import keys
from broker.cache.canonical import cache_key
from broker.jobstore.records import NewJob
from broker.settings import load_config, sample_config_path
from schemas.chat import JobRequest
from schemas.config import BrokerConfig
from schemas.result import AssistantMessage, ChatCompletion, Choice, CompletionUsage
from scripts.embedded_redis import EmbeddedRedis, free_port
from workers.cache.embedder import MiniLMEmbedder, onnx_model_path, shared_embedder
from workers.cache.service import CacheService
from workers.cache.vectors import VectorIndex, chroma_client, collection_name

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    started = EmbeddedRedis(free_port(), tmp_path_factory.mktemp("redis")).start()
    yield started
    started.stop()


def make_service(server: EmbeddedRedis, home: Path, **cache: object) -> CacheService:
    data = load_config(sample_config_path()).model_dump()
    data["teams"] = {"alpha": {}, "beta": {}}
    data["cache"] = {**data["cache"], "chroma": {"path": str(home / "chroma")}, **cache}
    data["redis"] = {"url": server.url}
    config = BrokerConfig.model_validate(data)
    client = redis.Redis.from_url(server.url)
    client.flushdb()
    embedder = shared_embedder("minilm")
    return CacheService(config, client, embedder, VectorIndex(chroma_client(config.cache.chroma, home), embedder.name))


def request(text: str, **fields: object) -> JobRequest:
    messages = [{"role": "user", "content": text}]
    body: dict[str, object] = {"model": "gpt-4o-mini", "temperature": 0, "messages": messages}
    body.update(fields)
    return JobRequest.model_validate(body)


def answered(service: CacheService, job_id: str, text: str, team: str = "alpha", **fields: object) -> None:
    """A job as the provider worker leaves it: succeeded, with a result; then stored."""
    job = NewJob(job_id, team, "u", "k", request(text, **fields), ["gpt-4o-mini"], [12], time.time())
    result = ChatCompletion(
        id="c",
        created=0,
        model="gpt-4o-mini",
        choices=[Choice(message=AssistantMessage(content=f"answer to {text}"), finish_reason="stop")],
        usage=CompletionUsage(prompt_tokens=12, completion_tokens=30, total_tokens=42),
    )
    service.redis.hset(
        keys.job(job_id),
        mapping={**job.fields(), "state": "succeeded", "model": "gpt-4o-mini", "result": result.model_dump_json()},
    )
    assert service.store_job(job_id)


def find(service: CacheService, text: str, team: str = "alpha", threshold: float | None = None) -> str | None:
    key = cache_key(request(text), team, service.config)
    lookup = service.find(key, None, threshold or service.config.cache.threshold)
    return lookup.found.entry.answer if lookup.found else None


def vectors_in_scope(service: CacheService, text: str, team: str = "alpha") -> int:
    """Vectors in both of the scope's collections (prompts with and without numbers)."""
    key = cache_key(request(text), team, service.config)
    count = 0
    for anchored in (False, True):
        with contextlib.suppress(NotFoundError):
            name = collection_name(service.index.space, key.scope_id, anchored)
            count += service.index.client.get_collection(name).count()
    return count


def test_a_rewording_is_found_and_a_near_miss_is_not(server: EmbeddedRedis, tmp_path: Path) -> None:
    service = make_service(server, tmp_path)
    answered(service, "job_1", "Is the pharmacy open on Sundays?")
    assert find(service, "is the pharmacy open on sundays") == "answer to Is the pharmacy open on Sundays?"
    assert find(service, "Is the pharmacy closed on Sundays?") is None
    assert find(service, "is the pharmacy open on sundays", team="beta") is None


def test_the_request_threshold_overrides_the_configured_one(server: EmbeddedRedis, tmp_path: Path) -> None:
    service = make_service(server, tmp_path)
    answered(service, "job_1", "How do I reset my password?")
    assert find(service, "Hi, how can I reset my password? Thanks", threshold=0.85) is not None
    assert find(service, "Hi, how can I reset my password? Thanks", threshold=0.99) is None


def test_the_same_words_mistyped_need_only_the_lower_threshold(server: EmbeddedRedis, tmp_path: Path) -> None:
    service = make_service(server, tmp_path, threshold=0.81, same_words_threshold=0.5)
    answered(service, "job_1", "Where can I download my annual tax statement?")
    mistyped = "where can i downlaod my anual tax statment"  # cosine 0.65: the typos move the vector
    reworded = "Which page has the yearly tax summary document for me to save?"  # 0.75, passes the guard
    plan = service.config.cache
    key = cache_key(request(mistyped), "alpha", service.config)
    found = service.find(key, None, plan.threshold, plan.same_words_threshold).found
    assert found is not None and 0.5 < found.similarity < 0.81
    assert find(service, mistyped) is None  # without the same-words threshold: the rewording bar
    key = cache_key(request(reworded), "alpha", service.config)
    assert service.find(key, None, plan.threshold, plan.same_words_threshold).found is None


def test_an_order_number_is_found_among_many_in_other_words(server: EmbeddedRedis, tmp_path: Path) -> None:
    service = make_service(server, tmp_path, candidates=4)
    for n in range(4000, 4040):
        if n != 4017:
            answered(service, f"job_{n}", f"Hi, could you please tell me where my order {n} is? Thanks so much!")
    answered(service, "job_4017", "Where is order 4017?")
    asked = "Hello! Could you please tell me where my order 4017 is? Thank you so much!"
    key = cache_key(request(asked), "alpha", service.config)
    vector = service.embedder.embed([asked])[0]
    nearest = [n.query for n in service.index.nearest(key.scope_id, vector, 4)]
    assert "Where is order 4017?" not in nearest  # by similarity alone the crowd of other orders wins
    assert find(service, asked) == "answer to Where is order 4017?"
    assert find(service, asked.replace("4017", "4041")) is None


def test_a_prompt_without_numbers_is_found_among_many_with_numbers(server: EmbeddedRedis, tmp_path: Path) -> None:
    service = make_service(server, tmp_path, candidates=4)
    for n in range(2, 42):
        asked_before = f"Hi, could you please tell me where my order is? It was placed {n} days ago. Thanks so much!"
        answered(service, f"job_{n}", asked_before)
    answered(service, "job_plain", "Where is my order?")
    asked = "Hi, could you please tell me where my order is? Thanks so much!"  # cosine 0.86 with the plain one
    key = cache_key(request(asked), "alpha", service.config)
    vector = service.embedder.embed([asked])[0]
    nearest = [n.query for n in service.index.nearest(key.scope_id, vector, 4)]
    assert "Where is my order?" not in nearest  # the scope's nearest all have numbers (cosine 0.9)
    assert find(service, asked) == "answer to Where is my order?"
    assert find(service, asked.replace("?", " 5?", 1)) is None  # a number none of them has


def test_eviction_drops_the_vector_with_the_entry(server: EmbeddedRedis, tmp_path: Path) -> None:
    service = make_service(server, tmp_path, max_entries_per_scope=1)
    answered(service, "job_1", "How do I export report 7 as CSV?")  # kept with the numbered prompts
    answered(service, "job_2", "How do I rotate my API key?")
    assert vectors_in_scope(service, "How do I rotate my API key?") == 1
    assert find(service, "how do i export report 7 as csv") is None
    assert find(service, "how do i rotate my api key") is not None


def test_a_vector_whose_entry_is_gone_is_never_served_and_is_dropped(server: EmbeddedRedis, tmp_path: Path) -> None:
    service = make_service(server, tmp_path)
    answered(service, "job_1", "Where can I download my invoices?")
    answered(service, "job_2", "Where can I download my receipts?")
    key = cache_key(request("Where can I download my invoices?"), "alpha", service.config)
    service.redis.delete(keys.cache_entry(key.entry_id))  # as a TTL or a purge in another process would
    assert find(service, "where can i download my invoices") is None
    assert vectors_in_scope(service, "Where can I download my invoices?") == 1


def test_purge_and_sweep_drop_collections(server: EmbeddedRedis, tmp_path: Path) -> None:
    service = make_service(server, tmp_path)
    answered(service, "job_a", "How do I add a payment method?", team="alpha")
    answered(service, "job_b", "How do I add a payment method?", team="beta")
    answered(service, "job_t", "How do I add a payment method?", team="alpha", seed=3)
    assert service.purge({"owner": "beta", "template_id": None, "template_version": None}) == 1
    assert vectors_in_scope(service, "How do I add a payment method?", team="beta") == 0
    assert vectors_in_scope(service, "How do I add a payment method?", team="alpha") == 1
    assert service.index.sweep(now=time.time()) == 0  # nothing has expired
    assert service.index.sweep(now=time.time() + service.config.cache.ttl_s + 1) == 2
    assert vectors_in_scope(service, "How do I add a payment method?", team="alpha") == 0


@pytest.mark.parametrize("spec", ["minilm", "minilm-torch"])
def test_both_engines_match_sentence_transformers(spec: str) -> None:
    """The ONNX graph (the default) and the direct torch pass give sentence-transformers'
    vectors, so the calibrated thresholds hold whichever engine runs."""
    embedder = shared_embedder(spec)
    assert embedder.engine == ("onnx" if spec == "minilm" else "torch")  # type: ignore[attr-defined]
    texts = ["How do I reset my password?", "Hi, is the Leeds store open on Boxing Day? Thanks", "x"]
    ours = embedder.embed(texts) + [embedder.embed([text])[0] for text in texts]  # batched and alone
    theirs = embedder.model.encode(texts, normalize_embeddings=True)  # type: ignore[attr-defined]
    for mine, reference in zip(ours, list(theirs) * 2, strict=True):
        assert len(mine) == 384
        assert sum(a * b for a, b in zip(mine, reference, strict=True)) > 0.99999


def test_the_onnx_graph_is_exported_once_into_the_cache_folder() -> None:
    embedder = shared_embedder("minilm")
    path = onnx_model_path(embedder._model_dir, embedder._torch.__version__)  # type: ignore[attr-defined]
    assert path.parent == Path(os.environ["XDG_CACHE_HOME"]) / "llm-broker"  # this session's folder
    made = path.stat().st_mtime_ns
    again = MiniLMEmbedder()
    assert again.engine == "onnx" and path.stat().st_mtime_ns == made  # reused, not exported again
    assert not list(path.parent.glob("*.partial"))
