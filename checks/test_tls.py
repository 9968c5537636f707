"""Certificate checks (catalogue kind certificate): expiry, trusted chain, names covered.

An expired, untrusted or misnamed certificate fails at the check's severity; one inside the
renewal window fails at the band it crossed (seed 004: renew under 30 days).
"""

from __future__ import annotations

import pytest

from fixtures.tls import CertificateFacts
from fixtures.verdict import fail, judge, note
from plugins.schema.tls import TlsCertificateCheck


@pytest.mark.kind("tls_certificate")
@pytest.mark.severity("high")
@pytest.mark.security
def test_tls_certificate(
    check: TlsCertificateCheck, observation: CertificateFacts, request: pytest.FixtureRequest
) -> None:
    what = f"certificate of {observation.source}"
    until = observation.not_after.strftime("%Y-%m-%d %H:%M UTC")
    if observation.days_left < 0:
        fail(
            f"{what} expired {-observation.days_left:.1f} days ago (not after {until})",
            observed=f"expired {until}",
            expected="not expired",
        )
    if observation.chain_error is not None:
        fail(
            f"{what} is not trusted by {observation.trust}: {observation.chain_error}",
            observed=observation.chain_error,
            expected=f"a chain to {observation.trust}",
        )
    if not observation.hostname_ok:
        names = ", ".join(observation.names) or "no subjectAltName"
        fail(
            f"{what} is not valid for {observation.hostname} (it names {names})",
            observed=names,
            expected=f"covers {observation.hostname}",
        )
    note(
        request,
        f"{observation.subject} from {observation.issuer}, valid until {until} "
        f"({observation.days_left:.1f} days left)",
    )
    judge(f"{what}: days until expiry (until {until})", observation.days_left, check.days_left)
