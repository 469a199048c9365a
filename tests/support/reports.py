"""A realistic pilot for the report tests (issue 16): four arms, three seeds, per-epoch curves, ROI inputs with a
price left blank (the default applies), notes and tags, a decision, one failed run; made through the real API."""

from __future__ import annotations

import random

from backend.store.entities import RunStatus
from tests.support.api import API, Api, create_pilot, start

# Mean test accuracy of each arm; each seed adds a little spread. The device-hours are a CPU pilot's: fractions
# of a cent at the default price, the amounts that used to print as 7.538e-05.
ARM_ACCURACY = {"none": 0.930, "rblock_s": 0.946, "rblock_b": 0.939, "dropout": 0.931}
ARM_HOURS = {"none": 0.0031, "rblock_s": 0.0042, "rblock_b": 0.0040, "dropout": 0.0032}
EPOCHS = 6
TEST_SIZE = 360
NOTES = "Looks promising for the churn goal.\nCheck on CIFAR-10 before the Q1 review."
TAGS = ["vision", "q1-review", "cpu-pilot"]
FAILURE = "the training loss became NaN in epoch 2"


def reported_pilot(api: Api) -> int:
    """The pilot's id, its runs finished (one seed of dropout failed), annotated and decided."""
    arms = [
        {"regularizer": "none"},
        {"regularizer": "rblock_s", "params": {"drop_prob": 0.15, "alpha": 0.5}},
        {"regularizer": "rblock_b"},
        {"regularizer": "dropout", "params": {"drop_prob": 0.2}},
    ]
    roi = {"predictions_per_year": 25_000_000, "cost_per_error": 0.04, "cost_per_changed_prediction": 0.002,
           "retrains_per_year": 52}  # fmt: skip
    pilot = create_pilot(
        api, name="Digits: does R-Block pay for itself?", arms=arms, seeds=3, roi=roi,
        training={"epochs": EPOCHS, "lr": 0.08, "label_smoothing": 0.1}, dataset_params={"image_size": 16},
        description="Four regularizers on the digits set before a production trial.",
    )  # fmt: skip
    labels = [i % 10 for i in range(TEST_SIZE)]
    rng = random.Random(7)
    for run in pilot["runs"]:
        start(api.store, run["id"])
        arm, seed = run["arm"], run["seed"]
        if arm == "dropout" and seed == 2:
            api.store.finish_run(run_id=run["id"], status=RunStatus.FAILED, error=FAILURE)
            continue
        acc = ARM_ACCURACY[arm] + 0.004 * (seed - 1) + rng.uniform(-0.002, 0.002)
        curve = [("test_acc", e, acc - 0.3 / e) for e in range(1, EPOCHS + 1)]
        curve += [("test_loss", e, 0.2 + 1.5 / e) for e in range(1, EPOCHS + 1)]
        api.store.write_points(run_id=run["id"], points=curve)
        wrong = round(TEST_SIZE * (1 - acc))
        predictions = [(label + 1) % 10 if i < wrong else label for i, label in enumerate(labels)]
        rng.shuffle(predictions)
        cost = {"device_hours": ARM_HOURS[arm] * (1 + 0.05 * seed), "device_kind": "cpu", "device_name": "cpu",
                "samples_per_second": 1800.0 if arm == "none" else 1400.0}  # fmt: skip
        metrics = {"test_acc": acc, "ece": 0.03 - 0.004 * (arm != "none"), "nll": 0.25, "flip_rate": 0.02,
                   "inconsistency_kl": 0.012 if arm == "none" else 0.006}  # fmt: skip
        api.store.finish_run(
            run_id=run["id"], status=RunStatus.SUCCEEDED, cost=cost, final_metrics=metrics,
            predictions=predictions, test_labels=labels,
        )  # fmt: skip
    url = f"{API}/pilots/{pilot['id']}"
    assert api.client.patch(url, json={"notes": NOTES, "tags": TAGS}).status_code == 200
    decision = {"decision": "adopt", "arm": "rblock_s", "note": "worth the extra minutes per retrain"}
    assert api.client.post(f"{url}/decision", json=decision).status_code in (200, 201)
    return int(pilot["id"])
