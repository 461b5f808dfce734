"""
Directives for pages whose source another branch may not have added yet.

- ``optional-include``: Sphinx's ``include`` when the file exists; otherwise a section titled by
  ``:title:`` holding the ``:missing:`` text. The changelog page uses it for ``CHANGELOG.md``.
- ``if-exists``: the directive's content when the file named by its argument exists, else nothing (an
  image another branch adds, for example).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.directives.other import Include
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


class OptionalInclude(Include):
    """``include`` that tolerates a missing file."""

    option_spec = {**Include.option_spec, "missing": directives.unchanged, "title": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        _, path = self.env.relfn2path(self.arguments[0])
        title, missing = self.options.pop("title", None), self.options.pop("missing", None)
        if Path(path).is_file():
            return super().run()
        section = nodes.section(ids=[nodes.make_id(title or "missing")])
        section += nodes.title(text=title or "")
        section += nodes.paragraph(text=missing or "")
        return [section]


class IfExists(SphinxDirective):
    """The content when the file named by the argument (relative to the page) exists."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        _, path = self.env.relfn2path(self.arguments[0])
        if not Path(path).is_file():
            return []
        self.env.note_dependency(path)
        container = nodes.container()
        nested_parse_with_titles(self.state, self.content, container, self.content_offset)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("optional-include", OptionalInclude)
    app.add_directive("if-exists", IfExists)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
