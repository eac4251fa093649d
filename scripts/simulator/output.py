"""Deterministic completion text whose token count is known without tokenizing it.

Every word of ``VOCABULARY`` is exactly one token in both o200k_base and
cl100k_base, lower-case or capitalised, with or without a leading space; "." is
one token too. The tokenizers' pre-split puts each `` word`` and each "." in
its own chunk, so a text of N pieces is exactly N tokens: ``completion_tokens``
is simply ``len(pieces)``, and the streamed deltas are the pieces themselves.
A unit test re-checks this property against the real tokenizers.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

_WORDS = """
    the of and to in is was for on are with as at be by this have from or had not but what all were when
    we there can an your which their if do will each about how up out them then she many some so these
    would other into has more her two like see time could no make than first been its who now people my
    made over did down only way find use may water long little very after words called just where most
    know get through back much before go good new write our used me man too any day same right look
    think also around another come work three word must because does part even place well such here take
    why things help put years different away again off old number great tell men say small every found
    still between name should home big give air line set own under read last never us left end along
    while next sound below something thought both few those always show large often house world going
    want school important until form food keep children land side without boy once life sometimes four
    head above kind almost live page got earth need far hand high year mother light parts country father
    let night following picture being study second soon times story since white days ever paper hard
    near sentence better best during today others however sure means try young sun thing whole example
    change answer room sea against top learn point city play five using usually money seen car given
    rather fire open table river clear music voice bird window bridge forest quick brown lazy dog cat
    fox runs quiet bright green blue red yellow warm cold early late happy simple strong slow fast stone
    cloud rain snow wind summer winter spring road field market letter friend teacher doctor system
    model data signal report plan result value order process service method energy
"""
VOCABULARY: tuple[str, ...] = tuple(_WORDS.split())
SENTENCE_END = "."
SENTENCE_WORDS = (5, 14)
"""Inclusive range of words per sentence (the "." is one more piece)."""

_TOKENS_SALT = 0x5EED_70C5
_LENGTHS_SALT = 0x5E7E_11CE
_SPACED: tuple[str, ...] = tuple(" " + word for word in VOCABULARY)
_CAPITALISED: dict[str, str] = {spaced: " " + spaced[1:].capitalize() for spaced in _SPACED}


def request_seed(*parts: Any) -> int:
    """A stable 64-bit seed from JSON-able request parts (model, messages, max_tokens ...).

    Uses a keyed hash of canonical JSON, not ``hash()``, so the seed is the
    same in every process and on every run.
    """
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return int.from_bytes(hashlib.blake2b(canonical.encode(), digest_size=8).digest(), "big")


def choose_output_tokens(spec: int | tuple[int, int], seed: int) -> int:
    """The uncapped output length: the fixed count, or a seed-determined pick from ``[min, max]``."""
    if isinstance(spec, int):
        return spec
    low, high = spec
    return low if low >= high else random.Random(seed ^ _TOKENS_SALT).randint(low, high)


def generate_pieces(seed: int, count: int) -> list[str]:
    """``count`` one-token pieces forming plausible sentences; concatenated they are the text.

    The first piece has no leading space; later words do; each sentence starts
    capitalised and ends with a "." piece. Words and sentence lengths come from
    two RNG streams drawn in bulk (this runs on every request), so for one seed
    a shorter output is a prefix of a longer one.
    """
    if count <= 0:
        return []
    words = random.Random(seed).choices(_SPACED, k=count)
    lengths = random.Random(seed ^ _LENGTHS_SALT)
    low, high = SENTENCE_WORDS
    pieces: list[str] = []
    used = 0
    while len(pieces) < count:
        length = lengths.randint(low, high)
        sentence = words[used : used + length]
        used += length
        pieces.append(_CAPITALISED[sentence[0]])
        pieces.extend(sentence[1:])
        pieces.append(SENTENCE_END)
    pieces[0] = pieces[0][1:]
    del pieces[count:]
    return pieces
