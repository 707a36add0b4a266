"""The techfile core: gather the recorded evidence, render HTML, PDF and SBOM, write the manifest."""

from __future__ import annotations

import json

from pathlib import Path

from pipeline.core.atomic import atomic_dir, atomic_file
from pipeline.core.provenance import file_sha256
from pipeline.governance.views import approvals_view
from pipeline.techfile import render
from pipeline.techfile.context import TechfilePaths, gather
from pipeline.techfile.manifest import write_manifest
from pipeline.techfile.params import TechfileParams
from pipeline.techfile.view import SbomSummary, TechfileView

HTML_NAME = "technical_file.html"
PDF_NAME = "technical_file.pdf"
SBOM_NAME = "sbom.cdx.json"
APPROVALS_TEMPLATE = "approvals.html.j2"
APPROVALS_NAME = "approvals.html"  # not in the manifest (governance.paths.UNSIGNED_PAGES)


def run(params: TechfileParams, paths: TechfilePaths, config: dict, pdf: bool = True) -> dict:
    """Render the technical file into ``paths.techfile`` (atomically) and write the manifest.

    A release that is not releasable still renders; its status is returned and recorded.

    Args:
        params: the ``techfile`` section.
        paths: the repository root.
        config: the whole validated ``params.yaml`` as a mapping.
        pdf: also write the PDF (tests of the HTML skip it for speed).
    """
    view = gather(params, paths, config)
    sbom = view.sbom_document
    view = view.model_copy(update={"sbom": sbom_summary(sbom)})
    html = render.render_html(view.context())
    out = paths.at(paths.outputs.techfile)
    with atomic_dir(out, shared=True) as tmp:  # release/techfile: the shared file modes
        tmp.chmod(0o755)  # handed over: readable by others (mkdtemp creates 0700)
        (tmp / HTML_NAME).write_text(html, encoding="utf-8")
        (tmp / SBOM_NAME).write_text(json.dumps(sbom, indent=2, sort_keys=True) + "\n")
        if pdf:  # links resolve against the final folder (a URI ending in "/" whether or not it
            # exists yet), not the random temporary one: the PDF's link targets (the SBOM beside
            # it) are the same at every render
            render.render_pdf(html, out.resolve().as_uri() + "/", tmp / PDF_NAME)
    manifest = write_manifest(paths.at(paths.outputs.manifest), paths.at(paths.outputs.release),
                              view.build.model_dump(), view.release.model_dump(), view.runs)
    paths.at(paths.outputs.manifest).chmod(0o644)
    write_approvals_page(view, paths, out / APPROVALS_NAME, paths.at(paths.outputs.manifest))
    return {"status": view.release.status, "reasons": view.release.reasons,
            "html": str(out / HTML_NAME), "pdf": str(out / PDF_NAME) if pdf else None,
            "files": len(manifest["files"])}


def sbom_summary(sbom: dict) -> SbomSummary:
    """What the SOUP section says of the SBOM written beside the technical file."""
    hashed = [c for c in sbom["components"] if c.get("hashes")]
    bases = sorted({p["value"] for c in hashed for p in c.get("properties", []) if p["name"] == "pipeline:hash_basis"})
    return SbomSummary(file=SBOM_NAME, components=len(sbom["components"]), serial=sbom["serialNumber"],
                       spec=sbom["specVersion"], hashed=len(hashed),
                       models=sum(1 for c in sbom["components"] if c["type"] == "machine-learning-model"),
                       hash_bases=bases)


def write_approvals_page(view: TechfileView, paths: TechfilePaths, target: Path, manifest: Path) -> None:
    """The signatures over the manifest just written, each marked whether it signs it.

    Args:
        view: the gathered view (product, build).
        paths: the repository root.
        target: ``release/techfile/approvals.html``.
        manifest: ``release/manifest.json``.
    """
    governance = approvals_view(Path(paths.root), file_sha256(manifest))
    html = render.render_html(view.model_copy(update={"governance": governance}).context(),
                              template=APPROVALS_TEMPLATE)
    with atomic_file(target, shared=True) as handle:
        handle.write(html)
