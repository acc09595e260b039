"""The files proofcheck ships beside its code (report templates, the server's page), found with importlib.resources.

In the source tree they live in `templates/` at the repository root; the build maps that folder to the
package `checkers.templates` (pyproject.toml, `[tool.setuptools.package-dir]`), so an editable install
and a wheel both find them by that package name, wherever they are installed.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from checkers.errors import UsageError

TEMPLATES_PACKAGE = "checkers.templates"


@cache
def templates_directory() -> Path:
    """The folder of the report templates (`serve/` inside it holds the server's page and static files)."""
    try:
        root = files(TEMPLATES_PACKAGE)
    except ModuleNotFoundError:
        raise UsageError(f"the package {TEMPLATES_PACKAGE} (proofcheck's templates) is not installed; reinstall "
                         "proofcheck (`pip install -e .` in a checkout, where the build maps templates/ to it)") from None
    if not isinstance(root, Path):  # a zipped install: jinja2 and the server need real files
        raise UsageError(f"proofcheck's templates are inside an archive ({root}); install proofcheck unzipped")
    return root
