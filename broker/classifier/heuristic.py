"""The explainable complexity classifier: a points table over features anyone can read.

Each feature adds (or removes) points; the total picks the tier (below ``STANDARD_AT``
simple, from ``COMPLEX_AT`` complex, standard between). ``classify`` returns the points
per feature with the tier, so a surprising routing decision can be read off the job.
No dependencies beyond the standard library: this runs in the API process at submit.

Features, and why:
* length: longer prompts carry more constraints to satisfy (but a pasted document with
  one short question is not hard: length counts for little on its own);
* asks for reasoning: prove, derive, design, trade-offs, root cause, step by step...;
* breadth: several things asked for at once (commas, "and", questions, "cover", "include");
* code: a fenced block or code-looking lines, and asking for a whole program or tests;
* output asked: "one word", "yes or no", "in one sentence" pull down; "essay", "in depth",
  "complete", "detailed" push up;
* lookup shape: "what is", "who", "how many" pull down, unless the ask is more than a fact;
* transform shape: "translate", "convert", "extract", "classify" the text given pull down.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.chat import ChatMessage, Tier

STANDARD_AT = 2.0
COMPLEX_AT = 5.5

_HARD = re.compile(  # asks that need multi-step reasoning whatever the length
    r"\b(design|architect\w*|trade-?offs?|root cause|step by step|reason(ing)? through"
    r"|concurren\w+|distributed|consensus|race conditions?|deadlocks?|invariant|threat model|exactly-once|idempoten\w+"
    r"|generali[sz]e|formally|induction|correctness|zero downtime|failure modes?|decision framework|lagrange"
    r"|complexity analysis|analyse the complexity|find (all|and explain) (the )?bugs?|solve|sensitivity analysis)\b",
    re.IGNORECASE,
)
_PROOF = re.compile(r"\b(prove|proof|derive|derivation)\b", re.IGNORECASE)  # a proof is never a lookup
_REASONING = re.compile(  # asks that suggest weighing several things
    r"\b(analy[sz]e|analysis|evaluate|critically|diagnos\w+|debug\w*|optimi[sz]\w+|complexity|scal(e|ing|ability)"
    r"|strategy|migrat\w+|recommend\w*|justify\w*|hypothes[ie]s|compare|comparison|capacity|rollback|estimat\w+"
    r"|model|investigate|argue|why does|correlate)\b",
    re.IGNORECASE,
)
_BREADTH = re.compile(
    r"\b(cover(ing)?|include|including|discuss|address|explain (how|why|each|every)|as well as|then|and how"
    r"|with tests|tests? suite|each|every|both)\b",
    re.IGNORECASE,
)
_BUILD = re.compile(
    r"\b(implement|write a (complete|full)|complete (python|flask|module|application|guide)|full system"
    r"|module|service|application|operator|pipeline|platform|system|compiler|allocator|crawler)\b",
    re.IGNORECASE,
)
_LONG_OUTPUT = re.compile(
    r"\b(essay|in depth|in-depth|comprehensive|detailed|thorough(ly)?|complete|1,?000|roadmap|timeline"
    r"|postmortem|literature review|proposal|plan)\b",
    re.IGNORECASE,
)
_SHORT_OUTPUT = re.compile(
    r"\b(one word|single word|yes or no|true or false|number only|only the|one sentence|one line|one-line"
    r"|in a word|two-word|answer (yes|no|true|false|spam)|respond with|reply with)\b",
    re.IGNORECASE,
)
_LOOKUP = re.compile(  # a question with a short, known answer
    r"^\s*(what('s| is| are| does| year| colour| time)|who|which|when|where|how many|is|define|name|list"
    r"|give (me )?(a|three|the|one)|suggest a name)\b",
    re.IGNORECASE,
)
_TRANSFORM = re.compile(  # a mechanical change to text the prompt already holds
    r"^\s*(translate|convert|extract|classify|spell|round|rewrite this sentence|correct|fix the|make this|turn"
    r"|sort|count|remove|pick|label|tag|format|rate|detect|capitali[sz]e|shorten)\b",
    re.IGNORECASE,
)
_MEDIUM = re.compile(
    r"\b(explain|summari[sz]e|outline|describe|draft|email|paragraph|example|function|query|script|letter"
    r"|pros and cons|differences?|benefits|ideas|plan|recipe|review|tests?|class|compare|write|checklist|table"
    r"|strategies|consider|instructions|story|speech|write (a|an) (short |polite |persuasive )?\w+ (to|for|about|that)"
    r"|job ad|faq|readme)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_CODE_LINE = re.compile(r"(^|\n)\s*(def |func |class |for |if |while |return |import |\w+\s*:?=\s)|[{};]\s*\n|```")


@dataclass(frozen=True)
class Classification:
    tier: Tier
    points: float
    reasons: dict[str, float] = field(default_factory=dict)  # feature -> points it added


def prompt_text(messages: Sequence[ChatMessage]) -> str:
    """What the classifier reads: the user and system turns (answers already given are not asked)."""
    return "\n".join(m.text() for m in messages if m.role in ("user", "system", "developer"))


def features(text: str) -> dict[str, float]:
    """Points per feature; zero-point features are left out."""
    words = len(text.split())
    hard = len({m.group(0).lower() for m in _HARD.finditer(text)})
    reasoning = len({m.group(0).lower() for m in _REASONING.finditer(text)})
    breadth = len(_BREADTH.findall(text)) + text.count(",") / 4 + max(0, text.count("?") - 1)
    medium = bool(_MEDIUM.search(text))
    proof = bool(_PROOF.search(text))
    points = {
        "length": min(words / 40, 2.0),
        "proof": 6.0 if proof else 0.0,
        "hard": min(3.0 * hard, 6.0),
        "reasoning": min(1.5 * reasoning, 4.5),
        "breadth": min(breadth * 0.5, 3.0),
        "numbers": 1.5 if len(_NUMBER.findall(text)) >= 4 else 0.0,
        "code": 1.5 if _CODE_LINE.search(text) else 0.0,
        "build": 2.0 if _BUILD.search(text) else 0.0,
        "long_output": 2.0 if _LONG_OUTPUT.search(text) else 0.0,
        "medium_ask": 2.0 if medium else 0.0,
        "short_output": -3.0 if _SHORT_OUTPUT.search(text) else 0.0,
        "lookup": -2.0 if _LOOKUP.search(text) and not (medium or proof or hard) else 0.0,
        "transform": -2.0 if _TRANSFORM.search(text) and not (proof or hard or reasoning) else 0.0,
    }
    return {name: round(value, 3) for name, value in points.items() if value}


def tier_for(points: float) -> Tier:
    if points >= COMPLEX_AT:
        return "complex"
    if points >= STANDARD_AT:
        return "standard"
    return "simple"


def classify(text: str) -> Classification:
    reasons = features(text)
    points = round(sum(reasons.values()), 3)
    return Classification(tier_for(points), points, reasons)


def classify_messages(messages: Sequence[ChatMessage]) -> Classification:
    return classify(prompt_text(messages))
