"""The new-pilot form (issue 16): every training setting the API accepts, grouped and folded, with its default
and help; the folded ones reach the API; errors in words next to their fields and in a summary at the top."""

from __future__ import annotations

import html
import re
from typing import Any

from frontend.setting_inputs import COMMON_TRAINING, MODEL_TRAINING, training_inputs
from pilot_spec.training import NOT_IN_PILOT_TRAINING
from tests.support.api import API
from tests.support.site import open_site

# A valid value other than the default for each setting folded under "More training settings".
FOLDED_VALUES: dict[str, Any] = {
    "data_seed": 7,
    "label_noise": 0.2,
    "augment": True,
    "optimizer": "adamw",
    "momentum": 0.8,
    "nesterov": False,
    "weight_decay": 0.001,
    "lr_schedule": "constant",
    "warmup_epochs": 0.5,
    "label_smoothing": 0.1,
    "eval_every": 1,
    "stability_masks": 4,
    "bf16": False,
    "channels_last": False,
}
FORM = {"name": "form pilot", "dataset": "digits", "seeds": "1", "arm": ["none", "dropout"], "training.epochs": "2"}


def _section(page: str, start: str, end: str) -> str:
    begin = page.index(start)
    return page[begin : page.index(end, begin)]


def _form_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def test_every_training_setting_is_in_the_form_grouped_with_its_default_and_help(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        listed = site.client.get(f"{API}/catalog").json()["training"]
        catalog = {key: entry for key, entry in listed.items() if key not in NOT_IN_PILOT_TRAINING}
        assert catalog and set(listed) - set(catalog) == {"seed", "width"}
        page = site.client.get("/pilots/new").text
        pilot_group = _section(page, "<legend>Pilot</legend>", "</fieldset>")
        training_group = _section(page, "<legend>Training</legend>", "</fieldset>")
        common = training_group[: training_group.index('<details id="more-training"')]
        folded = _section(page, '<details id="more-training" class="more">', "</details>")
        assert "<summary>More training settings</summary>" in folded
        for key, entry in catalog.items():
            group = pilot_group if key in MODEL_TRAINING else common if key in COMMON_TRAINING else folded
            assert f'name="training.{key}"' in group, key
            assert entry["help"] in html.unescape(group), key  # its help, beside it
            default = "blank" if entry["default"] is None else _form_value(entry["default"])
            assert f"Default: {default}" in group, key
        # The common ones are filled with their defaults; a folded one is blank (its default) or selects it.
        assert 'name="training.epochs" type="number" value="15"' in common
        assert 'name="training.lr" type="number" value="0.05"' in common
        assert 'name="training.label_noise" type="number" value=""' in folded
        assert '<option value="" selected>sgd (default)</option><option value="adamw" >adamw</option>' in folded
        # Every setting the API accepts, and nothing it refuses (seed and width are the pilot's own).
        assert set(re.findall(r'name="training\.(\w+)"', page)) == set(catalog)
        assert set(FOLDED_VALUES) == {item.key.removeprefix("training.") for item in training_inputs(listed).more}


def test_each_folded_setting_posted_reaches_the_api(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        posted = {f"training.{key}": _form_value(value) for key, value in FOLDED_VALUES.items()}
        created = site.client.post("/pilots/new", data={**FORM, **posted}, follow_redirects=False)
        assert created.status_code == 303, created.text
        training = site.client.get(f"{API}{created.headers['location']}").json()["training"]
        assert {key: training[key] for key in FOLDED_VALUES} == FOLDED_VALUES
        # Blank fields mean the defaults: the same form without them queues the table's defaults.
        blank = {f"training.{key}": "" for key in FOLDED_VALUES}
        plain = site.client.post("/pilots/new", data={**FORM, **blank}, follow_redirects=False)
        assert plain.status_code == 303, plain.text
        training = site.client.get(f"{API}{plain.headers['location']}").json()["training"]
        defaults = site.client.get(f"{API}/catalog").json()["training"]
        assert {key: training.get(key, defaults[key]["default"]) for key in FOLDED_VALUES} == {
            key: defaults[key]["default"] for key in FOLDED_VALUES
        }


def _summary(page: str) -> str:
    found = re.search(r'<div id="error-summary"[^>]*role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert found, "no error summary"
    return found.group(1)


def _slot(page: str, key: str) -> str:
    found = re.search(rf'<span class="err" id="err-{key}" role="status">(.*?)</span>', page, re.S)
    assert found, f"no error slot for {key}"
    return html.unescape(found.group(1))


def test_an_empty_name_and_no_arms_are_said_in_words_at_the_top_and_beside_the_fields(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        unnamed = site.client.post("/pilots/new", data={**FORM, "name": ""})
        assert unnamed.status_code == 422
        assert '<a href="#f-name">Name: Give the pilot a name</a>' in _summary(unnamed.text)
        assert _slot(unnamed.text, "name") == "Give the pilot a name"
        assert re.search(r'<input id="f-name" name="name"[^>]*aria-invalid=true', unnamed.text)
        assert "String should have" not in unnamed.text
        assert " open>" not in _section(unnamed.text, '<details id="more-training"', "<summary>")

        no_arms = {key: value for key, value in FORM.items() if key != "arm"}
        unticked = site.client.post("/pilots/new", data=no_arms)
        assert unticked.status_code == 422
        summary = _summary(unticked.text)
        assert "Arms: Tick at least one arm: the baseline, and the arms to compare against it" in summary
        first_arm = re.search(r'<input type="checkbox" id="(f-arm-\w+)" name="arm"', unticked.text)
        assert first_arm and f'href="#{first_arm.group(1)}"' in summary  # the link goes to the first box
        assert _slot(unticked.text, "arms").startswith("Tick at least one arm")
        assert "List should have" not in unticked.text

        baseline_left_out = site.client.post("/pilots/new", data={**FORM, "arm": ["dropout"], "baseline_arm": "none"})
        assert baseline_left_out.status_code == 422
        assert "Tick the baseline arm (none) too" in _slot(baseline_left_out.text, "baseline_arm")
        assert site.queue.sent == []


def test_an_out_of_bounds_folded_setting_opens_its_section(sqlite_url: str) -> None:
    with open_site(sqlite_url) as site:
        bad = {**FORM, "name": "", "training.label_noise": "1.5"}
        refused = site.client.post("/pilots/new", data=bad)
        assert refused.status_code == 422
        summary = _summary(refused.text)
        # All problems at once, in the page's order: the form's own and the API's.
        assert summary.index("Give the pilot a name") < summary.index(
            '<a href="#f-training-label_noise">Label noise: must be a fraction in [0, 1) (got 1.5)</a>'
        )
        assert _slot(refused.text, "training-label_noise") == "must be a fraction in [0, 1) (got 1.5)"
        assert '<details id="more-training" class="more" open>' in refused.text
        assert 'name="training.label_noise" type="number" value="1.5"' in refused.text  # kept to correct
        # The live estimate marks it too, with the summary's link, and swaps the message into its slot.
        estimate = site.client.post("/pilots/new/estimate", data=bad).text
        assert '<a href="#f-training-label_noise">Label noise: must be a fraction' in estimate
        assert 'id="err-training-label_noise" role="status" hx-swap-oob="true">must be a fraction' in estimate
        assert "Give the pilot a name" not in estimate  # a blank name does not block the estimate
        assert site.queue.sent == []


def test_a_clone_prefills_every_folded_setting(sqlite_url: str) -> None:
    from tests.support.api import pilot_body

    with open_site(sqlite_url) as site:
        created = site.client.post(f"{API}/pilots", json=pilot_body(training={"epochs": 2, **FOLDED_VALUES}))
        assert created.status_code == 201, created.text
        page = site.client.get(f"/pilots/new?clone={created.json()['pilot']['id']}").text
        folded = _section(page, '<details id="more-training"', "</details>")
        for key, value in FOLDED_VALUES.items():
            text = _form_value(value)
            field = re.search(
                rf'<(?:input|select) id="f-training-{key}" name="training.{key}".*?>(.*?)</span>', folded, re.S
            )
            assert field, key
            shown = re.search(r'value="([^"]*)"\s*selected', field.group(0)) or re.search(
                r'value="([^"]*)"', field.group(0)
            )
            assert shown and shown.group(1) == text, (key, field.group(0)[:300])
