"""τ²'s DB hash, assembled from cached per-entry JSON.

τ² hashes a DB as ``sha256(json.dumps(db.model_dump(), sort_keys=True, default=str))``
(``ToolKitBase.get_db_hash``): 40 ms on retail, 90–110 ms on airline. Without
indentation, ``json.dumps`` writes a dict as ``{`` + ``", ".join('"key": ' +
text(value))`` + ``}`` over sorted keys, and a nested value's text does not
depend on where it sits. So the text of a DB whose fields are dicts of entries
is a concatenation of per-entry texts. :class:`ComposedHasher` serialises every
snapshot entry once; for a copy-on-access private DB it re-serialises only the
entries that DB owns, joins, and hashes (2–10 ms).

Exactness guards: at construction the composed text of the snapshot must equal
τ²'s full text byte for byte, or the hasher disables itself; a private entry is
serialised on its own only if its type is exactly the field's declared value
type (then pydantic serialises it the same way nested or alone); anything else
(non-string keys, a field that is not a :class:`CopyOnAccessDict`, extra fields)
returns ``None`` and the caller falls back to τ²'s own hash.
"""

from __future__ import annotations

import hashlib
import json
import typing

from pydantic import BaseModel

from .copy_on_access import CopyOnAccessDict


def _json(value) -> str:
    # the exact serialisation τ²'s get_dict_hash uses
    return json.dumps(value, sort_keys=True, default=str)


def _entry_item(key: str, entry: BaseModel) -> str:
    return json.dumps(key) + ": " + _json(entry.model_dump())


class ComposedHasher:
    """Hashes private copies of one snapshot DB from cached per-entry JSON."""

    def __init__(self, db: BaseModel):
        self.fields = sorted(db.__dict__)
        self.value_types: dict[str, type] = {}
        self.items: dict[str, dict[str, str]] = {}  # field -> key -> '"key": {...}'
        self.enabled = self._prepare(db)

    def _prepare(self, db: BaseModel) -> bool:
        if db.__pydantic_extra__ or set(self.fields) != set(type(db).model_fields):
            return False
        for name in self.fields:
            annotation = type(db).model_fields[name].annotation
            if typing.get_origin(annotation) is not dict:
                return False
            key_type, value_type = typing.get_args(annotation)
            if key_type is not str or not (isinstance(value_type, type) and issubclass(value_type, BaseModel)):
                return False
            collection = db.__dict__[name]
            if any(type(k) is not str or type(v) is not value_type for k, v in collection.items()):
                return False
            self.value_types[name] = value_type
            self.items[name] = {k: _entry_item(k, v) for k, v in collection.items()}
        composed = self._compose({name: [self.items[name][k] for k in sorted(self.items[name])]
                                  for name in self.fields})
        return composed == _json(db.model_dump())

    def _compose(self, sorted_items: dict[str, list[str]]) -> str:
        return "{" + ", ".join(json.dumps(name) + ": {" + ", ".join(sorted_items[name]) + "}"
                               for name in self.fields) + "}"

    def text(self, db: BaseModel) -> str | None:
        """τ²'s JSON text of ``db`` (a copy-on-access private copy), or None if not applicable."""
        if not self.enabled or db.__pydantic_extra__ or sorted(db.__dict__) != self.fields:
            return None
        sorted_items = {}
        for name in self.fields:
            collection = db.__dict__[name]
            if type(collection) is not CopyOnAccessDict:
                return None
            keys = list(dict.keys(collection))
            if any(type(k) is not str for k in keys):
                return None
            shared, cached, value_type = collection.shared_keys, self.items[name], self.value_types[name]
            parts = []
            for key in sorted(keys):
                if key in shared:
                    parts.append(cached[key])
                    continue
                entry = dict.__getitem__(collection, key)
                if type(entry) is not value_type:
                    return None
                parts.append(_entry_item(key, entry))
            sorted_items[name] = parts
        return self._compose(sorted_items)

    def hash(self, db: BaseModel) -> str | None:
        """τ²'s hash of ``db``, or None if this hasher cannot vouch for it."""
        text = self.text(db)
        return None if text is None else hashlib.sha256(text.encode()).hexdigest()
