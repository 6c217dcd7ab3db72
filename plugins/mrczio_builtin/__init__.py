"""mrczio's built-in plugins.

Each module here is registered through the ``mrczio`` entry-point group declared in
``pyproject.toml``, exactly like a third-party plugin; mrczio's core never imports this
package by name.
"""
