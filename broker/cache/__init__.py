"""The answer cache, the parts both planes share: what is cacheable, how requests are keyed,
the near-miss guard, calibration maths, and the Redis side of the entries (store, evict,
purge). The embedder and Chroma live in ``workers.cache``; the API never loads them.
"""
