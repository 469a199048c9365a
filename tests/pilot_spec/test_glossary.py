"""The glossary covers every number the verdict and stability tables show, once each."""

import pytest

from pilot_spec import glossary, metrics


def test_every_reported_metric_has_a_plain_meaning() -> None:
    shown = (metrics.TEST_ACC, metrics.SEED_CHURN, metrics.CONSISTENCY_KL, *metrics.STABILITY_KEYS)
    for name in shown:
        assert glossary.meaning(name).endswith("."), name


def test_terms_are_unique_and_read_as_sentences() -> None:
    terms = [term.term for term in glossary.GLOSSARY.values()]
    assert len(terms) == len(set(terms))
    for term in glossary.GLOSSARY.values():
        assert term.meaning[0].isupper() and term.meaning.endswith("."), term.key
        assert "e-0" not in term.meaning


def test_an_unknown_key_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"no glossary term 'acc'.*test_acc"):
        glossary.meaning("acc")
