"""What a page reads from an API answer: the response model, and an error answer's fields in one line."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.schemas import ErrorItem, WorkersOut
from frontend.client import ApiResult

REFUSAL = {"detail": "arms[0].params.p: too big", "errors": [{"field": "arms[0].params.p", "message": "too big"}]}


def test_an_answer_is_read_as_its_response_model() -> None:
    body = {"workers": [], "queue_depths": {"cpu": 2, "gpu": None}, "seen_within_s": 60}
    online = ApiResult(status=200, body=body).parsed(WorkersOut)
    assert online.queue_depths == {"cpu": 2, "gpu": None} and online.seen_within_s == 60.0
    with pytest.raises(ValidationError):
        ApiResult(status=200, body={"workers": "none"}).parsed(WorkersOut)


def test_an_error_answer_names_its_fields() -> None:
    refusal = ApiResult(status=422, body=REFUSAL)
    assert refusal.errors == [ErrorItem(field="arms[0].params.p", message="too big")]
    assert refusal.errors_text() == "arms[0].params.p: too big"
    assert refusal.errors_text(fields=False) == "too big"


def test_without_fields_the_detail_is_the_text() -> None:
    assert ApiResult(status=409, body={"detail": "already finished"}).errors_text() == "already finished"
    assert ApiResult(status=502, body="Bad Gateway", content_type="text/plain").errors_text() == "Bad Gateway"
    assert ApiResult(status=200, body=REFUSAL).errors == []  # a success has no errors, whatever it holds
