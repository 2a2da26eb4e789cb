"""Configuration dataclasses with a JSON round-trip (``to_dict`` / ``from_dict``)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar

from helpers.hashing import config_hash as _config_hash

C = TypeVar("C", bound="Config")


def _jsonable(value: Any) -> Any:
    """Tuples become lists (JSON has no tuples); everything else must already be plain."""
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _tuplify(value: Any) -> Any:
    """Lists (from JSON) back to tuples, recursively."""
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


class Config:
    """Mixin for dataclass configs: ``to_dict``, ``from_dict``, ``to_json``, ``from_json``, ``replace``,
    ``config_hash``.

    Fields whose default is a tuple come back as tuples after a JSON round-trip; unknown keys
    raise ``ValueError`` so that a misspelt option is never silently ignored.
    """

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of JSON types (tuples as lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        """Rebuild from :meth:`to_dict` output (or any subset of the fields)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {unknown}; known: {sorted(fields)}")
        kwargs = {}
        for name, value in d.items():
            f = fields[name]
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            kwargs[name] = _tuplify(value) if isinstance(default, tuple) else value
        return cls(**kwargs)

    def to_json(self, **kwargs) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def replace(self: C, **changes) -> C:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def config_hash(self, length: int = 8) -> str:
        """SHA-1 of the canonical JSON of :meth:`to_dict` (:func:`helpers.hashing.config_hash`)."""
        return _config_hash(self.to_dict(), length)
