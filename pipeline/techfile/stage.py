"""The techfile core: gather the recorded evidence, render HTML, PDF and SBOM, write the manifest."""

from __future__ import annotations

import json

from pipeline.core.atomic import atomic_dir
from pipeline.techfile import render
from pipeline.techfile.context import TechfilePaths, gather
from pipeline.techfile.manifest import write_manifest
from pipeline.techfile.params import TechfileParams
from pipeline.techfile.sbom import build_sbom

HTML_NAME = "technical_file.html"
PDF_NAME = "technical_file.pdf"
SBOM_NAME = "sbom.cdx.json"


def run(params: TechfileParams, paths: TechfilePaths, config: dict, pdf: bool = True) -> dict:
    """Render the technical file into ``params.out`` (atomically) and write the manifest.

    A release that is not releasable still renders; its status is returned and recorded.

    Args:
        params: the ``techfile`` section.
        paths: the repository root.
        config: the whole validated ``params.yaml`` as a mapping.
        pdf: also write the PDF (tests of the HTML skip it for speed).
    """
    context = gather(params, paths, config)
    sbom = build_sbom(context["product"], context["soup"], context["build"]["commit"],
                      context["build"]["date"], context["environment"]["lock_sha256"])
    context["sbom"] = {"file": SBOM_NAME, "components": len(sbom["components"]),
                       "serial": sbom["serialNumber"], "spec": sbom["specVersion"]}
    html = render.render_html(context)
    out = paths.at(params.out)
    with atomic_dir(out) as tmp:
        tmp.chmod(0o755)  # handed over: readable by others (mkdtemp creates 0700)
        (tmp / HTML_NAME).write_text(html, encoding="utf-8")
        (tmp / SBOM_NAME).write_text(json.dumps(sbom, indent=2, sort_keys=True) + "\n")
        if pdf:  # links resolve against the final folder (a URI ending in "/" whether or not it
            # exists yet), not the random temporary one: the PDF's link targets (the SBOM beside
            # it) are the same at every render
            render.render_pdf(html, out.resolve().as_uri() + "/", tmp / PDF_NAME)
    manifest = write_manifest(paths.at(params.manifest), paths.at(params.release_dir),
                              context["build"], context["release"], context["runs"])
    paths.at(params.manifest).chmod(0o644)
    return {"status": context["release"]["status"], "reasons": context["release"]["reasons"],
            "html": str(out / HTML_NAME), "pdf": str(out / PDF_NAME) if pdf else None,
            "files": len(manifest["files"])}
