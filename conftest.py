"""Project-wide test configuration: pytester for the plugin's end-to-end tests."""

pytest_plugins = ["pytester"]
