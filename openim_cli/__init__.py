"""openim_cli package."""
