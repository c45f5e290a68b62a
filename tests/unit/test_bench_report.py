"""The bench table: each figure beside its target, with a verdict its shown value does not contradict."""

from bench.report import Figure


def test_a_figure_within_its_target_passes_and_one_beyond_it_fails():
    assert Figure("utilisation", 0.961, target=">= 0.95").verdict == "pass"
    assert Figure("calls per item", 2.0002, target="<= 2.0").verdict == "FAIL"
    assert Figure("calls per item", 2.0, target="<= 2.0").verdict == "pass"
    assert Figure("no target", 3.0).verdict == ""


def test_floats_show_three_significant_digits_and_large_ones_none_after_the_point():
    assert Figure("ratio", 1.23456).shown() == "1.23"
    assert Figure("seconds", 4211.4).shown() == "4211"
    assert Figure("missing", None).shown() == "-"
    assert Figure("count", 10002).shown() == "10002"


def test_a_value_that_would_round_onto_its_bound_shows_the_digits_that_decide():
    # 10,002 Leonardo calls for 10,000 items: "2" beside "<= 2.0" and FAIL would contradict itself.
    assert Figure("calls per item", 2.0002, target="<= 2.0").shown() == "2.0002"
    assert Figure("utilisation", 0.94996, target=">= 0.95").shown() == "0.94996"
    assert Figure("seconds", 100.4, target="<= 100").shown() == "100.4"
    # On the bound exactly, or rounding away from it, nothing changes.
    assert Figure("calls per item", 2.0, target="<= 2.0").shown() == "2"
    assert Figure("ratio", 1.46, target="<= 1.5").shown() == "1.46"
