"""The catalog of what a pilot can choose: datasets, models, arms and training settings, as JSON.

The service's API validates pilots and estimates their cost without importing torch (DESIGN §1), so it
reads this catalog from a JSON file shipped with it (``backend/catalog.json``). This module is the one
source of that file: ``python -m rblock.catalog > backend/catalog.json`` writes it, and a test fails
when the shipped file and the library disagree.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rblock.config import training_fields
from rblock.data import describe_datasets
from rblock.models import describe_models
from rblock.pairing import COMPLEMENTARY_RATE, DISJOINT_LIMIT_BLOCKS, DISJOINT_LIMIT_UNITS
from rblock.regularizer import describe_arms

# Training- and test-set size and image side of each dataset, for cost estimates before anything runs (the
# test set is evaluated every epoch). A size held in a parameter (shapes' n_train) is named by it; a limit
# parameter caps it; None where only the files know (a user's folder).
_CAPS = {"limit_param": "max_train", "test_limit_param": "max_test"}
_SIZES: dict[str, dict[str, Any]] = {
    "digits": {"train_size": 1437, "test_size": 360, "image_size": 8},
    "shapes": {"train_size_param": "n_train", "test_size_param": "n_test", "image_size": 32},
    "cifar10": {"train_size": 50_000, "test_size": 10_000, "image_size": 32, **_CAPS},
    "cifar100": {"train_size": 50_000, "test_size": 10_000, "image_size": 32, **_CAPS},
    "mnist": {"train_size": 60_000, "test_size": 10_000, "image_size": 28, **_CAPS},
    "fashion_mnist": {"train_size": 60_000, "test_size": 10_000, "image_size": 28, **_CAPS},
    "svhn": {"train_size": 73_257, "test_size": 26_032, "image_size": 32, **_CAPS},
    "imagefolder": {"train_size": None, "test_size": None, "image_size_param": "image_size"},
}


def build_catalog() -> dict[str, Any]:
    """Everything a client needs to offer and validate a pilot's choices (JSON-serialisable)."""
    datasets = describe_datasets()
    return {
        "datasets": {name: {**spec, **_SIZES.get(name, {})} for name, spec in datasets.items()},
        "models": describe_models(),
        "arms": describe_arms(),
        "training": training_fields(),
        "pairing_limits": {
            "disjoint_units": DISJOINT_LIMIT_UNITS,
            "disjoint_blocks": DISJOINT_LIMIT_BLOCKS,
            "complementary_rate": COMPLEMENTARY_RATE,
        },
    }


def main() -> None:
    json.dump(build_catalog(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
