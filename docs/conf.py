import importlib.metadata

# Project --------------------------------------------------------------

project = "flask_schemaver"
copyright = "flask_schemaver developers"
author = "flask_schemaver developers"
release = importlib.metadata.version("flask-schemaver")
version = ".".join(release.split(".", 2)[:2])

# General --------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosectionlabel",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx_click",
]
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Every section is a :ref: target named after its page and title, such as
# ``cli:flask db upgrade``, which is how the commands page links each command to
# its generated reference.
autosectionlabel_prefix_document = True

# Quotes and ellipses only: the generated command reference quotes click's help,
# whose "--plan" must not become an en dash.
smartquotes_action = "qe"

# Every cross-reference must resolve: a broken one fails the build (-W).
nitpicky = True

# Intersphinx ----------------------------------------------------------

# Each project is looked up first at its documentation site (None: the site's own
# objects.inv), which is what a build with network access such as Read the Docs uses.
# Without network, as in CI, Sphinx falls back to the second location, a small
# inventory in _inventories/ that lists only the objects these docs refer to, at the
# pages where those projects document them. Sphinx warns only when every location of a
# project fails, so an offline build stays clean under -W.
#
# The small inventories are written by our own script, inventories.py, rather than
# copied from the projects' sites or from distribution packages: they are our code, and
# they stay small. Run ``python docs/inventories.py`` after referring to an object that
# is not in them yet; an offline build's nitpicky warning names it.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", (None, "_inventories/python.inv")),
    "flask": (
        "https://flask.palletsprojects.com/en/stable/",
        (None, "_inventories/flask.inv"),
    ),
    "click": (
        "https://click.palletsprojects.com/en/stable/",
        (None, "_inventories/click.inv"),
    ),
    "sqlalchemy": (
        "https://docs.sqlalchemy.org/en/20/",
        (None, "_inventories/sqlalchemy.inv"),
    ),
    "alembic": (
        "https://alembic.sqlalchemy.org/en/latest/",
        (None, "_inventories/alembic.inv"),
    ),
    "flask_sqlalchemy": (
        "https://flask-sqlalchemy.readthedocs.io/en/stable/",
        (None, "_inventories/flask_sqlalchemy.inv"),
    ),
}
# An unreachable site should fail over quickly to the local inventory.
intersphinx_timeout = 10

# Names that annotations carry but that are documented under another name: the module
# that defines a class is not always the one its documentation uses, and names imported
# only for type checking stay unqualified in signatures.
type_targets = {
    "Flask": "flask.Flask",
    "SQLAlchemy": "flask_sqlalchemy.SQLAlchemy",
    "Path": "pathlib.Path",
    "sqlalchemy.engine.base.Connection": "sqlalchemy.engine.Connection",
    "sqlalchemy.engine.base.Engine": "sqlalchemy.engine.Engine",
    "sqlalchemy.engine.url.URL": "sqlalchemy.engine.URL",
    "sqlalchemy.sql.schema.MetaData": "sqlalchemy.schema.MetaData",
    "sqlalchemy.sql.schema.Table": "sqlalchemy.schema.Table",
    "BindNames": "flask_schemaver.binds.BindNames",
    "RunKeywords": "flask_schemaver.options.RunKeywords",
    "RevisionKeywords": "flask_schemaver.options.RevisionKeywords",
    "Outcome": "flask_schemaver.results.Outcome",
    "Gate": "flask_schemaver.results.Gate",
    "Verb": "flask_schemaver.results.Verb",
    "GATES": "flask_schemaver.results.GATES",
    "StepCallback": "flask_schemaver.options.StepCallback",
    "WaitCallback": "flask_schemaver.options.WaitCallback",
    "TenantNames": "flask_schemaver.options.TenantNames",
    "ShardSpec": "flask_schemaver.options.ShardSpec",
    "flask_schemaver.extension.Lister": "flask_schemaver.extension.Lister",
    "RenameCallback": "flask_schemaver.options.RenameCallback",
    "ProgressCallback": "flask_schemaver.options.ProgressCallback",
    "TargetsCallback": "flask_schemaver.options.TargetsCallback",
    "ResultCallback": "flask_schemaver.options.ResultCallback",
    "sqlalchemy.Table": "sqlalchemy.schema.Table",
}
nitpick_ignore = [
    # MigrationRunner.settings: the internal object that holds the SCHEMAVER_* keys,
    # which configuration.rst documents one by one.
    ("py:class", "Settings"),
    ("py:class", "flask_schemaver.settings.Settings"),
]


def resolve_type_target(app, env, node, contnode):
    """Resolve a Python reference whose target :data:`type_targets` renames."""
    if node.get("refdomain") != "py":
        return None
    target = type_targets.get(node["reftarget"])
    if target is None:
        return None
    node["reftarget"] = target
    # "obj" finds any kind of object: an annotation asks for a class, but the target
    # may be a type alias (py:type), which older Sphinx finds only by its own role.
    found = env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, "obj", target, node, contnode
    )
    # None lets intersphinx, which runs next, look the new target up elsewhere.
    return found


def setup(app):
    # Before intersphinx (priority 500), so that it sees the renamed target.
    app.connect("missing-reference", resolve_type_target, priority=400)


# HTML -----------------------------------------------------------------

html_theme = "alabaster"
html_theme_options = {
    "description": "One revision chain per database for Flask apps.",
    "fixed_sidebar": True,
}
html_sidebars = {
    "**": ["about.html", "navigation.html", "relations.html", "searchbox.html"],
}
html_title = f"{project} {version}"
html_show_sourcelink = False
