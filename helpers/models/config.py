"""Configuration dataclasses with a JSON round-trip (``to_dict`` / ``from_dict``)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, TypeVar

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

    #: fields added after runs of this config were stored: :meth:`to_dict` leaves them out while they
    #: hold their default, so a config that does not use them keeps the run key it had before
    added_fields: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of JSON types (tuples as lists), without the :attr:`added_fields` that hold
        their default."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name in self.added_fields and f.default is not dataclasses.MISSING and value == f.default:
                continue
            out[f.name] = _jsonable(value)
        return out

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
