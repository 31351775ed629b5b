"""The API reference, built from the docstrings with pdoc: ``make docs``, or
``python docs/build_api.py [OUT]`` (default: docs/api; start at OUT/index.html).
A second argument documents another package instead (the tests use it).

Every public module of espcn_ref (no part of its name starts with "_") gets
a page. They are listed here, because pdoc alone would follow the package's
``__all__``, which names the functional API, not the submodules.

Every warning of the build is an error: a docstring pdoc cannot render or a
name it cannot resolve fails the build, and so ``tests/test_docs.py``. One
false alarm of pdoc's is let through: it cannot resolve the postponed
annotations of a NamedTuple's generated ``__init__`` (pdoc issue #765), such
as ``model.Cache``'s fields, which are resolved everywhere else.

The docstrings are plain text with reST's ``code`` and :func:`links`; their
``*`` is multiplication, as in ``(N, C*r^2, H, W)``. So the Markdown that pdoc
renders to takes no emphasis from a ``*`` inside a word (markdown2's
"middle-word-em" off); ``*word*`` is still emphasis.
"""

from __future__ import annotations

import pkgutil
import re
import sys
import warnings
from pathlib import Path

import pdoc
import pdoc.render
import pdoc.render_helpers

PACKAGE = "espcn_ref"
_NAMEDTUPLE_INIT = re.compile(r"Error parsing type annotation .* for ([\w.]+)\.__init__\.")


def public_modules(package: str = PACKAGE) -> list[str]:
    """The package and its submodules, without the private ones (and __main__)."""
    path = __import__(package).__path__
    names = [package] + [m.name for m in pkgutil.walk_packages(path, package + ".")]
    return [name for name in names if not any(part.startswith("_") for part in name.split("."))]


def _is_namedtuple_init_alarm(warning: warnings.WarningMessage) -> bool:
    """pdoc issue #765: 'Error parsing type annotation ... for X.__init__' where X is a NamedTuple."""
    found = _NAMEDTUPLE_INIT.match(str(warning.message))
    if not found:
        return False
    try:
        cls = pkgutil.resolve_name(found.group(1))
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def build(out: Path, package: str = PACKAGE) -> list[str]:
    """Write the HTML pages into ``out``; returns the build's warnings (empty when it is clean)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        modules = public_modules(package)
        pdoc.render_helpers.markdown_extensions["middle-word-em"] = False  # C*r^2 stays C*r^2
        pdoc.render.configure(docformat="restructuredtext", footer_text=f"{package} API reference")
        pdoc.pdoc(*modules, output_directory=out)
    return [f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}"
            for w in caught if not _is_namedtuple_init_alarm(w)]


def main(argv: list[str]) -> int:
    """argv: [OUT [PACKAGE]]; exit status 1 if the build warned."""
    out = Path(argv[0] if argv else "docs/api")
    problems = build(out, *argv[1:2])
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"the API reference has {len(problems)} warning(s), treated as errors", file=sys.stderr)
        return 1
    print(f"API reference: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
