"""fixtures.http: URLs in messages never carry credentials."""

from __future__ import annotations

from fixtures.http import _safe


def test_user_info_is_dropped_and_secret_query_values_masked() -> None:
    url = "https://ops:hunter2@api.example.com:8443/v1/events?severity=high&api_key=abc&X-Amz-Signature=zz&flag"
    assert (
        _safe(url)
        == "https://api.example.com:8443/v1/events?severity=high&api_key=****&X-Amz-Signature=****&flag"
    )


def test_plain_urls_are_unchanged() -> None:
    assert _safe("http://127.0.0.1:8010/health") == "http://127.0.0.1:8010/health"
