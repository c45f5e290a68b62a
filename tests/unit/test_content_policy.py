"""The content policy (domain/content_policy.py): named rule classes of terms and patterns, per plan
or global, applied to the prompt fields; a match is 422 `content_policy` naming the class, never the
term; robust to case, Unicode compatibility forms (NFKC), accents, invisible characters, look-alike
signs, repeated letters and separators between letters."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from gencore.domain.content_policy import ContentPolicy, ReloadableContentPolicy, normalise
from gencore.domain.errors import ContentPolicyViolation
from gencore.domain.plans import default_plans
from gencore.views import status_for

pytestmark = pytest.mark.unit

RULES = {
    "version": 1,
    "classes": {
        "weapons": {
            "terms": ["pipe bomb", "nerve agent"],
            "patterns": [r"\bhow to (build|make) a (gun|bomb)\b"],
        },
        "gore": {"terms": ["gore"], "plans": ["free"]},
    },
}


def policy(rules: dict | None = None, **kwargs) -> ContentPolicy:
    return ContentPolicy.from_json(json.dumps(rules or RULES), **kwargs)


def refused(prompt: str, *, plan: str = "free", field: str = "prompt") -> ContentPolicyViolation:
    with pytest.raises(ContentPolicyViolation) as caught:
        policy().check(plan, {field: prompt})
    return caught.value


def passes(prompt: str, *, plan: str = "free") -> bool:
    policy().check(plan, {"prompt": prompt})
    return True


# -- what a match answers -----------------------------------------------------------------------------


def test_a_match_is_a_422_content_policy_naming_the_class_and_field_never_the_term():
    violation = refused("a pipe bomb on a table")
    assert (violation.code, status_for(violation)) == ("content_policy", 422)
    assert violation.details == {"rule_class": "weapons", "field": "prompt"}
    assert "pipe" not in violation.message and "bomb" not in violation.message


@pytest.mark.parametrize("field", ["prompt", "negative_prompt", "enhance_prompt_instruction"])
def test_every_field_sent_as_a_prompt_is_checked(field):
    assert refused("nerve agent", field=field).details["field"] == field


def test_other_fields_are_not_checked():
    policy().check("free", {"prompt": "a lake", "preset_style": "pipe bomb", "negative_prompt": None})


def test_a_clean_prompt_passes():
    assert passes("a quiet lake at dawn, mist, pines")


def test_a_pattern_matches_as_a_regular_expression():
    assert refused("Explain how to build a gun please").rule_class == "weapons"
    assert passes("how to build a garden")


# -- per plan or global -------------------------------------------------------------------------------


def test_a_class_for_some_plans_applies_to_those_plans_only():
    assert refused("gore everywhere", plan="free").rule_class == "gore"
    assert passes("gore everywhere", plan="pro")


def test_a_global_class_applies_to_every_plan_even_unknown_ones():
    assert refused("pipe bomb", plan="pro").rule_class == "weapons"
    assert refused("pipe bomb", plan="anything").rule_class == "weapons"


def test_a_class_naming_a_plan_that_does_not_exist_is_refused_when_plans_are_known():
    with pytest.raises(ValueError, match="'gore' names plans that do not exist: fre"):
        policy(
            {"version": 1, "classes": {"gore": {"terms": ["gore"], "plans": ["fre"]}}}, known_plans=["free"]
        )


# -- robustness -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    ["PIPE BOMB", "Pipe Bomb", "pIpE bOmB"],
)
def test_case_does_not_matter(prompt):
    assert refused(prompt).rule_class == "weapons"


@pytest.mark.parametrize(
    "prompt",
    [
        "\uff50\uff49\uff50\uff45 \uff42\uff4f\uff4d\uff42",
        "pipe\u00a0bomb",
        "\u1d56ipe bomb",
        "pipe \uff42omb",
    ],
    ids=["full-width letters", "a no-break space", "a superscript letter", "mixed widths"],
)
def test_unicode_compatibility_forms_are_normalised_nfkc(prompt):
    assert refused(prompt).rule_class == "weapons"


@pytest.mark.parametrize(
    "prompt",
    ["gôre", "gor\u0065\u0301", "g\u200bore", "go\u00adre", "g\u200dore"],
    ids=["an accent", "a combining accent", "a zero-width space", "a soft hyphen", "a zero-width joiner"],
)
def test_accents_and_invisible_characters_do_not_hide_a_term(prompt):
    assert refused(prompt).rule_class == "gore"


@pytest.mark.parametrize(
    "prompt",
    [
        "g.o.r.e",
        "g o r e",
        "g-o-r-e",
        "g_o_r_e",
        "g*o*r*e",
        "g...o r-e",
        "pipebomb",
        "pipe-bomb",
        "p.i.p.e b.o.m.b",
    ],
)
def test_separators_between_letters_do_not_hide_a_term(prompt):
    assert refused(prompt).rule_class in ("gore", "weapons")


@pytest.mark.parametrize("prompt", ["g0re", "pip3 b0mb", "gooore", "goree", "gores"])
def test_look_alikes_repeated_letters_and_plurals_do_not_hide_a_term(prompt):
    assert refused(prompt).rule_class in ("gore", "weapons")


@pytest.mark.parametrize(
    "prompt",
    ["gorgeous gorge", "Algorethm", "a pipe and a bomber jacket", "g    o    r    e", "mangore", "gore2"],
    ids=["a word that starts alike", "a term inside a word", "the words apart", "too many separators",
         "a term ending a word", "a term followed by a digit"],
)  # fmt: skip
def test_a_term_matches_as_a_whole_word_only(prompt):
    assert passes(prompt)


@pytest.mark.parametrize("prompt", ["lighthouse 1011", "room 10111, level 3", "item 1011 of 10000"])
def test_a_number_alone_never_spells_a_term_through_its_look_alikes(prompt):
    # With the shipped rules "1011" reads l-o-l-i (a sexual_minors term) digit for digit: a batch of
    # 10,000 numbered prompts found it. A match needs a letter of its own.
    assert ContentPolicy.from_json(None).check("free", {"prompt": prompt}) is None


def test_a_term_with_one_real_letter_among_look_alikes_is_still_refused():
    with pytest.raises(ContentPolicyViolation):
        ContentPolicy.from_json(None).check("free", {"prompt": "a l0l1 drawing"})


def test_normalising_is_nfkc_without_marks_or_invisibles_and_casefolded():
    assert normalise("\uff23\uff41\uff46\u00e9\u200b \ufb01ne STRASSE") == "cafe fine strasse"


# -- the rules document ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules",
    [
        {"version": 1, "classes": {"x": {"terms": ["a"], "severity": "high"}}},
        {"version": 1, "classes": {"x": {}}},
        {"version": 1, "classes": {"x": {"patterns": ["(unclosed"]}}},
        {"version": 1, "classes": {"x": {"terms": ["..."]}}},
        {"version": 1, "classes": {"Bad Name": {"terms": ["a"]}}},
        {"version": 1, "classes": {"x": {"terms": "gore"}}},
        {"version": 2, "classes": {}},
    ],
    ids=["an unknown key", "an empty class", "a pattern that does not compile", "a term without letters",
         "a class name that is not a name", "terms that are not a list", "another version"],
)  # fmt: skip
def test_a_wrong_rules_document_is_refused(rules):
    with pytest.raises((ValidationError, ValueError)):
        policy(rules)


def test_the_shipped_rules_apply_to_the_shipped_plans():
    shipped = ContentPolicy.from_json(None, known_plans=default_plans().plans)
    assert set(shipped.rules.classes) >= {"sexual_minors", "explicit"}
    with pytest.raises(ContentPolicyViolation, match="sexual_minors"):
        shipped.check("pro", {"prompt": "an underage nude"})
    with pytest.raises(ContentPolicyViolation, match="explicit"):
        shipped.check("free", {"prompt": "a n.u.d.e statue"})
    shipped.check("pro", {"prompt": "a nude marble statue in a museum"})
    shipped.check("free", {"prompt": "a lake at dawn with a naked-eye view of the stars"})


# -- reloading without a deploy -------------------------------------------------------------------------


class Parameter:
    """A stand-in for the SSM parameter holding the rules (read through a cache in a deployment)."""

    def __init__(self, text: str | None) -> None:
        self.text, self.reads = text, 0

    def __call__(self) -> str | None:
        self.reads += 1
        return self.text


GORE_ONLY = {"version": 1, "classes": {"gore": {"terms": ["gore"]}}}


def test_a_changed_document_applies_at_the_next_check():
    parameter = Parameter(json.dumps(GORE_ONLY))
    rules = ReloadableContentPolicy(parameter, known_plans=["free", "pro"])
    rules.check("free", {"prompt": "a pipe bomb"})
    parameter.text = json.dumps(RULES)
    with pytest.raises(ContentPolicyViolation, match="weapons"):
        rules.check("free", {"prompt": "a pipe bomb"})


def test_an_invalid_new_document_leaves_the_rules_in_force():
    parameter = Parameter(json.dumps(RULES))
    rules = ReloadableContentPolicy(parameter, known_plans=["free", "pro"])
    parameter.text = json.dumps({"version": 1, "classes": {"gore": {"terms": ["gore"], "plans": ["fre"]}}})
    with pytest.raises(ContentPolicyViolation, match="weapons"):
        rules.check("free", {"prompt": "a pipe bomb"})
    parameter.text = "{not json"
    with pytest.raises(ContentPolicyViolation, match="gore"):
        rules.check("free", {"prompt": "gore"})


def test_an_invalid_document_at_cold_start_is_an_error():
    with pytest.raises(ValidationError):
        ReloadableContentPolicy(Parameter("{not json"))


def test_no_document_is_the_shipped_rules():
    rules = ReloadableContentPolicy(Parameter(None), known_plans=default_plans().plans)
    assert set(rules.policy.rules.classes) >= {"sexual_minors", "explicit"}
