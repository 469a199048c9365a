from __future__ import annotations

from rblock.config import ConfigError, TrainConfig
from tests.backend.api_support import API, Api


def test_new_arm_param_flows_through_api_and_library(api: Api) -> None:
    arms = api.client.get(f"{API}/catalog/arms").json()
    assert arms["rdrop"]["params"]["kl_warmup"] == {
        "type": "number", "default": 0.0, "minimum": 0, "maximum": 1,
        "help": "share of training before the KL weight reaches alpha",
    }
    body = {"name": "p", "dataset": "digits", "arms": [{"regularizer": "rdrop", "params": {"kl_warmup": 2}}], "dry_run": True}
    bad = api.client.post(f"{API}/pilots", json=body)
    assert bad.status_code == 422, bad.text
    assert {"field": "arms[0].params.kl_warmup", "message": "must be a number >= 0 and <= 1 (got 2)"} in bad.json()["errors"]
    body["arms"][0]["params"]["kl_warmup"] = 0.25
    assert api.client.post(f"{API}/pilots", json=body).status_code in (200, 201)
    config = TrainConfig(arm="rdrop", arm_params={"kl_warmup": 0.25})
    assert config.arm_params["kl_warmup"] == 0.25 and TrainConfig(arm="rdrop").arm_params["kl_warmup"] == 0.0
    try:
        TrainConfig(arm="rdrop", arm_params={"kl_warmup": 2})
    except ConfigError as error:
        assert str(error) == "arm: rdrop.kl_warmup must be a number >= 0 and <= 1 (got 2)"
    else:
        raise AssertionError("TrainConfig accepted kl_warmup=2")
