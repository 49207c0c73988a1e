"""Interruptions and errors that happen off the database path still name the bind,
the revision and what is left to do."""

from __future__ import annotations

import pytest

from flask_schemaver import Interrupted
from flask_schemaver import RunFailed
from flask_schemaver import Step
from flask_schemaver.cli import output
from helpers import AppMaker
from helpers import invoke
from helpers import write_revision_file


def test_an_interruption_skips_the_binds_after_it(make_app: AppMaker) -> None:
    app = make_app(binds={"audit": make_app.sqlite("audit")}, tables={})
    for bind, folder in (("default", "versions"), ("audit", "audit")):
        write_revision_file(make_app.migrations / folder, f"{bind}1", None)

    def ctrl_c(step: Step) -> None:
        raise KeyboardInterrupt

    with app.app_context(), pytest.raises(RunFailed) as failed:
        make_app.schemaver.upgrade(on_start=ctrl_c)
    assert failed.value.exit_code == 130
    first, second = failed.value.results
    assert isinstance(first.error, Interrupted)
    assert str(first.error) == "[default] interrupted before its next revision started"
    assert (second.outcome, second.note) == ("skipped", "the run was interrupted")
    assert output.summary(second, "upgrade") == (
        f"{output.bind('audit')}: skipped (the run was interrupted)"
    )


def test_a_sqlalchemy_error_names_the_revision(make_app: AppMaker) -> None:
    app = make_app(tables={})
    folder = make_app.migrations / "versions"
    write_revision_file(
        folder,
        "r1",
        None,
        message="reflect",
        upgrade="sa.Table('nowhere', sa.MetaData(), autoload_with=op.get_bind())",
    )
    result = invoke(app, "upgrade")
    assert result.exit_code == 1
    [error] = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert error == (
        "Error: [default] upgrade of revision r1 ('reflect') failed: "
        "NoSuchTableError: nowhere"
    )


def test_a_batch_copy_holding_the_only_rows_is_not_to_be_dropped(
    make_app: AppMaker,
) -> None:
    app = make_app(tables={})
    folder = make_app.migrations / "versions"
    write_revision_file(
        folder,
        "r1",
        None,
        upgrade="op.create_table('item', sa.Column('id', sa.Integer, primary_key=True))",
    )
    # As if batch mode had copied and dropped the table, then failed to rename.
    write_revision_file(
        folder,
        "r2",
        "r1",
        upgrade="""
with op.get_context().autocommit_block():
    op.rename_table('item', '_alembic_tmp_item')
raise RuntimeError('rename failed')
""",
    )
    result = invoke(app, "upgrade")
    assert result.exit_code == 1
    [error] = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert error.endswith(
        "; the revision left behind the table(s) _alembic_tmp_item from batch mode: "
        "_alembic_tmp_item hold(s) the only copy of the rows: rename each back to its "
        "table's name (without _alembic_tmp_) before running it again"
    )
