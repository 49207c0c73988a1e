"""What lint reads from a revision file's text: inline ignores, statements, blocks."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from dataclasses import field

_DIRECTIVE = re.compile(r"schemaver:\s*ignore(-file)?\[([^\]]*)\]")


@dataclass
class _Comment:
    line: int
    ids: frozenset[str]
    #: The comment is the only thing on its line.
    alone: bool


@dataclass
class SourceFacts:
    """Inline ignores, statement spans and autocommit blocks of one revision file."""

    comments: list[_Comment] = field(default_factory=list)
    file_ignores: set[str] = field(default_factory=set)
    #: Lines holding only a comment, which an ignore above a statement may span.
    comment_lines: set[int] = field(default_factory=set)
    #: (first, last) line of every statement.
    statements: list[tuple[int, int]] = field(default_factory=list)
    #: (first, last) line of every ``with ...autocommit_block():`` block.
    autocommit: list[tuple[int, int]] = field(default_factory=list)
    #: Line of ``def upgrade``, where findings about the whole revision point.
    upgrade_line: int = 0

    def statement(self, line: int) -> tuple[int, int]:
        """The innermost statement holding ``line``; the line alone if none does."""
        spans = [span for span in self.statements if span[0] <= line <= span[1]]
        if not spans:
            return (line, line)
        return min(spans, key=lambda span: span[1] - span[0])

    def in_autocommit(self, line: int) -> bool:
        return any(first <= line <= last for first, last in self.autocommit)

    def ignored(self, rule: str, line: int) -> bool:
        """Whether an ignore comment silences ``rule`` for the statement at ``line``."""
        if rule in self.file_ignores:
            return True
        if line <= 0:
            return False
        first, last = self.statement(line)
        for comment in self.comments:
            if rule not in comment.ids:
                continue
            if first <= comment.line <= last:
                return True
            if (
                comment.alone
                and comment.line < first
                and all(n in self.comment_lines for n in range(comment.line, first))
            ):
                return True
        return False


def _ids(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def read_source(text: str) -> SourceFacts:
    """Read what lint needs from a revision file's text; tolerant of broken files."""
    facts = SourceFacts()
    lines = text.splitlines()
    facts.comment_lines = {
        number for number, line in enumerate(lines, 1) if line.lstrip().startswith("#")
    }
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        tokens = []
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        line = token.start[0]
        for match in _DIRECTIVE.finditer(token.string):
            ids = _ids(match.group(2))
            if match.group(1):
                facts.file_ignores |= ids
            else:
                facts.comments.append(_Comment(line, ids, line in facts.comment_lines))
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return facts
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        last = node.end_lineno or node.lineno
        if isinstance(node, (ast.With, ast.AsyncWith)):
            # A block's own span is its header: statements inside have their own.
            if any(_is_autocommit(item.context_expr) for item in node.items):
                facts.autocommit.append((node.lineno, last))
            last = node.body[0].lineno - 1 if node.body else last
        elif hasattr(node, "body"):
            continue
        facts.statements.append((node.lineno, max(last, node.lineno)))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            facts.upgrade_line = node.lineno
    return facts


def _is_autocommit(expr: ast.expr) -> bool:
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "autocommit_block"
    )
