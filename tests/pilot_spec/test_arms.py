"""An arm's parameter is one entry in pilot_spec.arms.ARMS: the library, the run config, the API, the
catalog, the JSON Schema and the new-pilot form all follow it (issue 14, shown with dropblock's ramp_fraction)."""

from __future__ import annotations

from html import escape
from typing import Any

import pytest

from pilot_spec.arms import ARMS
from rblock.config import ConfigError, TrainConfig
from rblock.drop_layer import DropLayer
from rblock.regularizer import create_regularizer
from tests.support.api import API, pilot_body
from tests.support.site import open_site

RAMP_MESSAGE = "must be a number > 0 and <= 1"


def test_a_linear_ramp_reaches_drop_prob_at_ramp_fraction_then_holds() -> None:
    ramped = create_regularizer("dropblock", drop_prob=0.2, ramp_fraction=0.5)
    layer = ramped.drop_layer()
    assert isinstance(layer, DropLayer)
    for progress, rate in ((0.0, 0.0), (0.25, 0.1), (0.5, 0.2), (0.9, 0.2)):
        ramped.set_progress(progress)
        assert layer.current_drop_prob == pytest.approx(rate), progress
    whole = create_regularizer("dropblock", drop_prob=0.2)  # the default: the ramp spans all of training
    assert whole.params["ramp_fraction"] == 1.0
    whole.set_progress(0.5)
    assert whole.current_drop_prob == pytest.approx(0.1)
    constant = create_regularizer("dropblock", drop_prob=0.2, ramp_fraction=0.5, schedule="constant")
    constant.set_progress(0.1)
    assert constant.current_drop_prob == pytest.approx(0.2)


def test_the_library_and_the_run_config_check_it() -> None:
    with pytest.raises(ValueError, match=rf"dropblock.ramp_fraction {RAMP_MESSAGE} \(got 0\)"):
        create_regularizer("dropblock", ramp_fraction=0)
    with pytest.raises(ValueError, match="unknown parameter"):
        create_regularizer("dropout", ramp_fraction=0.5)
    with pytest.raises(ConfigError, match=rf"ramp_fraction {RAMP_MESSAGE} \(got 1.5\)"):
        TrainConfig(arm="dropblock", arm_params={"ramp_fraction": 1.5})
    assert TrainConfig(arm="dropblock", arm_params={"ramp_fraction": 0.3}).arm_params["ramp_fraction"] == 0.3


def test_the_catalog_and_the_json_schema_list_it() -> None:
    field = ARMS["dropblock"].params["ramp_fraction"]
    schema = field.json_schema()
    assert schema["type"] == "number" and schema["exclusiveMinimum"] == 0 and schema["maximum"] == 1
    assert schema["default"] == 1.0


def test_the_api_accepts_and_refuses_it_and_the_form_shows_it(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        listed = site.client.get(f"{API}/catalog/arms").json()["dropblock"]["params"]["ramp_fraction"]
        assert listed["type"] == "number" and listed["default"] == 1.0
        assert listed["exclusive_minimum"] == 0 and listed["maximum"] == 1
        arms: list[dict[str, Any]] = [
            {"regularizer": "none"},
            {"regularizer": "dropblock", "params": {"ramp_fraction": 0.3}},
        ]
        created = site.client.post(f"{API}/pilots", json=pilot_body(arms=arms))
        assert created.status_code == 201, created.text
        pilot = created.json()["pilot"]
        (dropblock,) = [arm for arm in pilot["arms"] if arm["regularizer"] == "dropblock"]
        assert dropblock["params"]["ramp_fraction"] == 0.3
        configs = [run.config for run in site.store.list_runs(pilot_id=pilot["id"]) if run.config["arm"] == "dropblock"]
        assert configs and all(config["arm_params"]["ramp_fraction"] == 0.3 for config in configs)
        TrainConfig.from_dict(configs[0])  # what the worker will rebuild

        arms = [{"regularizer": "none"}, {"regularizer": "dropblock", "params": {"ramp_fraction": 1.5}}]
        refused = site.client.post(f"{API}/pilots", json=pilot_body(arms=arms))
        assert refused.status_code == 422
        errors = {error["field"]: error["message"] for error in refused.json()["errors"]}
        assert errors == {"arms[1].params.ramp_fraction": f"{RAMP_MESSAGE} (got 1.5)"}

        form = site.client.get("/pilots/new").text
        assert 'name="arm.dropblock.ramp_fraction"' in form and 'name="arm.dropout.ramp_fraction"' not in form
        marked = site.client.post(
            "/pilots/new/estimate",
            data={"name": "x", "dataset": "digits", "seeds": "2", "arm": ["none", "dropblock"],
                  "arm.dropblock.ramp_fraction": "0"},
        ).text  # fmt: skip
        shown = 'id="err-arm-dropblock-ramp_fraction" role="status" hx-swap-oob="true">'
        assert f"{shown}{escape(RAMP_MESSAGE)} (got 0)" in marked
