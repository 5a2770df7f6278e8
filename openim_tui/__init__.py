"""openim_tui package."""
