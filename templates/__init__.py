"""Presentation: the Jinja2 report templates and the server's page, shipped as the package `checkers.templates`."""
