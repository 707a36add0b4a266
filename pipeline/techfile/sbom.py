"""A CycloneDX 1.5 JSON SBOM of the SOUP list, written by this module (no extra dependency).

Deterministic: the serial number is derived from the git commit and the lock file's hash, the
timestamp is the commit date, components and dependencies are sorted. Each SOUP component carries
the SHA-256 hashes of ``component_hashes`` with their basis (property ``pipeline:hash_basis``);
each released model file is a ``machine-learning-model`` component with its model version and the
file's SHA-256.
"""

from __future__ import annotations

import uuid

from packaging.utils import canonicalize_name

from pipeline.techfile.component_hashes import BASIS_TEXT

SPEC_VERSION = "1.5"


def purl(name: str, version: str) -> str:
    """The package URL of a PyPI package (``pkg:pypi/name@version``)."""
    return f"pkg:pypi/{canonicalize_name(name)}@{version}"


def build_sbom(product: dict, soup: list[dict], commit: str, date: str, lock_sha256: str,
               hashes: dict[str, dict] | None = None, models: list[dict] | None = None) -> dict:
    """The SBOM document.

    Args:
        product: ``name``, ``version`` and ``manufacturer`` of the device software.
        soup: rows of ``soup.soup_list``.
        commit: the git commit the release was built from.
        date: the commit date (ISO 8601), used as the SBOM timestamp.
        lock_sha256: SHA-256 of ``requirements.lock``.
        hashes: canonical name -> ``{"basis", "sha256"}`` (``component_hashes.component_hashes``).
        models: released model files (``models.identities`` rows: name, path, released SHA-256,
            identity with the model version).
    """
    hashes = hashes or {}
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"{product['name']}:{commit}:{lock_sha256}")
    root_ref = f"{product['name']}@{product['version']}"
    refs = {canonicalize_name(r["name"]): purl(r["name"], r["version"]) for r in soup}
    components = []
    for row in soup:
        component = {"type": "library", "bom-ref": refs[canonicalize_name(row["name"])],
                     "name": row["name"], "version": row["version"],
                     "purl": refs[canonicalize_name(row["name"])],
                     "scope": "required" if row["scope"] != "test" else "optional",
                     "description": row["purpose"],
                     "properties": [{"name": "soup:scope", "value": row["scope"]},
                                    {"name": "soup:anomaly_review", "value": row["anomaly_review"]}]}
        if row["licence"] != "not declared in package metadata":
            component["licenses"] = [{"license": {"name": row["licence"]}}]
        found = hashes.get(canonicalize_name(row["name"]))
        if found:
            component["hashes"] = [{"alg": "SHA-256", "content": h} for h in found["sha256"]]
            component["properties"].append({"name": "pipeline:hash_basis", "value": BASIS_TEXT[found["basis"]]})
        components.append(component)
    for model in models or []:
        if model.get("identity") is None or model["released"] == "missing":
            continue
        ref = f"model:{model['name']}@{model['identity']['model_version']}"
        components.append({"type": "machine-learning-model", "bom-ref": ref, "name": model["path"],
                           "version": model["identity"]["model_version"],
                           "hashes": [{"alg": "SHA-256", "content": model["released"]}],
                           "properties": [{"name": "model:role", "value": model["name"]},
                                          {"name": "model:runtime", "value": model["identity"]["runtime"] or "not recorded"},
                                          {"name": "model:training_run_id",
                                           "value": model["identity"]["training_run_id"] or "not recorded"}]})
        refs[ref] = ref
    dependencies = [{"ref": root_ref, "dependsOn": sorted([refs[canonicalize_name(r["name"])]
                                                           for r in soup if r["direct"]]
                                                          + [r for r in refs if r.startswith("model:")])}]
    for row in soup:
        dependencies.append({"ref": refs[canonicalize_name(row["name"])],
                             "dependsOn": sorted(refs[d] for d in row["depends_on"] if d in refs)})
    return {
        "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{serial}", "version": 1,
        "metadata": {"timestamp": date,
                     "component": {"type": "application", "bom-ref": root_ref,
                                   "name": product["name"], "version": product["version"],
                                   "supplier": {"name": product["manufacturer"]}},
                     "properties": [{"name": "git:commit", "value": commit},
                                    {"name": "requirements.lock:sha256", "value": lock_sha256}]},
        "components": components, "dependencies": dependencies,
    }
