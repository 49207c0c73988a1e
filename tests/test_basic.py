from __future__ import annotations

from flask import Flask

from flask_schemaver import SchemaVer


def test_upgrade_api_and_cli(app: Flask, schemaver: SchemaVer) -> None:
    [written] = schemaver.migrate("create user")
    assert written.bind == "default"
    assert [r.message for r in written.revisions] == ["create user"]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "[default] upgrade <base> → " in result.output
    assert schemaver.current() == {"default": (written.revisions[0].id,)}
