"""Backup checks (catalogue kinds backup_freshness, backup_integrity): age, count, restore.

Listing and archive reading only read files; ``backup_restore`` writes only to a scratch
database it creates and drops (see fixtures.backups).
"""

from __future__ import annotations

import pytest

from fixtures.backups import BackupListing, IntegrityReport, RestoreResult, age_text
from fixtures.verdict import fail
from plugins.schema.backups import (
    BackupFreshnessCheck,
    BackupIntegrityCheck,
    BackupRestoreCheck,
    BackupRetentionCheck,
)
from plugins.schema.base import duration_seconds

_SHOWN_PROBLEMS = 3


def _where(listing: BackupListing) -> str:
    return f"backups {listing.location} ({listing.path})"


@pytest.mark.kind("backup_freshness")
@pytest.mark.severity("high")
@pytest.mark.backup
def test_backup_freshness(check: BackupFreshnessCheck, observation: BackupListing) -> None:
    where = _where(observation)
    newest = observation.newest
    if newest is None:
        undated = (
            f" ({len(observation.undated)} undated names ignored)" if observation.undated else ""
        )
        fail(
            f"{where}: no dated backup found{undated}",
            observed="no backup",
            expected=f"a backup younger than {check.max_age}",
        )
    age = observation.age_seconds(newest)
    for band, limit in (("crit", check.max_age), ("warn", check.warn_age)):
        if limit is not None and age > duration_seconds(limit):
            fail(
                f"{where}: newest backup {newest.stamp} is {age_text(age)} old > {band} {limit}",
                observed=age_text(age),
                expected=f"<= {limit}",
                band=band,  # type: ignore[arg-type]
            )
    if newest.missing:
        fail(
            f"{where}: newest backup {newest.stamp} is incomplete: missing"
            f" {', '.join(newest.missing)}",
            observed=f"missing {', '.join(newest.missing)}",
            expected="every file of the set",
        )
    small = [p for p in newest.files if p.stat().st_size < check.min_size]
    if not newest.files or small:
        name = small[0].name if small else "(no files)"
        size = small[0].stat().st_size if small else 0
        fail(
            f"{where}: newest backup {newest.stamp}: {name} is {size} bytes (< {check.min_size})",
            observed=f"{size} bytes",
            expected=f">= {check.min_size} bytes",
        )


@pytest.mark.kind("backup_retention")
@pytest.mark.severity("medium")
@pytest.mark.backup
def test_backup_retention(check: BackupRetentionCheck, observation: BackupListing) -> None:
    where = _where(observation)
    count = len(observation.backups)
    span = f" ({observation.backups[0].stamp} .. {observation.backups[-1].stamp})" if count else ""
    low = check.keep if check.keep is not None else check.min_count
    high = check.keep if check.keep is not None else check.max_count
    policy = f"exactly {check.keep}" if check.keep is not None else f"{low or 0}..{high or 'any'}"
    if low is not None and count < low:
        fail(
            f"{where}: {count} backups kept{span}, policy keeps {policy} (too few)",
            observed=count,
            expected=policy,
        )
    if high is not None and count > high:
        fail(
            f"{where}: {count} backups kept{span}, policy keeps {policy}"
            " (too many: old ones are not cleaned up)",
            observed=count,
            expected=policy,
        )
    if check.max_age is not None and observation.backups:
        oldest = observation.backups[0]
        age = observation.age_seconds(oldest)
        if age > duration_seconds(check.max_age):
            fail(
                f"{where}: oldest backup {oldest.stamp} is {age_text(age)} old"
                f" > {check.max_age} (retention cleanup not running)",
                observed=age_text(age),
                expected=f"<= {check.max_age}",
            )


@pytest.mark.kind("backup_integrity")
@pytest.mark.severity("high")
@pytest.mark.backup
def test_backup_integrity(check: BackupIntegrityCheck, observation: IntegrityReport) -> None:
    problems = observation.problems
    if problems:
        shown = "; ".join(f"{v.backup}/{v.name}: {v.problem}" for v in problems[:_SHOWN_PROBLEMS])
        more = (
            f" (+{len(problems) - _SHOWN_PROBLEMS} more)" if len(problems) > _SHOWN_PROBLEMS else ""
        )
        fail(
            f"backups {observation.location}: {len(problems)} of {len(observation.verdicts)}"
            f" integrity checks failed: {shown}{more}",
            observed=f"{len(problems)} damaged",
            expected="every file reads whole and matches its checksum",
        )


@pytest.mark.kind("backup_restore")
@pytest.mark.severity("high")
@pytest.mark.backup
def test_backup_restore(check: BackupRestoreCheck, observation: RestoreResult) -> None:
    """The newest dump restores, its tables hold the rows expected, within the time allowed.

    The probe is the only one in Vigil that writes, and only to a scratch database
    (``vigil_restore_<random>``) that it creates on a target marked ``scratch_restore`` and
    drops afterwards, whatever the outcome. Production data is never touched.
    """
    what = f"backups {observation.location}: restore of {observation.backup}/{observation.dump}"
    if observation.problem is not None:
        fail(
            f"{what} into {check.postgres} failed: {observation.problem}",
            observed=observation.problem,
            expected="a restore that succeeds",
        )
    for measured in observation.measured:
        if measured.value is None or measured.value < measured.minimum:
            shown = "no number" if measured.value is None else f"{measured.value:g}"
            fail(
                f"{what}: {measured.label} = {shown} after restore,"
                f" expected >= {measured.minimum:g}",
                observed=shown,
                expected=f">= {measured.minimum:g}",
            )
    if check.max_duration is not None:
        limit = duration_seconds(check.max_duration)
        if observation.seconds > limit:
            fail(
                f"{what} took {age_text(observation.seconds)} > {check.max_duration}",
                observed=age_text(observation.seconds),
                expected=f"<= {check.max_duration}",
            )
    if not observation.dropped:
        fail(
            f"{what} passed but scratch database {observation.scratch} on {check.postgres}"
            " could not be dropped; drop it by hand",
            observed=f"{observation.scratch} left behind",
            expected="scratch database dropped",
            band="warn",
        )
