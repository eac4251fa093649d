"""The complexity classifier behind ``tier: auto``: simple, standard or complex from the prompt.

``heuristic`` (explainable features and a points table, no dependencies: what the API runs)
and ``embedding`` (nearest neighbours on sentence embeddings over the labelled set in
``tests/data/``: measured against it in ``scripts/bench_routing.py``).
"""
