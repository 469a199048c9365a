"""Plain words for every number a pilot shows: one line a manager who is not an ML expert can read.

The pilot page puts the line beside each metric and test (visible help, not only a hover), and the HTML and
PDF reports print the same lines as their glossary section (issue 16, docs/design.md §4), so the words are
written once here. ``pilot_spec.metrics`` keeps the technical meaning of each stored metric (for figures and
the API); a term here is the reader's version, keyed by the same name where it is a metric.

Write each line as an answer to "what does this number tell me, and which way is good?", in one or two
sentences, without a formula.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pilot_spec import metrics


@dataclass(frozen=True)
class Term:
    """A glossary entry: ``key`` (a metric name or a statistics word), the ``term`` as shown, its ``meaning``."""

    key: str
    term: str
    meaning: str


# Statistics and money words that are not stored metrics (the keys templates ask for).
DELTA_ACC = "delta_acc"
INTERVAL = "interval"
P_VALUE = "p_value"
HOLM = "holm"
COHENS_D = "cohens_d"
SEEDS = "seeds"
SEEDS_NEEDED = "seeds_needed"
DEVICE_HOURS = "device_hours"
COST = "cost"
PRICE = "price_per_device_hour"
NET_PER_YEAR = "net_per_year"
BENEFIT_PER_YEAR = "benefit_per_year"
EXTRA_COST_PER_YEAR = "extra_cost_per_year"
ROI = "roi"
PAYBACK = "payback_days"
BREAK_EVEN = "break_even"
PARETO = "pareto"
VERDICT = "verdict"
SEQUENTIAL = "sequential"
DELTA_CHURN = "delta_churn"

# (key, term, meaning) rows: one line of plain words each.
_ROWS: tuple[tuple[str, str, str], ...] = (
    (metrics.TEST_ACC, "Test accuracy",
         "The share of held-out examples the trained model gets right. Higher is better."),
    (DELTA_ACC, "Δ accuracy",
         "How many percentage points more (or fewer) test examples an arm gets right than the baseline arm."),
    (INTERVAL, "Confidence interval",
         "The range the true value lies in, given the seeds run and the size of the test set; it narrows as "
         "more seeds are run. An interval that does not contain 0 means the difference is real, not luck."),
    (P_VALUE, "p value",
         "How likely a difference at least this large would be if the arm truly made no difference. Below "
         "0.05 counts as significant."),
    (HOLM, "Holm-adjusted p",
         "The p value corrected because several arms are tested against the same baseline at once, so that "
         "the chance of any false alarm stays at 5%."),
    (COHENS_D, "Cohen's d",
         "The size of the accuracy difference in units of the seed-to-seed spread: about 0.2 is small, 0.5 "
         "medium, 0.8 large."),
    (SEEDS, "Seeds",
         "Repeats of the same training with different random starts. Their spread shows how much of a result "
         "is luck; more seeds give narrower intervals."),
    (SEEDS_NEEDED, "Seeds needed",
         "About how many seeds per arm it would take for the interval of this difference to exclude 0 (with "
         "80% power), if the difference is what it looks like now."),
    (metrics.FLIP_RATE, "Flip rate",
         "The share of test predictions that change when the model's random dropping is switched on again: "
         "how jittery its answers are. Lower is steadier."),
    (metrics.INCONSISTENCY_KL, "Inconsistency KL",
         "How far the predicted probabilities of randomly thinned copies of the model stray from the full "
         "model (in nats). Lower is steadier."),
    (metrics.CONSISTENCY_KL, "Consistency KL",
         "During training, how much the two passes of a two-pass arm (R-Drop, R-Block) disagree; these arms "
         "are trained to push it down. Lower means the passes agree."),
    (metrics.SEED_CHURN, "Seed churn",
         "The share of test predictions that differ between two models trained the same way with different "
         "seeds: how many users' answers would change on a retrain. Lower is better."),
    (DELTA_CHURN, "Δ churn",
         "How many percentage points fewer predictions change between seeds than for the baseline arm (the "
         "baseline's churn minus the arm's). Positive is better: the arm's answers move less on a retrain."),
    (metrics.ECE, "ECE (calibration error)",
         "The gap between how confident the model says it is and how often it is right; 0 means its "
         "confidence can be taken at face value. Lower is better."),
    (metrics.NLL, "NLL",
         "Negative log-likelihood: how surprised the model is by the true answers, punishing confident "
         "mistakes most. Lower is better."),
    (metrics.TEST_LOSS, "Test loss",
         "The training objective measured on held-out examples; lower is better, and a rising test loss while "
         "training loss falls means the model is over-fitting."),
    (metrics.TRAIN_LOSS, "Training loss",
         "The objective the training minimises, on the training examples. It should fall over the epochs."),
    (DEVICE_HOURS, "Device-hours",
         "Hours of accelerator (GPU, or CPU where there is none) time the training took."),
    (PRICE, "Price per device-hour",
         "What one hour of the training device costs; every cost on this page is device-hours times this price."),
    (COST, "Cost",
         "The compute spent training: device-hours times the price per device-hour."),
    (BENEFIT_PER_YEAR, "Benefit per year",
         "What the accuracy gain is worth in a year: the extra correct predictions times the value of one."),
    (EXTRA_COST_PER_YEAR, "Extra cost per year",
         "How much more the arm costs to train than the baseline, over the retrains of a year."),
    (NET_PER_YEAR, "Net per year",
         "Benefit per year minus extra cost per year, with the range it lies in. Above 0 the arm pays for "
         "itself."),
    (ROI, "ROI (ratio)",
         "Benefit divided by extra cost: a ratio, not an amount of money. Above 1 the arm earns more than it "
         "costs."),
    (PAYBACK, "Payback",
         "How many days of predictions it takes for the benefit to cover the extra training cost."),
    (BREAK_EVEN, "Break-even predictions",
         "How many predictions a year the model must serve for the accuracy gain to pay for the extra cost."),
    (PARETO, "★ Pareto front",
         "Arms for which no other arm is both more accurate and cheaper: the sensible choices."),
    (VERDICT, "Verdict",
         "Adopt when even the low end of the net-per-year range is above 0, reject when even its high end is "
         "below 0, otherwise inconclusive: run more seeds or accept the uncertainty."),
    (SEQUENTIAL, "Stop when settled",
         "The pilot runs seeds in rounds and stops as soon as every verdict is settled; its intervals are "
         "widened so that looking after each round does not raise the chance of a wrong call."),
)  # fmt: skip
_TERMS = tuple(Term(key, term, meaning) for key, term, meaning in _ROWS)

GLOSSARY: Mapping[str, Term] = {term.key: term for term in _TERMS}


def meaning(key: str) -> str:
    """The plain meaning of ``key``; a KeyError names the missing key (a template asking for a typo)."""
    try:
        return GLOSSARY[key].meaning
    except KeyError:
        raise KeyError(f"no glossary term {key!r}; known: {', '.join(sorted(GLOSSARY))}") from None
