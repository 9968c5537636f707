"""Read an environment file: find it, merge ``extends:``, substitute ``${VAR}``, validate.

Every problem becomes one :class:`EnvFileError` line naming the file, the key path and the
problem, e.g. ``environments/prod.yaml: checks.api.expect.status: not an integer``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from plugins.schema import Environment, EnvironmentBase

logger = logging.getLogger(__name__)

# libyaml's safe loader is ~10x faster than the pure-Python one on big environment files.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ENVIRONMENTS_DIR = Path(__file__).resolve().parent.parent / "environments"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


class EnvFileError(Exception):
    """A bad environment file; the message is the single line the user sees."""


@dataclass
class RawEnvironment:
    """An environment file with its ``extends:`` chain merged, before variables are resolved."""

    path: Path
    data: dict[str, Any]
    files: list[Path] = field(default_factory=list)

    @property
    def testbed(self) -> Mapping[str, Any] | None:
        value = self.data.get("testbed")
        return value if isinstance(value, Mapping) else None


def find(name_or_path: str, directory: Path = ENVIRONMENTS_DIR) -> Path:
    """The file for ``--env``: a path to a YAML file, or a name in ``environments/``."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if candidate.is_file():
            return candidate
        raise EnvFileError(f"{name_or_path}: environment file not found")
    path = directory / f"{name_or_path}.yaml"
    if path.is_file():
        return path
    names = ", ".join(name for name, _, _ in available(directory)) or "none"
    raise EnvFileError(f"unknown environment {name_or_path!r} (available: {names})")


def available(directory: Path = ENVIRONMENTS_DIR) -> list[tuple[str, Path, str]]:
    """(name, file, description) of each environment in ``directory``."""
    found = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = _read_yaml(path)
        except EnvFileError as problem:
            found.append((path.stem, path, f"unreadable: {problem}"))
            continue
        found.append((path.stem, path, str(data.get("description", "")).strip().split("\n")[0]))
    return found


def load_raw(path: Path) -> RawEnvironment:
    """Read ``path`` and the files it extends, merged (the extending file wins)."""
    files: list[Path] = []
    data = _load_chain(path, files, ())
    return RawEnvironment(path=path, data=data, files=files)


def resolve(raw: RawEnvironment, variables: Mapping[str, str] | None = None) -> EnvironmentBase:
    """Substitute variables and validate; ``variables`` defaults to the process environment."""
    values = os.environ if variables is None else variables
    data = {key: value for key, value in raw.data.items() if key != "extends"}
    substituted = _substitute(data, values, raw.path, ())
    try:
        return Environment.model_validate(substituted)
    except ValidationError as invalid:
        raise EnvFileError(_describe(raw.path, invalid)) from None


def load(name_or_path: str, variables: Mapping[str, str] | None = None) -> EnvironmentBase:
    """Find, merge, substitute and validate in one call.

    >>> load("demo", {"DEMO_DETECTOR_URL": "http://127.0.0.1:8010", ...})  # doctest: +SKIP
    """
    return resolve(load_raw(find(name_or_path)), variables)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as problem:
        raise EnvFileError(f"{path}: cannot read: {problem.strerror}") from None
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        reason = getattr(problem, "problem", None) or "invalid YAML"
        raise EnvFileError(f"{path}{where}: YAML syntax error: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise EnvFileError(f"{path}: top level must be a mapping, not {type(data).__name__}")
    return data


def _load_chain(path: Path, files: list[Path], seen: tuple[Path, ...]) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(p.name for p in (*seen, resolved))
        raise EnvFileError(f"{path}: extends loops: {chain}")
    data = _read_yaml(path)
    files.append(path)
    merged: dict[str, Any] = {}
    for base in _bases(path, data.get("extends")):
        merged = _merge(merged, _load_chain(base, files, (*seen, resolved)))
    return _merge(merged, data)


def _bases(path: Path, extends: object) -> Iterator[Path]:
    if extends is None:
        return
    names = extends if isinstance(extends, list) else [extends]
    for name in names:
        if not isinstance(name, str):
            raise EnvFileError(f"{path}: extends: expected a file name, got {name!r}")
        base = path.parent / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
        if not base.is_file():
            raise EnvFileError(f"{path}: extends: {name!r} not found ({base})")
        yield base


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings; other values are replaced; ``null`` deletes a key."""
    merged = dict(base)
    for key, value in override.items():
        if key == "extends":
            continue
        if value is None and key in merged and isinstance(merged[key], dict):
            del merged[key]
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _substitute(
    value: Any, variables: Mapping[str, str], path: Path, where: tuple[Any, ...]
) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, variables, path, (*where, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables, path, (*where, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise EnvFileError(f"{path}: {_dotted(where)}: variable ${{{name}}} is not set")

    return _VARIABLE.sub(replace, value)


def _dotted(location: tuple[Any, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(path: Path, invalid: ValidationError) -> str:
    errors = invalid.errors(include_url=False, include_input=False)
    first = errors[0]
    location = list(first["loc"])
    # Discriminated unions add the kind as a path step (checks.api.http_health.path): drop it.
    if len(location) >= 3 and location[0] == "checks" and location[2] in _kind_tags():
        del location[2]
    message = _FRIENDLY.get(first["type"], first["msg"])
    if first["type"] == "union_tag_invalid":
        tag = first.get("ctx", {}).get("tag", "?")
        message = f"unknown check kind {tag!r} (known: {', '.join(sorted(_kind_tags()))})"
    elif first["type"] == "union_tag_not_found":
        message = "missing 'kind' (which check this is)"
    message = message.removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    where = f"{_dotted(tuple(location))}: " if location else ""
    return f"{path}: {where}{message}{more}"


def _kind_tags() -> set[str]:
    from plugins.schema import CHECK_KINDS

    return set(CHECK_KINDS)
