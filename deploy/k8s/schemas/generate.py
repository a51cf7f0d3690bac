"""Write the KEDA JSON Schemas in this folder from the `cloudcoil-models-keda` package.

Not run by the tests (they read the JSON files); run by hand to move to another KEDA release,
in a throwaway venv since the package is not one of the project's dependencies:

    python3.11 -m venv /tmp/keda-models
    /tmp/keda-models/bin/pip install cloudcoil-models-keda==2.16.1.0
    /tmp/keda-models/bin/python deploy/k8s/schemas/generate.py

The package's pydantic models are generated from KEDA's CRDs (their openAPIV3Schema); this
turns them back into JSON Schema and makes it as strict as the API server is with
`kubectl apply --validate=strict`: an unknown field is an error (`additionalProperties:
false` on every object that lists its fields), and no field may be null.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DROPPED = {"title", "default", "description", "examples"}


def tighten(node: Any) -> Any:
    """One schema node, without null alternatives or annotations, closed to unknown fields."""
    if isinstance(node, list):
        return [tighten(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED:
            continue
        if key in ("properties", "$defs"):
            out[key] = {name: tighten(schema) for name, schema in value.items()}
        else:
            out[key] = tighten(value)
    for key in ("anyOf", "oneOf"):
        if key in out:
            branches = [b for b in out[key] if b != {"type": "null"}]
            if len(branches) == 1:
                del out[key]
                out.update(branches[0])
            else:
                out[key] = branches
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def main() -> None:
    from cloudcoil.models.keda import v1alpha1

    package = f"cloudcoil-models-keda {version('cloudcoil-models-keda')}"
    for model in (v1alpha1.ScaledObject, v1alpha1.TriggerAuthentication):
        schema = tighten(model.model_json_schema(by_alias=True, mode="validation"))
        # The API server wants these whatever the model's defaults say.
        schema["required"] = sorted({"apiVersion", "kind", "metadata", *schema.get("required", [])})
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": f"keda.sh/v1alpha1 {model.__name__}: from {package} (Apache-2.0), generated "
            "from KEDA's CRDs; made strict by deploy/k8s/schemas/generate.py",
            **schema,
        }
        path = HERE / f"keda.sh_v1alpha1_{model.__name__.lower()}.json"
        path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(HERE.parents[2])}")


if __name__ == "__main__":
    main()
