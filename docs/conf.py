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
    "sphinx.ext.viewcode",
]
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

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
