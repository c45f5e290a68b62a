"""The content policy: blocklisted terms and patterns, grouped in named rule classes, applied to the
text a job sends Leonardo as a prompt before any paid call (docs/plans.md, "Content policy").

Rules are data: their own JSON document (`gencore/config/content-policy.json` when none is
configured; an SSM parameter in a deployment, re-read without a deploy), separate from the plans
(read once per cold start). Each class applies to every plan (`"plans": "*"`) or to the plans it
lists. A match raises 422 `content_policy` naming the class and the field, never what matched.

Matching works on a normalised copy of the text: Unicode NFKC (full-width and other compatibility
forms, ligatures), accents and other combining marks dropped, invisible format characters (zero-
width spaces and joiners) removed, and case folded. A **term** then matches as a whole word (an
optional plural `s`/`es` allowed) even when its letters are repeated, written with common look-alike
digits and signs (`0` for o, `@` or `4` for a, `$` for s...) or split by up to three separators
(`n.u.d.e`, `n u d e`, `n_u-d-e`); a multi-word term matches with its words joined or split.
A **pattern** is a regular expression (case-insensitive) searched in the normalised text as it is:
write it in lower case, without accents.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import ContentPolicyViolation

log = logging.getLogger(__name__)

ClassName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
# The fields whose text goes to Leonardo as a prompt.
CHECKED_FIELDS = ("prompt", "negative_prompt", "enhance_prompt_instruction")
SEPARATORS = r"[\W_]{0,3}"  # between two letters of a term: punctuation, spaces, underscores
LOOK_ALIKES: dict[str, str] = {
    "a": "a@4", "b": "b8", "e": "e3", "g": "g9", "i": "i1!|", "l": "l1|", "o": "o0", "s": "s5$", "t": "t7+",
}  # fmt: skip


def normalise(text: str) -> str:
    """NFKC, combining marks and format characters dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Me", "Cf"))
    return unicodedata.normalize("NFKC", kept).casefold()


def term_pattern(term: str) -> str:
    """A whole-word regular expression for `term` that survives look-alikes, repeated letters and
    separators between its letters."""
    letters = [ch for ch in normalise(term) if ch.isalnum()]
    if not letters:
        raise ValueError(f"a term needs letters or digits: {term!r}")
    parts = [f"[{re.escape(LOOK_ALIKES.get(ch, ch))}]+" for ch in letters]
    return r"(?<![^\W_])" + SEPARATORS.join(parts) + r"(?:e?s)?(?![^\W_])"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RuleClass(_Strict):
    terms: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list)
    patterns: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(default_factory=list)
    plans: Literal["*"] | list[str] = "*"

    @field_validator("terms")
    @classmethod
    def _terms_have_letters(cls, terms: list[str]) -> list[str]:
        for term in terms:
            term_pattern(term)
        return terms

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {error}") from None
        return patterns

    @model_validator(mode="after")
    def _not_empty(self) -> RuleClass:
        if not self.terms and not self.patterns:
            raise ValueError("a rule class needs terms or patterns")
        return self


class ContentRules(_Strict):
    version: Literal[1]
    classes: dict[ClassName, RuleClass]


@dataclass(frozen=True)
class _Compiled:
    name: str
    plans: frozenset[str] | None  # None: every plan
    terms: re.Pattern[str] | None
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, text: str) -> bool:
        # A term's look-alikes include digits, so a bare number can spell one ("1011" is l-o-l-i):
        # a match counts only when it has a letter of its own.
        if self.terms is not None and any(_lettered(m.group()) for m in self.terms.finditer(text)):
            return True
        return any(pattern.search(text) for pattern in self.patterns)


def _lettered(found: str) -> bool:
    return any(ch.isalpha() for ch in found)


class ContentPolicy:
    """A compiled rule set: `check(plan, request)` raises ContentPolicyViolation on a match."""

    def __init__(self, rules: ContentRules) -> None:
        self.rules = rules
        self._classes = tuple(
            _Compiled(
                name=name,
                plans=None if rule.plans == "*" else frozenset(rule.plans),
                terms=re.compile("|".join(term_pattern(t) for t in rule.terms)) if rule.terms else None,
                patterns=tuple(re.compile(p, re.IGNORECASE) for p in rule.patterns),
            )
            for name, rule in rules.classes.items()
        )

    @classmethod
    def from_json(cls, text: str | None, *, known_plans: Iterable[str] | None = None) -> ContentPolicy:
        """The rules from their JSON document (the shipped default when there is none). With
        `known_plans`, a class naming a plan that does not exist is refused: a typo must not
        silently switch a rule off."""
        rules = ContentRules.model_validate_json(text if text and text.strip() else default_rules_json())
        if known_plans is not None:
            known = set(known_plans)
            for name, rule in rules.classes.items():
                unknown = [] if rule.plans == "*" else sorted(set(rule.plans) - known)
                if unknown:
                    raise ValueError(
                        f"rule class {name!r} names plans that do not exist: {', '.join(unknown)}"
                    )
        return cls(rules)

    def check(self, plan: str, request: Mapping[str, Any]) -> None:
        """Refuse the request if a prompt field matches a class that applies to `plan`."""
        applicable = [c for c in self._classes if c.plans is None or plan in c.plans]
        for field in CHECKED_FIELDS:
            text = request.get(field)
            if not isinstance(text, str) or not text:
                continue
            normalised = normalise(text)
            for rule_class in applicable:
                if rule_class.matches(normalised):
                    raise ContentPolicyViolation(rule_class.name, field)


def default_rules_json() -> str:
    return resources.files("gencore").joinpath("config", "content-policy.json").read_text(encoding="utf-8")


class ReloadableContentPolicy:
    """The rules as their document is now: `source()` gives its text (an SSM parameter read through
    a cache of a few minutes in a deployment; None: the shipped default), re-parsed when it changes.

    A new document that does not validate is not applied: the rules in force stay (and the error is
    logged), so a bad edit neither switches the policy off nor stops the service. At cold start there
    is nothing to fall back on: an invalid document is an error."""

    def __init__(self, source: Callable[[], str | None], *, known_plans: Iterable[str] | None = None) -> None:
        self._source = source
        self._known_plans = None if known_plans is None else tuple(known_plans)
        self._text = source()
        self._policy = ContentPolicy.from_json(self._text, known_plans=self._known_plans)

    @property
    def policy(self) -> ContentPolicy:
        text = self._source()
        if text != self._text:
            try:
                self._policy = ContentPolicy.from_json(text, known_plans=self._known_plans)
            except ValueError:  # pydantic's ValidationError is one
                log.error("the new content policy is not valid; the rules in force stay", exc_info=True)
            self._text = text  # asked again only when it changes once more
        return self._policy

    def check(self, plan: str, request: Mapping[str, Any]) -> None:
        self.policy.check(plan, request)
