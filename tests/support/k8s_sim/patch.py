"""PATCH bodies: JSON merge patch (RFC 7386), and strategic merge patch for the lists that
matter here (`ownerReferences` merge by uid, `finalizers` as a set); other lists replace."""

from __future__ import annotations

import copy
from typing import Any

from tests.support.k8s_sim.store import ApiError, Obj

_MERGE_KEYS: dict[tuple[str, ...], str] = {("metadata", "ownerReferences"): "uid"}
_SET_LISTS = {("metadata", "finalizers")}


def _merge(target: Any, patch: Any, path: tuple[str, ...], strategic: bool) -> Any:
    if not isinstance(patch, dict):
        if strategic and isinstance(patch, list) and isinstance(target, list):
            return _merge_list(target, patch, path)
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value, (*path, key), strategic)
    return result


def _merge_list(target: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    if path in _SET_LISTS:
        return [*target, *(v for v in patch if v not in target)]
    key = _MERGE_KEYS.get(path)
    if key is None:
        return copy.deepcopy(patch)
    merged = {item.get(key): item for item in target}
    for item in patch:
        merged[item.get(key)] = {**merged.get(item.get(key), {}), **item}
    return list(merged.values())


def apply_patch(current: Obj, patch: Obj, content_type: str) -> Obj:
    if content_type == "application/merge-patch+json":
        return _merge(current, patch, (), strategic=False)  # type: ignore[no-any-return]
    if content_type == "application/strategic-merge-patch+json":
        return _merge(current, patch, (), strategic=True)  # type: ignore[no-any-return]
    raise ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types "
        f"include: application/merge-patch+json, application/strategic-merge-patch+json"
        f" (got {content_type!r})",
    )
