"""Project-wide pytest set-up: the requirement-marker plugin (and pytester for its tests)."""

pytest_plugins = ["pipeline.design.pytest_verifies", "pytester"]
