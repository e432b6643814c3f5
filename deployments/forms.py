"""Run forms in the Prefect UI: a label and a description per parameter (Prefect would show the bare names)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["label_form"]


def label_form(deployment: Any, labels: Mapping[str, tuple[str, str]],
               choices: Mapping[str, Sequence[str]] | None = None) -> Any:
    """*deployment* (a RunnerDeployment) with its Run form's titles and descriptions, and fixed choices."""
    properties = deployment._parameter_openapi_schema.properties
    for name, (title, description) in labels.items():
        if name in properties:
            properties[name].update(title=title, description=description)
    for name, values in (choices or {}).items():
        if name in properties and values:
            properties[name]["enum"] = list(values)
    return deployment
