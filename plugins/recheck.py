"""The seam remediation plugs into: a failed check may be acted on, then observed and judged again.

When a check's criterion fails, ``pytest_vigil_remediate(item, failure)`` is called; a plugin
that acts returns a short description of what it did ("restarted detector"). The check is
then observed afresh and its body run again, all inside the call phase, using public API
only. The outcome is the re-check's, and the report says ``remediated`` or
``remediation failed``. With no plugin acting, nothing changes.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from fixtures.observe import ObservationError
from fixtures.verdict import CheckFailure
from plugins.collection import bound_check
from plugins.observation import observe_again


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    except CheckFailure as failure:
        bound = bound_check(item)
        if bound is None:
            raise
        action = item.config.hook.pytest_vigil_remediate(item=item, failure=failure)
        if action is None:
            raise
        try:
            item.funcargs["observation"] = observe_again(item.config, bound)  # type: ignore[attr-defined]
            item.runtest()
        except (CheckFailure, ObservationError) as again:
            reason = again.message if isinstance(again, CheckFailure) else again.reason
            item.user_properties.append(
                ("remediation", f"remediation failed: {action}; still {reason}")
            )
            raise
        item.user_properties.append(("remediation", f"remediated: {action}; re-check passed"))
        return None
