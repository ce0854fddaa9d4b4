"""The command line: the Typer app (`codesign.cli.app`), its renderers and the docker commands.
A thin client of the library: each command parses, calls one library function, renders."""

from codesign.cli.app import EXIT_USER_ERROR, app, main

__all__ = ["EXIT_USER_ERROR", "app", "main"]
