"""MkDocs hook (mkdocs.yml `hooks:`): the stored benchmark and study reports become pages of the site.

Every file under `benchmarks/reports/` is added as `reports/<its path there>`: each report's README.md and
summary.md are pages as they are stored (never copied into docs/), and their figures, JSON records and
scripts sit beside them, so the reports' own relative links resolve.
"""

from pathlib import Path

from mkdocs.structure.files import File

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def on_files(files, config):
    for path in sorted((BENCHMARKS / "reports").rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            files.append(File(path.relative_to(BENCHMARKS).as_posix(), src_dir=str(BENCHMARKS),
                              dest_dir=config["site_dir"], use_directory_urls=config["use_directory_urls"]))
    return files
